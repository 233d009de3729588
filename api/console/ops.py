"""Operations pages of the console: the dashboard's live event feed (Server-Sent Events), taps
per hour per door, and the locks page (battery with predicted days left and its trend, last
sync, drift, pending revocations, and remote unlock with a reason through the locks service)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.attendance.config import rule_config
from api.bounded import Id
from api.db import Database, SessionDep
from api.errors import BadRequest
from api.facilities import repository as facility_repo
from api.limits import RawBody
from api.locks import repository as lock_repo
from api.locks import service as locks
from api.locks.schemas import EmergencyRequest
from api.locks.settings import lock_settings_of
from api.models import Event
from api.models.base import utcnow
from api.users.auth import CSRF_COOKIE
from api.users.roles import Role, allowed

from . import labels, queries
from .chart import battery_trend, taps_chart
from .deps import ConsoleIdentity, ConsoleUser
from .pages import ConsoleRoute, DayQuery, form_fields
from .rendering import jst, language, reason_label, render, translations

router = APIRouter(prefix="/console", tags=["console"], route_class=ConsoleRoute,
                   include_in_schema=False)

STREAM_PATH = "/console/stream/events"
POLL_S = 1.0  # how often a stream looks for new events
KEEPALIVE_S = 10.0  # a comment line at least this often keeps proxies from closing it
RETRY_MS = 3000  # the browser reconnects this long after a stream ends
# The feed carries events received while it is open that happened in the last hour (older
# ones delivered late by an offline reader are on the events page, not "live").
LIVE_WINDOW = timedelta(hours=1)
# An event's received_at is stamped before its transaction commits: look back this far and
# skip what was already sent, so a slow commit is not missed.
COMMIT_LAG = timedelta(seconds=10)
BATCH = 100
StreamSeconds = Annotated[int, Query(ge=1, le=60)]


@dataclass(frozen=True)
class Cursor:
    """Where a stream stands: events received from ``since`` on, minus those already sent."""

    since: datetime
    sent: frozenset[uuid.UUID] = frozenset()


Fresh = list[tuple[Event, queries.EventRow]]


def _fresh(db: Database, cursor: Cursor, now: datetime) -> tuple[Fresh, Cursor]:
    """New events since the cursor (in a worker thread: a blocking database read)."""
    with db.session() as session:
        found = list(session.execute(
            select(Event).where(Event.occurred_at >= now - LIVE_WINDOW,
                                Event.received_at >= cursor.since - COMMIT_LAG,
                                Event.received_at <= now)
            .order_by(Event.received_at, Event.id).limit(BATCH)).scalars())
        new = [e for e in found if e.id not in cursor.sent]
        rows = queries.event_rows(session, new)
    since = max([cursor.since, *(e.received_at for e in new)])
    keep = {e.id for e in found if e.received_at >= since - COMMIT_LAG}
    return list(zip(new, rows, strict=True)), Cursor(since, frozenset(keep))


def event_message(event: Event, row: queries.EventRow, lang: str) -> str:
    """One SSE message: an event as the dashboard's table shows it (JST, 職員番号, name,
    door name, translated result); its id is its receipt time, to resume from."""
    _ = translations(lang).gettext
    result = "" if row.granted is None else _("Granted") if row.granted else _("Denied")
    detail_table = {"alarm": labels.ALARMS, "door_state": labels.DOOR_STATES,
                    "clock_punch": labels.PUNCHES}.get(row.kind)
    detail = _(labels.label(detail_table, row.detail)) if detail_table and row.detail else ""
    data = {"id": row.id, "at": jst(row.at), "kind": _(labels.label(labels.EVENT_KINDS, row.kind)),
            "number": row.person.number if row.person else "",
            "name": row.person.name if row.person else "", "door": row.door or row.device,
            "result": " ".join(p for p in (result, detail, reason_label(row.reason, lang)) if p),
            "alarm": row.kind == "alarm"}
    return (f"id: {event.received_at.isoformat()}\nevent: event\n"
            f"data: {json.dumps(data, ensure_ascii=False)}\n\n")


def _start(since: datetime | None, last_id: str | None, now: datetime) -> datetime:
    """Where a stream starts: the browser's Last-Event-ID on a reconnect, else the page's
    render time, else now; never before the live window."""
    at = since
    if last_id:
        try:
            at = datetime.fromisoformat(last_id)
        except ValueError:
            at = None
    if at is None or at.tzinfo is None or at > now:
        return now
    return max(at, now - LIVE_WINDOW)


async def _stream(request: Request, start: datetime, seconds: int,
                  lang: str) -> AsyncIterator[str]:
    """The feed: new events as they arrive, a keepalive comment, and an end after
    ``seconds`` (the browser reconnects with Last-Event-ID); database reads in a thread."""
    db: Database = request.app.state.db
    cursor = Cursor(start)
    yield f"retry: {RETRY_MS}\n: connected\n\n"
    beat = time.monotonic()
    end = beat + seconds
    while (left := end - time.monotonic()) > 0:
        if await request.is_disconnected():
            return
        found, cursor = await anyio.to_thread.run_sync(_fresh, db, cursor, utcnow())
        for event, row in found:
            yield event_message(event, row, lang)
        if time.monotonic() - beat >= KEEPALIVE_S:
            beat = time.monotonic()
            yield ": keepalive\n\n"
        await anyio.sleep(min(POLL_S, max(left, 0)))
    yield "event: end\ndata: {}\n\n"


@router.get("/stream/events")
async def event_stream(request: Request, user: ConsoleUser, seconds: StreamSeconds = 30,
                       since: Annotated[datetime | None, Query()] = None,
                       last_event_id: Annotated[str | None, Header(max_length=40)] = None
                       ) -> Response:
    """The dashboard's live events (text/event-stream), for ``seconds`` at most."""
    start = _start(since, last_event_id, utcnow())
    return StreamingResponse(_stream(request, start, seconds, language(request)),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


# -- taps per hour per door ------------------------------------------------------------------
def tap_counts(session: Session, day: date) -> dict[str, list[int]]:
    """Door name → taps in each hour of the business day ``day``."""
    bday = rule_config().business_day
    start, end = bday.start(day), bday.end(day)
    names = queries.door_names(session)
    counts = {name: [0] * 24 for name in names.values()}
    rows = session.execute(select(Event.door_id, Event.occurred_at).where(
        Event.kind == "tap", Event.door_id.is_not(None), Event.occurred_at >= start,
        Event.occurred_at < end))
    for door_id, at in rows:
        hour = int((at - start).total_seconds() // 3600)
        if door_id in names and 0 <= hour < 24:
            counts[names[door_id]][hour] += 1
    return counts


@router.get("/taps")
def taps_page(request: Request, session: SessionDep, user: ConsoleUser,
              day: DayQuery = None) -> Response:
    """Taps per hour per door on one business day (server-rendered SVG and a table)."""
    bday = rule_config().business_day
    day = day or bday.date_of(utcnow())
    first_hour = int(jst(bday.start(day), "%H"))
    return render(request, "taps.html", user=user, day=day,
                  chart=taps_chart(tap_counts(session, day), first_hour))


# -- locks -----------------------------------------------------------------------------------
def _may_unlock(user: ConsoleIdentity) -> bool:
    return allowed(Role(user.role), "POST", "/console/locks/{lock_pk}/remote-unlock")


def _locks_page(request: Request, session: Session, user: ConsoleIdentity,
                status_code: int = 200, **context: Any) -> Response:
    settings = lock_settings_of(request.app)
    now = utcnow()
    facilities = {f.id: f.name for f in facility_repo.list_all(session)}
    rows = []
    for lock in lock_repo.list_all(session):
        readings = [(t.at, t.battery_percent) for t in lock_repo.telemetry(session, lock.id)
                    if t.battery_percent >= 0]
        rows.append((lock, facilities.get(lock.facility_id, ""),
                     locks.status(session, settings, lock, now),
                     battery_trend(readings, settings.low_battery_percent)))
    return render(request, "locks.html", status_code=status_code, user=user, rows=rows,
                  can_unlock=_may_unlock(user), csrf=request.cookies.get(CSRF_COOKIE, ""),
                  **context)


@router.get("/locks")
def locks_page(request: Request, session: SessionDep, user: ConsoleUser) -> Response:
    """スマートロック: battery and predicted days left with its trend, last contact, clock
    drift, revocation codes still to type; remote unlock for the roles allowed it."""
    done = request.query_params.get("done")
    return _locks_page(request, session, user, done=done == "unlock")


@router.post("/locks/{lock_pk}/remote-unlock")
def remote_unlock(request: Request, lock_pk: Id, body: RawBody, session: SessionDep,
                  user: ConsoleUser) -> Response:
    """Remote emergency unlock of an online lock with a reason: the locks service's own
    (queued for the lock's next poll, audited under the user's name)."""
    field = form_fields(body, "reason", "csrf_token")
    if not user.csrf_ok(field["csrf_token"]):
        return _locks_page(request, session, user, status_code=403, error="forbidden")
    try:
        reason = EmergencyRequest.model_validate({"reason": field["reason"]}).reason
    except ValidationError:
        return _locks_page(request, session, user, status_code=422, error="reason",
                           failed=lock_pk)
    lock = locks.get_or_raise(session, lock_pk)
    try:
        locks.remote_unlock(session, lock, actor=user.name, reason=reason, now=utcnow())
    except BadRequest:  # not an online lock: nothing was queued
        return _locks_page(request, session, user, status_code=409, error="offline",
                           failed=lock_pk)
    return RedirectResponse("/console/locks?done=unlock", status_code=303)
