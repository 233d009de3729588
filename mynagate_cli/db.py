"""``mynagate db``: migrate the service's database."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Database migrations")


@app.command()
def upgrade(url: str = typer.Option(None, help="database URL (default: MYNAGATE_DATABASE_URL)")) -> None:
    """Migrate the database to the newest schema (alembic upgrade heads)."""
    from api.migrate import upgrade as run_upgrade
    from api.settings import get_settings

    run_upgrade(url or get_settings().database_url)
    typer.echo("database is at the newest schema")
