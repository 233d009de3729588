"""Helpers of the worker tests: a site with a door and an enrolled device, hash-chained
events stored through the real ingest, and a worker context on the test database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.db import Database
from api.events.ingest import IncomingEvent, ingest
from api.locks.settings import LockSettings
from api.mail.settings import SmtpSettings
from api.models import Device, DeviceDoor, Door, Site
from api.outbound.deliver import Deliverer
from api.outbound.settings import MqttSettings, WebhookSettings
from api.worker.jobs import WorkerContext
from api.worker.settings import RetentionSettings, WorkerSettings
from gate.events import chain_hash

# The pinned "now" of these tests (a Monday, 10:00 JST).
NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


def iso(dt: datetime) -> str:
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def town(db: Database, *, name: str = "reader-1", heartbeat: datetime | None = NOW
         ) -> tuple[uuid.UUID, int]:
    """本庁舎 (code honcho) with door 書庫 (shoko) and an active device bound to it;
    (device id, door id)."""
    with db.session() as s:
        site = s.query(Site).filter_by(code="honcho").one_or_none()
        if site is None:
            site = Site(code="honcho", name="本庁舎")
            s.add(site)
            s.flush()
            s.add(Door(site_id=site.id, code="shoko", name="書庫"))
            s.flush()
        door = s.query(Door).filter_by(code="shoko").one()
        device = Device(name=name, site_id=site.id, status="active",
                        enrolled_at=NOW - timedelta(days=400), last_heartbeat_at=heartbeat)
        s.add(device)
        s.flush()
        s.add(DeviceDoor(device_id=device.id, door_id=door.id))  # events only for bound doors
        s.commit()
        return device.id, door.id


def chained(specs: list[dict[str, Any]], *, start_seq: int = 1,
            prev_hash: str | None = None) -> list[IncomingEvent]:
    """Hash-chained events like the agent makes them; each spec gives ``occurred_at`` and
    any other fields (kind defaults to door_state)."""
    out = []
    for i, spec in enumerate(specs):
        raw: dict[str, Any] = {"id": str(uuid.uuid4()), "seq": start_seq + i,
                               "kind": "door_state", "clock_offset_ms": 0, "door_id": None,
                               "credential_ref": None, "staff_id": None, "granted": None,
                               "reason": None, "data": {"state": "closed"}}
        raw.update({k: v for k, v in spec.items() if k != "occurred_at"})
        raw["occurred_at"] = iso(spec["occurred_at"])
        raw["prev_hash"] = prev_hash
        raw["hash"] = chain_hash(raw)
        prev_hash = raw["hash"]
        out.append(IncomingEvent(
            id=uuid.UUID(raw["id"]), seq=raw["seq"], kind=raw["kind"],
            occurred_at=spec["occurred_at"], clock_offset_ms=0, door_id=raw["door_id"],
            credential_ref=raw["credential_ref"], staff_id=raw["staff_id"],
            granted=raw["granted"], reason=raw["reason"], data=raw["data"],
            prev_hash=raw["prev_hash"], hash=raw["hash"], raw=raw))
    return out


def store(db: Database, device_id: uuid.UUID, events: list[IncomingEvent], now: datetime) -> None:
    with db.session() as s:
        result = ingest(s, device_id=device_id, events=events, now=now)
        assert result.chain_ok
        s.commit()


def context(db: Database, tmp_path: Path, *, smtp: SmtpSettings | None = None,
            mqtt: MqttSettings | None = None, webhooks: WebhookSettings | None = None,
            retention: RetentionSettings | None = None,
            key: Ed25519PrivateKey | None = None, **worker: Any) -> WorkerContext:
    return WorkerContext(
        db=db, settings=WorkerSettings(**worker), retention=retention or RetentionSettings(),
        smtp=smtp or SmtpSettings(), locks=LockSettings(data_dir=tmp_path),
        signing_key=key or Ed25519PrivateKey.generate(),
        deliverer=Deliverer(mqtt or MqttSettings(enabled=False), webhooks or WebhookSettings()),
        tz=ZoneInfo("Asia/Tokyo"))
