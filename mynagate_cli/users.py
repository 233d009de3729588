"""``mynagate users``: make the first admin (the console and the API manage the rest)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import typer

app = typer.Typer(no_args_is_help=True, help="Users of the console and the API")
PASSWORD_ENV = "MYNAGATE_ADMIN_PASSWORD"
MIN_PASSWORD = 12


def _password() -> str:
    password = os.environ.get(PASSWORD_ENV) or typer.prompt(
        "パスワード (password)", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        typer.echo(f"パスワードは {MIN_PASSWORD} 文字以上にしてください "
                   f"(the password needs at least {MIN_PASSWORD} characters)", err=True)
        raise typer.Exit(1)
    return password


@app.command("create-admin")
def create_admin(username: str = typer.Option("admin", help="login name"),
                 url: str = typer.Option(None, help="database URL (default: "
                                                    "MYNAGATE_DATABASE_URL)")) -> None:
    """Make an admin user. The password comes from MYNAGATE_ADMIN_PASSWORD or a prompt; the
    TOTP secret is printed once, with an otpauth:// URI for an authenticator app."""
    from api.db import Database
    from api.errors import MynagateError
    from api.settings import get_settings
    from api.users import service
    from api.users.roles import Role
    from api.users.secrets import totp_uri

    password = _password()
    db = Database(url or get_settings().database_url)
    try:
        with db.session() as s:
            new = service.create_user(s, username=username, role=Role.ADMIN, actor="cli",
                                      now=datetime.now(UTC), password=password)
            s.commit()
    except MynagateError as err:
        typer.echo(f"作成できません (cannot create): {err.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    assert new.totp_secret is not None  # admins always get one
    typer.echo(f"管理者 {username} を作成しました (admin created)")
    typer.echo(f"TOTP シークレット (shown once): {new.totp_secret}")
    typer.echo(f"otpauth URI: {totp_uri(new.totp_secret, username)}")
