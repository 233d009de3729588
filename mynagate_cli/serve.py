"""``mynagate serve``: migrate, then run the central service."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # the agent-only install has no FastAPI
    from fastapi import FastAPI

    from api.settings import Settings

app = typer.Typer()


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
    migrate: bool = typer.Option(True, help="run alembic upgrade heads first"),
    workers: int = typer.Option(1, min=1, max=64,
                                help="uvicorn worker processes (docs/deploy-service.md)"),
) -> None:
    """Run the central service (FastAPI under uvicorn)."""
    from api.locks.secrets import wrap_key
    from api.locks.settings import LockSettings
    from api.migrate import upgrade
    from api.service_lock import ServingLock, code_version
    from api.settings import get_settings
    from mynagate_cli.db import refuse_under_other_version
    from mynagate_cli.service_config import (
        database_url,
        open_database,
        require_data_dir,
        signing_key_file,
    )

    settings = get_settings()
    url = database_url(None, settings)
    data_dir = require_data_dir(settings, create=True)
    key_file = signing_key_file(settings, data_dir)  # made once here, before any worker
    settings = settings.model_copy(update={"signing_key_file": key_file})
    # The PIN wrap key too: two workers creating it at once would read a half-written file.
    wrap_key(LockSettings(data_dir=data_dir))
    version = code_version()
    if migrate:
        refuse_under_other_version(url, version)  # as `db upgrade`
        upgrade(url)
    else:
        open_database(url).dispose()
    lock = ServingLock.hold(url, version)  # `db upgrade` of another version waits for us
    try:
        _run(settings, host, port, workers)
    finally:
        lock.release()


def _run(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    from api.app import serving_app
    from api.logging_config import configure_logging

    configure_logging()  # JSON lines; uvicorn's own loggers propagate to it (log_config=None)
    if workers == 1:
        uvicorn.run(serving_app(settings), host=host, port=port, log_level="info",
                    log_config=None)
        return
    # Worker processes are spawned and build their own app from the environment: hand them
    # the key file resolved here so none of them makes a second one.
    os.environ["MYNAGATE_SIGNING_KEY_FILE"] = str(settings.signing_key_path)
    uvicorn.run("mynagate_cli.serve:worker_app", factory=True, host=host, port=port,
                workers=workers, log_level="info", log_config=None)


def worker_app() -> FastAPI:
    """The app of one uvicorn worker process (``serve --workers N``)."""
    from api.app import serving_app
    from api.logging_config import configure_logging

    configure_logging()
    return serving_app()
