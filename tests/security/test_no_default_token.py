"""Low finding of issue 9: the service ran as development when ``MYNAGATE_ENV`` was unset and
then accepted ``dev-admin-token``. The environment now defaults to production
(tests/security/test_secrets.py), and no published token opens an admin route in any
environment: API tokens are per user, made by ``mynagate users``."""

from __future__ import annotations

import pytest

from api.settings import PLACEHOLDER_SECRETS


@pytest.mark.parametrize("token", sorted(PLACEHOLDER_SECRETS))
def test_no_published_token_opens_an_admin_route(client, token: str):
    r = client.get("/admin/staff", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"


def test_a_real_token_does(admin):
    assert admin.get("/admin/staff").status_code == 200
