"""The FastAPI application factory."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from .db import Database
from .docs import install_docs
from .errors import install_handlers
from .keys import load_or_create_signing_key
from .limits import BodyLimitMiddleware
from .locks.poll_auth import LockKeyCache
from .locks.secrets import wrap_key
from .locks.settings import LockSettings
from .mail_delivery import app_delivery
from .metrics import install as install_metrics
from .routes import all_routers
from .settings import Settings, check_secrets, get_settings


def create_app(settings: Settings | None = None, *, db: Database | None = None,
               lock_settings: LockSettings | None = None) -> FastAPI:
    """The service; refuses to start (``InsecureSettings``) with a weak secret."""
    settings = settings or get_settings()
    lock_settings = lock_settings or LockSettings(data_dir=settings.data_dir)
    check_secrets(settings.env, {
        "MYNAGATE_BOOKING_WEBHOOK_SECRET":
            lock_settings.booking_webhook_secret.get_secret_value()})
    wrap_key(lock_settings)  # refuses a short key; creates the 0600 key file if missing
    app = FastAPI(title="mynagate", version="0.1.0",
                  description="Access control and attendance on the My Number Card",
                  docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.lock_settings = lock_settings
    app.state.lock_keys = LockKeyCache()
    app.state.deliver_outbox = app_delivery(app)
    app.state.db = db or Database(settings.database_url)
    app.state.signing_key = load_or_create_signing_key(settings.signing_key_path)
    app.add_middleware(BodyLimitMiddleware)
    install_handlers(app)
    install_docs(app)
    for router in all_routers():
        app.include_router(router)
    install_metrics(app)
    return app


def serving_app(settings: Settings | None = None) -> FastAPI:
    """The app of a serving process (``mynagate serve`` and each of its workers).

    Everything alive once the app is built (modules, routes, models, schemas) lives as long as
    the process: it goes into the collector's permanent generation, so the full collections
    that a request's many short-lived objects trigger no longer walk it every time. That walk
    was about a fifth of the service's CPU per ingested event (docs/performance.md). Not for
    tests: an app frozen there would never be collected."""
    app = create_app(settings)
    gc.collect()
    gc.freeze()
    return app
