"""``mynagate users create-admin`` and ``mynagate audit verify`` against the test database."""

from __future__ import annotations

import re

import pyotp
from sqlalchemy import select
from typer.testing import CliRunner

from api.models import User
from api.models.base import utcnow
from api.users import service
from mynagate_cli import app


def test_create_admin_prints_the_totp_secret_once_and_the_admin_can_log_in(db_url, database):
    runner = CliRunner()
    r = runner.invoke(app, ["users", "create-admin", "--username", "it-admin", "--url", db_url],
                      env={"MYNAGATE_ADMIN_PASSWORD": "a long pass phrase"})
    assert r.exit_code == 0, r.output
    secret = re.search(r"TOTP シークレット \(shown once\): ([A-Z2-7]+)", r.output).group(1)
    assert "otpauth://totp/mynagate:it-admin?secret=" + secret in r.output
    with database.session() as s:
        user = s.execute(select(User).where(User.username == "it-admin")).scalar_one()
        assert user.role == "admin" and user.password_hash.startswith("$argon2id$")
        now = utcnow()
        ok = service.login(s, username="it-admin", password="a long pass phrase",
                           totp=pyotp.TOTP(secret).at(now), now=now, client="t")
        assert ok.failure is None
    again = runner.invoke(app, ["users", "create-admin", "--username", "it-admin", "--url",
                                db_url], env={"MYNAGATE_ADMIN_PASSWORD": "a long pass phrase"})
    assert again.exit_code == 1 and "exists" in again.output
    short = runner.invoke(app, ["users", "create-admin", "--username", "b", "--url", db_url],
                          env={"MYNAGATE_ADMIN_PASSWORD": "short"})
    assert short.exit_code == 1
