"""Queueing events out: in the transaction that stores them, one ``outbound_event`` row per
event (``queue_events``; ingest writes them in its insert statement); later, in the worker,
the deliveries those rows stand for (``expand_queued``): one MQTT row per topic and one
webhook row per enabled endpoint whose filter takes the event's type.

The fan-out (loading places, building payloads, writing two or more deliveries per event)
cost about a third of an ingest request while it ran in the request's transaction, under the
device row lock. ``expand_queued`` claims queue rows with ``FOR UPDATE SKIP LOCKED``, writes
their deliveries and deletes them in one transaction: an event's messages are queued once,
whatever crashes or how many workers run, and never for an event that was rolled back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import and_, delete, insert, select
from sqlalchemy.orm import Session

from api.models import (
    Device,
    Door,
    Event,
    OutboundDelivery,
    OutboundEvent,
    OutboundStatus,
    OutboundTarget,
    Site,
    Staff,
    WebhookEndpoint,
)

from .payloads import KIND_TYPES, Place, StoredEvent, event_payload, topics


def _places(session: Session, events: Sequence[StoredEvent]) -> dict[uuid.UUID, Place]:
    devices = {d.id: d for d in session.execute(select(Device).where(
        Device.id.in_({e.device_id for e in events}))).scalars()}
    door_ids = {e.door_id for e in events if e.door_id is not None}
    doors = {d.id: d for d in session.execute(select(Door).where(Door.id.in_(door_ids)))
             .scalars()} if door_ids else {}
    site_ids = {d.site_id for d in doors.values()} | {
        d.site_id for d in devices.values() if d.site_id is not None}
    sites = {s.id: s for s in session.execute(select(Site).where(Site.id.in_(site_ids)))
             .scalars()} if site_ids else {}
    out = {}
    for e in events:
        device = devices[e.device_id]
        door = doors.get(e.door_id) if e.door_id is not None else None
        site_id = door.site_id if door is not None else device.site_id
        out[e.id] = Place(device, door, sites.get(site_id) if site_id is not None else None)
    return out


def _staff_numbers(session: Session, events: Sequence[StoredEvent]) -> dict[int, str]:
    ids = {e.staff_id for e in events if e.staff_id is not None}
    if not ids:
        return {}
    return dict(session.execute(select(Staff.id, Staff.staff_number)
                                .where(Staff.id.in_(ids))).all())


def queue_events(session: Session, events: Sequence[tuple[uuid.UUID, datetime]]) -> None:
    """Queue these stored events (id, occurred_at) for fan-out, in their transaction."""
    if events:
        session.execute(insert(OutboundEvent.__table__),
                        [{"event_id": i, "occurred_at": t} for i, t in events])


def expand_queued(session: Session, *, now: datetime, limit: int = 1000) -> int:
    """Turn up to ``limit`` queued events (oldest first) into their deliveries and drop them
    from the queue, in the caller's transaction; how many queue rows were taken."""
    ids = list(session.execute(select(OutboundEvent.id).order_by(OutboundEvent.id)
                               .limit(limit).with_for_update(skip_locked=True)).scalars())
    if not ids:
        return 0
    # Plain rows, not ORM objects: the identity map and instrumented attributes of a
    # thousand events cost more than building their messages.
    event = Event.__table__
    events = list(session.execute(
        select(*event.columns).join(OutboundEvent, and_(
            OutboundEvent.event_id == event.c.id,
            OutboundEvent.occurred_at == event.c.occurred_at))
        .where(OutboundEvent.id.in_(ids)).order_by(OutboundEvent.id)))
    _enqueue(session, events, now=now)  # in queue order: the order they were stored in
    session.execute(delete(OutboundEvent).where(OutboundEvent.id.in_(ids)))
    return len(ids)


def _enqueue(session: Session, events: Sequence[StoredEvent], *, now: datetime) -> None:
    """Write the deliveries of these stored events, in their order."""
    if not events:
        return
    places = _places(session, events)
    staff = _staff_numbers(session, events)
    endpoints = list(session.execute(select(WebhookEndpoint).where(
        WebhookEndpoint.enabled.is_(True)).order_by(WebhookEndpoint.id)).scalars())
    rows: list[dict[str, Any]] = []
    for e in events:
        etype = KIND_TYPES[e.kind].value
        payload = event_payload(e, places[e.id],
                                staff.get(e.staff_id) if e.staff_id is not None else None)
        common = {"event_type": etype, "payload": payload, "status": OutboundStatus.PENDING,
                  "attempts": 0, "created_at": now, "next_attempt_at": now,
                  "delivered_at": None, "last_error": None}
        # Message ids from the (unique) event id and the message's place among its
        # deliveries: unique without a random source, which cost as much as the payloads.
        n = 0
        for topic, retain in topics(e, places[e.id]):
            n += 1
            rows.append({"message_id": f"msg_{e.id.hex}_{n}", "target": OutboundTarget.MQTT,
                         "endpoint_id": None, "topic": topic, "retain": retain, **common})
        for ep in endpoints:
            if not ep.event_types or etype in ep.event_types:
                n += 1
                rows.append({"message_id": f"msg_{e.id.hex}_{n}",
                             "target": OutboundTarget.WEBHOOK, "endpoint_id": ep.id,
                             "topic": None, "retain": False, **common})
    _insert_deliveries(session, rows)


_COPY_COLUMNS = ("message_id", "target", "endpoint_id", "event_type", "topic", "retain",
                 "payload", "status", "attempts", "created_at", "next_attempt_at")
_pick = itemgetter(*_COPY_COLUMNS)
_PAYLOAD_AT = _COPY_COLUMNS.index("payload")


def _insert_deliveries(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write the rows in one go: an ingest batch of 500 door events queues 1,000 of them, and
    a unit of work of ORM objects (or even an executemany) cost more than the events' own
    insert. PostgreSQL: COPY in this transaction; SQLite: one Core executemany."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(OutboundDelivery.__table__), rows)
        return
    # An event's messages share one payload object: encode it once, not once per message.
    encoded: dict[int, str] = {}
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur, cur.copy(
            f"COPY outbound_delivery ({', '.join(_COPY_COLUMNS)}) FROM STDIN") as copy:
        for r in rows:
            payload = r["payload"]
            text = encoded.get(id(payload))
            if text is None:
                text = encoded[id(payload)] = json.dumps(payload)
            values = list(_pick(r))
            values[_PAYLOAD_AT] = text
            copy.write_row(values)
