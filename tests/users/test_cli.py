"""``mynagate users create-admin`` and ``mynagate audit verify`` against the test database."""

from __future__ import annotations

import re

import pyotp
from sqlalchemy import select
from typer.testing import CliRunner

from api.models import ApiToken, User
from api.users import service
from mynagate_cli import app


def test_create_admin_prints_the_totp_secret_once_and_the_admin_can_log_in(db_url, database,
                                                                         now):
    runner = CliRunner()
    r = runner.invoke(app, ["users", "create-admin", "--username", "it-admin", "--url", db_url],
                      env={"MYNAGATE_ADMIN_PASSWORD": "a long pass phrase"})
    assert r.exit_code == 0, r.output
    secret = re.search(r"TOTP シークレット \(shown once\): ([A-Z2-7]+)", r.output).group(1)
    assert "otpauth://totp/mynagate:it-admin?secret=" + secret in r.output
    with database.session() as s:
        user = s.execute(select(User).where(User.username == "it-admin")).scalar_one()
        assert user.role == "admin" and user.password_hash.startswith("$argon2id$")
        ok = service.login(s, username="it-admin", password="a long pass phrase",
                           totp=pyotp.TOTP(secret).at(now), now=now, client="t")
        assert ok.failure is None
    again = runner.invoke(app, ["users", "create-admin", "--username", "it-admin", "--url",
                                db_url], env={"MYNAGATE_ADMIN_PASSWORD": "a long pass phrase"})
    assert again.exit_code == 1 and "exists" in again.output
    short = runner.invoke(app, ["users", "create-admin", "--username", "b", "--url", db_url],
                          env={"MYNAGATE_ADMIN_PASSWORD": "short"})
    assert short.exit_code == 1



def test_create_token_acts_as_the_user_and_is_printed_once(db_url, database, client):
    runner = CliRunner()
    made = runner.invoke(app, ["users", "create-admin", "--username", "it-admin", "--url",
                               db_url], env={"MYNAGATE_ADMIN_PASSWORD": "a long pass phrase"})
    assert made.exit_code == 0, made.output
    r = runner.invoke(app, ["users", "create-token", "--username", "it-admin", "--name",
                            "it-setup", "--url", db_url])
    assert r.exit_code == 0, r.output
    token = re.search(r"API トークン \(shown once\): (mng_\S+)", r.output).group(1)
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["username"] == "it-admin" and me["role"] == "admin"
    with database.session() as s:
        assert token not in str(s.execute(select(ApiToken.token_hash)).scalars().all())
    unknown = runner.invoke(app, ["users", "create-token", "--username", "nobody", "--name",
                                  "x", "--url", db_url])
    assert unknown.exit_code == 1 and "no such user" in unknown.output
