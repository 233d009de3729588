"""Request body limits, enforced while the body is read (docs/security.md lists them).

``BodyLimitMiddleware`` answers 413 problem details at once when ``Content-Length`` announces
more than the route allows, and otherwise counts the bytes of the receive stream and stops
the request with 413 as soon as the count passes the limit: a hostile body is never read in
full, whatever the endpoint does with it. The body the endpoint gets is therefore at most the
limit of its route.

A body whose ``Content-Length`` is over the limit but at most ``DRAIN_BYTES`` is read and
dropped (for at most ``DRAIN_S``) before the 413 goes out. Closing a connection with unread
bytes makes the kernel reset it, and the reset can destroy the answer before a reverse proxy
reads it: nginx, which always sends a length, then answered 502 instead of the 413. Behind
nginx every body is at most its ``client_max_body_size``, so only a direct client sends more,
and that, like a chunked body past the limit, is refused unread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

KIB = 1024
MIB = 1024 * KIB
M = TypeVar("M", bound=BaseModel)
STAFF_IMPORT_BYTES = 2 * MIB  # a town's roster is far smaller
DRAIN_BYTES = 1 * MIB  # above nginx's 256 KiB default and 512 KiB lock-sync limit
DRAIN_S = 5.0  # a client that announces a body and never sends it gets its 413 anyway


@dataclass(frozen=True)
class BodyLimit:
    pattern: re.Pattern[str]
    max_bytes: int
    what: str


def _limit(pattern: str, max_bytes: int, what: str) -> BodyLimit:
    return BodyLimit(re.compile(pattern), max_bytes, what)


# First match wins. Sizes leave room for the largest legitimate body (MAX_BATCH events of the
# device API, a month's booking CSV) and no more.
BODY_LIMITS: tuple[BodyLimit, ...] = (
    _limit(r"^/device/v1/events$", 4 * MIB, "a batch of at most 1000 device events"),
    _limit(r"^/device/v1/(enroll|heartbeat|decide)$", 4 * KIB, "a device request"),
    _limit(r"^/api/v1/locks/[^/]+/poll$", 16 * KIB, "an online lock's poll"),
    _limit(r"^/api/v1/locks/[^/]+/sync$", 512 * KIB, "a key box's log upload"),
    _limit(r"^/api/v1/bookings/webhook$", 64 * KIB, "a booking-system webhook"),
    _limit(r"^/api/v1/bookings/import$", 10 * MIB, "a booking CSV import"),
    _limit(r"^/admin/overtime/orders/import$", 10 * MIB, "an overtime order CSV import"),
    _limit(r"^/admin/attendance/leave/import$", 10 * MIB, "a leave CSV import"),
    _limit(r"^/console/staff-admin/import$", STAFF_IMPORT_BYTES, "a staff CSV import"),
    _limit(r"^/admin/enrollments(/.*)?$", 64 * KIB, "a card enrollment step"),
    _limit(r".*", 256 * KIB, "an admin or API request"),
)


def limit_for(path: str) -> BodyLimit:
    return next(rule for rule in BODY_LIMITS if rule.pattern.match(path))


class BodyTooLarge(HTTPException):
    """413: rendered as problem details by ``api.errors``. FastAPI's own HTTPException, so
    FastAPI's body reader passes it on instead of turning it into a 400."""

    def __init__(self, limit: BodyLimit) -> None:
        super().__init__(413, f"the body of {limit.what} is limited to {limit.max_bytes} bytes")
        self.limit = limit


def _problem_413(limit: BodyLimit, path: str) -> tuple[Message, Message]:
    body = json.dumps({"type": "about:blank", "title": "Content too large", "status": 413,
                       "detail": f"the body of {limit.what} is limited to {limit.max_bytes} "
                                 "bytes", "instance": path, "max_bytes": limit.max_bytes})
    raw = body.encode()
    start: Message = {"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(raw)).encode()), (b"connection", b"close")]}
    return start, {"type": "http.response.body", "body": raw}


class BodyLimitMiddleware:
    """Pure ASGI middleware: per-route body limits, checked before and while reading."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit.max_bytes):
            if declared.isdigit() and int(declared) <= DRAIN_BYTES:
                await _drain(receive)
            for message in _problem_413(limit, scope["path"]):
                await send(message)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.max_bytes:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counting_receive, send)


async def _drain(receive: Receive) -> None:
    """Read and drop a refused body of a known length, for at most ``DRAIN_S``."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_S):
            while True:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return


async def raw_body(request: Request) -> bytes:
    """The request body as received (FastAPI has usually read and cached it already).

    The one ``async`` step of a body-reading endpoint: the endpoint itself stays a plain
    ``def`` (thread pool, never blocking the event loop) and gets the bytes, at most its
    route's limit."""
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]


def parse_json_body(model: type[M], body: bytes) -> tuple[M, Any]:
    """Parse and validate a JSON body read with ``RawBody``, in the endpoint's thread (so after
    its authentication and off the event loop): the model and the plain JSON value, or 422
    problem details exactly like FastAPI's own body validation."""
    try:
        data = json.loads(body)
    except ValueError as err:
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body",),
                                       "msg": f"JSON decode error: {err}", "input": {}}]) from err
    try:
        return model.model_validate(data), data
    except ValidationError as err:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])}
                                      for e in err.errors(include_url=False)]) from err


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def json_body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON body that ``parse_json_body`` reads (the schema
    inlined, since FastAPI does not list the model itself)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": _inline(schema, defs)}}}}
