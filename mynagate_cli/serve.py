"""``mynagate serve``: migrate, then run the central service."""

from __future__ import annotations

import typer

app = typer.Typer()


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
    migrate: bool = typer.Option(True, help="run alembic upgrade heads first"),
) -> None:
    """Run the central service (FastAPI under uvicorn)."""
    import uvicorn

    from api.app import create_app
    from api.logging_config import configure_logging
    from api.migrate import upgrade
    from api.settings import get_settings
    from mynagate_cli.service_config import (
        database_url,
        open_database,
        require_data_dir,
        signing_key_file,
    )

    settings = get_settings()
    url = database_url(None, settings)
    data_dir = require_data_dir(settings, create=True)
    settings = settings.model_copy(update={"signing_key_file": signing_key_file(settings,
                                                                                data_dir)})
    if migrate:
        upgrade(url)
    else:
        open_database(url).dispose()
    configure_logging()  # JSON lines; uvicorn's own loggers propagate to it (log_config=None)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", log_config=None)
