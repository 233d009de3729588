"""Errors of the service, rendered as RFC 9457 problem details.

Hierarchy::

    MynagateError (500)
    ├── BadRequest (400)
    ├── Unauthorized (401)
    ├── Forbidden (403)
    ├── NotFound (404)
    ├── Conflict (409)
    ├── Unprocessable (422, only for payloads that are well-formed but unusable)
    └── TooManyRequests (429, with ``Retry-After``: overloaded, come back later)

Bodies over their route's limit answer 413 (``api.limits.BodyTooLarge``); any other
unhandled exception answers a 500 problem, never Starlette's text/plain page.

A denied door is a normal result, never an exception.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .limits import BodyTooLarge

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


class MynagateError(Exception):
    status = 500
    title = "Internal error"
    type = "about:blank"

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra


class BadRequest(MynagateError):
    status, title = 400, "Bad request"


class Unauthorized(MynagateError):
    status, title = 401, "Unauthorized"


class Forbidden(MynagateError):
    status, title = 403, "Forbidden"


class NotFound(MynagateError):
    status, title = 404, "Not found"


class Conflict(MynagateError):
    status, title = 409, "Conflict"


class Unprocessable(MynagateError):
    status, title = 422, "Unprocessable content"


class TooManyRequests(MynagateError):
    """Refused before doing any work; ``retry_after`` (seconds) becomes the header."""

    status, title = 429, "Too many requests"


def field_of(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as a field path: ``windows[2].end_minute``."""
    out = ""
    for p in (str(p) for p in loc if p not in ("body", "query", "path", "header")):
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out


def first_error(err: ValidationError, prefix: str = "") -> str:
    """The first error of a nested validation as one line: ``data.state: Input should be…``."""
    first = err.errors()[0]
    return f"{prefix}{field_of(tuple(first['loc']))}: {first['msg']}"


UNIQUE_VIOLATION = "23505"


def integrity_problem(exc: IntegrityError) -> tuple[int, str, str]:
    """(status, title, detail) of a constraint violation; the detail names the constraint,
    never the row's values (PostgreSQL's own DETAIL may carry them)."""
    diag = getattr(exc.orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None) or getattr(diag, "column_name", None)
    text = str(exc.orig)
    unique = getattr(exc.orig, "sqlstate", None) == UNIQUE_VIOLATION or "UNIQUE" in text
    what = constraint or text.split("constraint failed:", 1)[-1].strip()[:200] or "constraint"
    if unique:
        return 409, Conflict.title, f"already exists ({what})"
    return 422, Unprocessable.title, f"a value breaks a constraint of the stored data ({what})"


def problem(status: int, title: str, detail: str, instance: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail,
            "instance": instance, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if "retry_after" in extra:
        headers = {"Retry-After": str(extra["retry_after"])}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(MynagateError)
    async def _mynagate(request: Request, exc: MynagateError) -> JSONResponse:
        extra = dict(exc.extra)
        if exc.field:
            extra["field"] = exc.field
        return problem(exc.status, exc.title, exc.message, request.url.path, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": field_of(tuple(e.get("loc", ()))),
                   "message": str(e.get("msg", "invalid"))} for e in exc.errors()]
        first = errors[0] if errors else {"field": "", "message": "invalid request"}
        return problem(422, "Unprocessable content", f"{first['field']}: {first['message']}",
                       request.url.path, field=first["field"], errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), str(exc.detail), request.url.path)

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> JSONResponse:
        return problem(413, "Content too large", str(exc.detail), request.url.path,
                       max_bytes=exc.limit.max_bytes)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
        # A number or text the database column cannot hold (a route whose schema does not
        # bound it yet with ``api.bounded``): the client's value, so 422, not a 500.
        log.warning("value out of range on %s: %s", request.url.path, type(exc).__name__)
        return problem(422, "Unprocessable content",
                       "a value is out of range for what the service stores", request.url.path)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # A constraint the endpoint did not check first (or a concurrent request won the
        # race): a duplicate is 409, a missing referenced row or a null/check violation 422.
        status, title, detail = integrity_problem(exc)
        log.warning("constraint violation on %s: %s", request.url.path, detail)
        return problem(status, title, detail, request.url.path)

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> JSONResponse:
        # The row was deleted or changed by a concurrent request between read and write (the
        # domain should lock it first; this is the net under any route that does not yet).
        log.warning("stale row on %s %s", request.method, request.url.path)
        return problem(409, Conflict.title, "the row was changed or deleted by another request "
                       "meanwhile; reload and retry", request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette's ServerErrorMiddleware calls this for any unhandled error, then re-raises
        # it for the server's log: the client gets problem details, never a text/plain 500.
        log.error("unhandled error on %s %s: %s", request.method, request.url.path,
                  type(exc).__name__)
        return problem(500, "Internal error", "the service could not complete the request",
                       request.url.path)
