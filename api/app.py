"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from .db import Database
from .errors import install_handlers
from .keys import load_or_create_signing_key
from .metrics import install as install_metrics
from .routes import all_routers
from .settings import Settings, get_settings


def create_app(settings: Settings | None = None, *, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="mynagate", version="0.1.0",
                  description="Access control and attendance on the My Number Card")
    app.state.settings = settings
    app.state.db = db or Database(settings.database_url)
    app.state.signing_key = load_or_create_signing_key(settings.signing_key_file)
    install_handlers(app)
    for router in all_routers():
        app.include_router(router)
    install_metrics(app)
    return app
