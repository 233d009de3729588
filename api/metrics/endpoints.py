"""``GET /metrics``: the Prometheus text format, behind its own bearer token."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from api.errors import Forbidden, Unauthorized

from .middleware import REQUEST_SECONDS

router = APIRouter(tags=["monitoring"])


def _check_token(request: Request) -> None:
    settings = request.app.state.metrics_settings
    env = request.app.state.settings.env
    problem = settings.token_problem(env)
    if problem is not None:
        raise Forbidden(f"/metrics is closed: MYNAGATE_METRICS_TOKEN {problem}",
                        setting="MYNAGATE_METRICS_TOKEN")
    expected = settings.metrics_token.get_secret_value()
    if not expected:
        return  # development without a token
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized("a valid metrics bearer token is required")


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Every metric, read now (a sync route: the database read runs in the thread pool)."""
    _check_token(request)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(REQUEST_SECONDS)
    registry.register(request.app.state.metrics_collector)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
