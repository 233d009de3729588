"""Plumbing shared by the admin REST API: 409s for lost races, paging and JSON views for the audit log (the acting admin is ``api.users.auth.AdminDep``).

Paging: list endpoints take ``limit`` (1–500) and either ``offset`` (answer ``{items, total}``)
or, for the append-only logs (events, audit), an opaque keyset ``cursor`` (answer
``{items, next_cursor}``; ``next_cursor`` is null on the last page).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Coroutine
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy import Select, func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.bounded import INT64_MAX
from api.errors import BadRequest, Conflict

T = TypeVar("T")
MAX_LIMIT = 500
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size (≤500)")]
OffsetQuery = Annotated[int, Query(ge=0, le=INT64_MAX, description="rows to skip")]
CursorQuery = Annotated[str | None, Query(max_length=400, description="next_cursor of the "
                                                                       "previous page")]


def integrity_field(err: IntegrityError) -> str:
    """The column a unique/foreign-key violation is about, as well as the driver tells it."""
    diag = getattr(err.orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None) or ""
    table = getattr(diag, "table_name", None) or ""
    if constraint.startswith(f"uq_{table}_") and table:
        return constraint[len(f"uq_{table}_"):]
    if constraint.startswith("fk_") and table:
        return constraint[len(f"fk_{table}_"):].split("_")[0] + "_id"
    text = str(err.orig)
    if "constraint failed:" in text:  # SQLite: "UNIQUE constraint failed: staff.staff_number"
        return text.split("constraint failed:", 1)[1].split(",")[0].strip().split(".")[-1]
    return "id"


class AdminRoute(APIRoute):
    """An APIRoute on which a constraint violation the service checks could not see (a
    concurrent request won the race) answers 409 naming the field, never 500. Invalid payloads
    get 422 problem details naming the ``field`` from the shared handler in ``api.errors``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except IntegrityError as exc:
                field = integrity_field(exc)
                raise Conflict(f"{field}: conflicts with a change made at the same time; "
                               "reload and retry", field=field) from exc

        return route_handler


class OffsetPage(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class CursorPage(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None
    limit: int


def encode_cursor(values: dict[str, Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The values of an opaque cursor, or 400 naming ``cursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise BadRequest("cursor is not a cursor this API issued", field="cursor") from err
    if not isinstance(values, dict):
        raise BadRequest("cursor is not a cursor this API issued", field="cursor")
    return values


def json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def row_view(obj: Any, *, exclude: tuple[str, ...] = ("created_at", "updated_at")
             ) -> dict[str, Any]:
    """A JSON-safe dict of an ORM row's columns (for the audit log's before/after)."""
    mapper = inspect(obj).mapper
    return {c.key: json_value(getattr(obj, c.key)) for c in mapper.column_attrs
            if c.key not in exclude}


def paginate(session: Session, stmt: Select[Any], *, limit: int, offset: int,
             scalars: bool = True) -> tuple[list[Any], int]:
    """Repository helper: one page of ``stmt`` (already ordered) and the total row count."""
    total = session.execute(select(func.count()).select_from(
        stmt.order_by(None).options().subquery())).scalar_one()
    result = session.execute(stmt.limit(limit).offset(offset))
    rows = list(result.scalars()) if scalars else [tuple(r) for r in result]
    return rows, int(total)
