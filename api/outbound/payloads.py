"""The JSON payloads of events out, built from an allowlist of fields and ``data`` keys, and
the MQTT topics, after uhppoted-mqtt's layout (``<root>/events/…`` for events, retained door
state, ``<root>/system/…`` for alarms)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from api.models import Device, Door, Site


class StoredEvent(Protocol):
    """What a message is made of (an ``Event`` row)."""

    id: uuid.UUID
    device_id: uuid.UUID
    kind: str
    occurred_at: datetime
    received_at: datetime
    door_id: int | None
    staff_id: int | None
    granted: bool | None
    reason: str | None
    data: dict[str, Any]


class EventType(StrEnum):
    """The ``type`` of an outbound message (and a webhook endpoint's filter)."""

    TAP = "door.tap"
    DOOR_STATE = "door.state"
    PUNCH = "attendance.punch"
    CARD_ERROR = "card.error"
    ALARM = "alarm"


KIND_TYPES = {"tap": EventType.TAP, "door_state": EventType.DOOR_STATE,
              "clock_punch": EventType.PUNCH, "card_error": EventType.CARD_ERROR,
              "alarm": EventType.ALARM}
# ``data`` keys that may leave the service; anything else (free text, key material the agent
# might add one day) stays in.
DATA_KEYS = frozenset({"state", "alarm", "active", "source", "offline", "fail_open",
                       "snapshot_age_s", "punch", "business_date", "repeats", "offset_ms",
                       "seqs", "last_heartbeat_at", "silent_s"})


@dataclass(frozen=True)
class Place:
    """Where an event happened: its device, and its door and site when known."""

    device: Device
    door: Door | None
    site: Site | None


def segment(name: str) -> str:
    """A name as one MQTT topic level: no separator or wildcard (``/ + #``), no control."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name)[:64] or "_"


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def _data(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in sorted(DATA_KEYS & data.keys()):
        value = data[key]
        if _scalar(value) or (isinstance(value, list) and all(isinstance(v, int) for v in value)):
            out[key] = value
    return out


def event_payload(event: StoredEvent, place: Place, staff_number: str | None) -> dict[str, Any]:
    """The message body for one stored event."""
    body: dict[str, Any] = {
        "type": KIND_TYPES[event.kind].value,
        "event_id": str(event.id),
        "occurred_at": _iso(event.occurred_at),
        "received_at": _iso(event.received_at),
        "device": {"id": str(place.device.id), "name": place.device.name},
        "site": place.site.code if place.site else None,
        "door": {"code": place.door.code, "name": place.door.name} if place.door else None,
        "data": _data(event.data or {}),
    }
    if event.kind in ("tap", "clock_punch"):
        body.update(granted=event.granted, reason=event.reason, staff_number=staff_number)
    elif event.kind == "card_error":
        body["reason"] = event.reason
    return body


def topics(event: StoredEvent, place: Place) -> list[tuple[str, bool]]:
    """(topic below the root, retained) pairs an event is published to: one topic per site
    and door; a door's state also to its retained ``state`` topic; alarms to ``system``."""
    site = segment(place.site.code) if place.site else "_"
    door = segment(place.door.code) if place.door else None
    where = f"{site}/{door}" if door else f"{site}/_/{segment(place.device.name)}"
    if event.kind == "alarm":
        return [(f"system/{where}", False)]
    out = [(f"events/{where}", False)]
    if event.kind == "door_state" and door:
        out.append((f"doors/{site}/{door}/state", True))
    return out
