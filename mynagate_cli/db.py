"""``mynagate db``: migrate the service's database."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Database migrations")


@app.command()
def upgrade(url: str = typer.Option(None, help="database URL (default: MYNAGATE_DATABASE_URL)")) -> None:
    """Create or migrate the database to the newest schema (alembic upgrade heads)."""
    from api.migrate import upgrade as run_upgrade
    from api.settings import get_settings
    from mynagate_cli.service_config import database_url

    target = database_url(url, get_settings())
    run_upgrade(target)
    typer.echo("データベースは最新のスキーマです / the database is at the newest schema")
