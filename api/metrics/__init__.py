"""Observability of the service: ``/metrics`` for Prometheus and per-request log context.

``install(app)`` adds the request middleware (request id, device id, latency) and the
``/metrics`` route. Business metrics are read from the database at scrape time, so every
worker process answers the same; request latency is counted per process.
"""

from __future__ import annotations

from fastapi import FastAPI

from .collector import DatabaseCollector
from .endpoints import router
from .middleware import RequestObservation
from .settings import MetricsSettings

__all__ = ["install"]


def install(app: FastAPI, settings: MetricsSettings | None = None) -> None:
    app.state.metrics_settings = settings or MetricsSettings()
    app.state.metrics_collector = DatabaseCollector(app.state.db, app.state.metrics_settings)
    app.add_middleware(RequestObservation)
    app.include_router(router)
