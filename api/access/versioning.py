"""The snapshot version: one counter, bumped under a row lock by every change to decision data
(credentials, staff, doors, groups, schedules, permissions, closed days).

Services call ``bump`` in the transaction that makes the change and stamp changed credential
rows with the returned version, which is what snapshot deltas select on.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import SnapshotCounter
from api.models.base import utcnow

# Listeners (e.g. the PostgreSQL NOTIFY sender) may hook here; see api/device_protocol.
NOTIFY_CHANNEL = "mynagate_snapshot"


def current(session: Session) -> int:
    return int(session.execute(select(SnapshotCounter.version).where(SnapshotCounter.id == 1))
               .scalar_one())


def bump(session: Session) -> int:
    counter = session.execute(
        select(SnapshotCounter).where(SnapshotCounter.id == 1).with_for_update()
    ).scalar_one()
    counter.version += 1
    counter.changed_at = utcnow()
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import text

        session.execute(text("SELECT pg_notify(:ch, :v)"), {"ch": NOTIFY_CHANNEL,
                                                            "v": str(counter.version)})
    return counter.version
