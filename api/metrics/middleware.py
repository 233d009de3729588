"""Per-request context: a request id (the client's ``X-Request-ID`` if sane, else a new one),
the device id of signed device requests, the latency histogram and one access log line."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import structlog
from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("api.access")

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
DEVICE_ID_RE = re.compile(r"^[0-9a-fA-F-]{32,36}$")
UNMATCHED = "unmatched"

# One per process; every app registers it in its own registry.
REQUEST_SECONDS = Histogram(
    "mynagate_http_request_duration_seconds", "Time to answer an HTTP request",
    ["method", "route", "status"], registry=None,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _ids(scope: Scope) -> dict[str, str]:
    given = _header(scope, b"x-request-id")
    ids = {"request_id": given if given and REQUEST_ID_RE.match(given) else uuid.uuid4().hex}
    device = _header(scope, b"x-mynagate-device")
    if device and DEVICE_ID_RE.match(device):
        ids["device_id"] = device
    return ids


def route_of(scope: Scope) -> str:
    """The route's template (``/admin/devices/{device_id}``): bounded label values."""
    route: Any = scope.get("route")
    return str(getattr(route, "path", UNMATCHED))


class RequestObservation:
    """Pure ASGI middleware (context variables reach the endpoint, streaming is untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ids = _ids(scope)
        status = {"code": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      (b"x-request-id", ids["request_id"].encode())]
            await send(message)

        start = time.perf_counter()
        with structlog.contextvars.bound_contextvars(**ids):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - start
                route = route_of(scope)
                REQUEST_SECONDS.labels(scope["method"], route, str(status["code"])).observe(
                    elapsed)
                log.info("http.request", extra={"method": scope["method"], "route": route,
                                                "status": status["code"],
                                                "duration_ms": round(elapsed * 1000, 1)})
