"""``mynagate db``: migrate the service's database."""

from __future__ import annotations

import logging

import typer

app = typer.Typer(no_args_is_help=True, help="Database migrations")
MIGRATION_LOGGER = "alembic.runtime.migration"  # logs "Running upgrade A -> B, …" per revision


class _Progress(logging.Handler):
    """Echo each revision Alembic applies, as it starts."""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Running upgrade"):
            typer.echo(f"適用中 / applying: {message.removeprefix('Running upgrade ')}")


def refuse_under_other_version(url: str, version: str) -> None:
    """Exit 1, naming them, if services of another version are serving ``url``."""
    from api.service_lock import OtherVersionServing, check_no_other_version

    try:
        check_no_other_version(url, version)
    except OtherVersionServing as err:
        typer.echo("別のバージョンのサービスが稼働中です。先に停止してください / a service of "
                   f"another version is serving this database; stop it first: "
                   f"{'; '.join(err.holders)} (docs/upgrade.md)", err=True)
        raise typer.Exit(1) from err


@app.command()
def upgrade(url: str = typer.Option(None, help="database URL (default: MYNAGATE_DATABASE_URL)")) -> None:
    """Create or migrate the database to the newest schema (alembic upgrade heads).

    Refused while a service of another version is serving this database (PostgreSQL)."""
    from api.migrate import upgrade as run_upgrade
    from api.service_lock import code_version
    from api.settings import get_settings
    from mynagate_cli.service_config import database_url

    target = database_url(url, get_settings())
    refuse_under_other_version(target, code_version())
    logger = logging.getLogger(MIGRATION_LOGGER)
    handler = _Progress()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        run_upgrade(target)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    typer.echo("データベースは最新のスキーマです / the database is at the newest schema")
