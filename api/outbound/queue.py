"""Queueing events out in the transaction that stores them: one MQTT row per topic and one
webhook row per enabled endpoint whose filter takes the event's type."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import (
    Device,
    Door,
    Event,
    OutboundDelivery,
    OutboundStatus,
    OutboundTarget,
    Site,
    Staff,
    WebhookEndpoint,
)

from .payloads import KIND_TYPES, Place, event_payload, topics


def _places(session: Session, events: list[Event]) -> dict[uuid.UUID, Place]:
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


def _staff_numbers(session: Session, events: list[Event]) -> dict[int, str]:
    ids = {e.staff_id for e in events if e.staff_id is not None}
    if not ids:
        return {}
    return dict(session.execute(select(Staff.id, Staff.staff_number)
                                .where(Staff.id.in_(ids))).all())


def enqueue_events(session: Session, event_ids: Collection[uuid.UUID], *,
                   now: datetime) -> int:
    """Queue the deliveries of these stored events (call in their transaction); how many."""
    if not event_ids:
        return 0
    events = list(session.execute(select(Event).where(Event.id.in_(list(event_ids)))
                                  .order_by(Event.device_id, Event.seq)).scalars())
    places = _places(session, events)
    staff = _staff_numbers(session, events)
    endpoints = list(session.execute(select(WebhookEndpoint).where(
        WebhookEndpoint.enabled.is_(True)).order_by(WebhookEndpoint.id)).scalars())
    rows: list[OutboundDelivery] = []
    for e in events:
        etype = KIND_TYPES[e.kind].value
        payload = event_payload(e, places[e.id],
                                staff.get(e.staff_id) if e.staff_id is not None else None)
        common = {"event_type": etype, "payload": payload, "status": OutboundStatus.PENDING,
                  "attempts": 0, "created_at": now, "next_attempt_at": now}
        for topic, retain in topics(e, places[e.id]):
            rows.append(OutboundDelivery(message_id=f"msg_{uuid.uuid4().hex}",
                                         target=OutboundTarget.MQTT, topic=topic,
                                         retain=retain, **common))
        for ep in endpoints:
            if not ep.event_types or etype in ep.event_types:
                rows.append(OutboundDelivery(message_id=f"msg_{uuid.uuid4().hex}",
                                             target=OutboundTarget.WEBHOOK, endpoint_id=ep.id,
                                             **common))
    session.add_all(rows)
    session.flush()
    return len(rows)
