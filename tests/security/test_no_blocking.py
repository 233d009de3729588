"""Finding 2 of issue 9, checked over every route: no endpoint or dependency runs on the event
loop unless it is listed here as truly async (it awaits, and does no database work or parsing
of a large body); a forged webhook or an unsigned device batch is refused before any database
statement. The leave import was an ``async def`` doing its database work on the loop until
this walk listed it."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.dependencies.models import Dependant
from sqlalchemy import event

from api.bookings.service import webhook_signature
from tests.test_session_scope import _api_routes

# Each awaits and touches neither the database nor a large body.
ASYNC_ENDPOINTS = {
    "api.health.healthz",  # its query runs on its own threads
    "api.device_protocol.endpoints.snapshot_wait",  # awaits the snapshot watcher
    "api.console.ops.event_stream",  # the console's SSE feed: its reads run in worker threads
}
ASYNC_DEPENDENCIES = {
    "api.users.auth.submitted_csrf",  # reads a urlencoded form, bounded by the route limit
    "api.limits.raw_body",  # reads the bounded body
    "api.csv_import.spooled_body",  # streams an import into a spooled file
    "api.events.admission.ingest_slot",  # counts batches in flight
}


@contextmanager
def _statements(database) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    """The statements run meanwhile, but for the mail sender's own thread (it polls the
    outbox on its own schedule)."""
    seen: list[str] = []

    def _count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if threading.current_thread().name != "mail-sender":
            seen.append(statement)

    event.listen(database.engine, "before_cursor_execute", _count)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", _count)


def _name(call: Callable[..., Any]) -> str:
    return f"{call.__module__}.{call.__qualname__}"


def _is_async(call: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)


def _dependencies(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dep in dependant.dependencies:
        if dep.call is not None:
            yield dep.call
        yield from _dependencies(dep)


def test_every_async_endpoint_and_dependency_is_a_listed_one(app):
    routes = _api_routes(app.routes)
    assert len(routes) > 100  # the walk sees the whole service
    endpoints = {_name(r.endpoint) for r in routes if _is_async(r.endpoint)}
    assert endpoints <= ASYNC_ENDPOINTS, endpoints - ASYNC_ENDPOINTS
    dependencies = {_name(call) for r in routes for call in _dependencies(r.dependant)
                    if _is_async(call)}
    assert dependencies <= ASYNC_DEPENDENCIES, dependencies - ASYNC_DEPENDENCIES


def test_the_walk_catches_an_async_endpoint(app):
    async def blocking() -> None: ...

    app.add_api_route("/admin/blocking", blocking, methods=["POST"])
    [route] = [r for r in _api_routes(app.routes) if r.path == "/admin/blocking"]
    assert _is_async(route.endpoint) and _name(route.endpoint) not in ASYNC_ENDPOINTS


def test_a_forged_webhook_never_reaches_the_database(client, database, wall_clock):
    body = b'{"event": "booking.paid", "external_ref": "R-1"}'
    ts = str(int(wall_clock().timestamp()))
    forged = {"X-Mynagate-Timestamp": ts,
              "X-Mynagate-Signature": webhook_signature("x" * 32, ts, body)}
    assert client.get("/healthz").status_code == 200  # startup's own queries are done
    with _statements(database) as seen:
        for headers in (forged, {}, {"X-Mynagate-Timestamp": "1"}):
            r = client.post("/api/v1/bookings/webhook", content=body, headers=headers)
            assert r.status_code == 401, r.text
    assert seen == []


def test_an_unsigned_device_batch_never_reaches_the_database(client, database):
    assert client.get("/healthz").status_code == 200  # startup's own queries are done
    with _statements(database) as seen:
        r = client.post("/device/v1/events", content=b'{"events": []}',
                        headers={"content-type": "application/json"})
        assert r.status_code == 401, r.text
    assert seen == []
