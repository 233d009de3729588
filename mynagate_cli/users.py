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
    from api.errors import MynagateError
    from api.settings import get_settings
    from api.users import service
    from api.users.roles import Role
    from api.users.secrets import totp_uri
    from mynagate_cli.service_config import database_url, open_database

    db = open_database(database_url(url, get_settings()))  # before asking for the password
    password = _password()
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


@app.command("create-token")
def create_token(username: str = typer.Option("admin", help="the user the token acts as"),
                 name: str = typer.Option(..., help="what the token is for, e.g. it-setup"),
                 url: str = typer.Option(None, help="database URL (default: "
                                                    "MYNAGATE_DATABASE_URL)")) -> None:
    """Make an API token acting as an existing user, in that user's role, for the commands
    that call the service (``mynagate card enroll``, creating readers) and for integrations.
    The token is printed once; only its hash is kept."""
    from api.errors import MynagateError
    from api.settings import get_settings
    from api.users import repository, service
    from api.users.roles import Role
    from mynagate_cli.service_config import database_url, open_database

    db = open_database(database_url(url, get_settings()))
    try:
        with db.session() as s:
            user = repository.user_by_name(s, username)
            if user is None:
                typer.echo(f"利用者 {username} がいません (no such user)", err=True)
                raise typer.Exit(1)
            _, token = service.create_token(s, name=name, role=Role(user.role), user_id=user.id,
                                            actor="cli", now=datetime.now(UTC))
            s.commit()
    except MynagateError as err:
        typer.echo(f"作成できません (cannot create): {err.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    typer.echo(f"API トークン (shown once): {token}")
