"""The snapshot version: one counter, bumped under a row lock by every change to decision data
(credentials, staff, doors, groups, schedules, permissions, closed days).

Services call ``bump`` in the transaction that makes the change and stamp changed credential
rows with the returned version, which is what snapshot deltas select on.

Versions run in epochs of ``EPOCH`` versions. A delta is served only within one epoch; a
restored backup moves the counter to the start of the next epoch (``NEXT_EPOCH_SQL``), so a
reader that took versions from the lost timeline gets a full snapshot with a higher version,
which it accepts (readers refuse versions older than one they hold, see reader_agent/
snapshot_state.py). This holds while fewer than ``EPOCH`` changes were made between the
backup and the disaster.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from api.models import SnapshotChange, SnapshotCounter
from api.models.base import utcnow

# Listeners (e.g. the PostgreSQL NOTIFY sender) may hook here; see api/device_protocol.
NOTIFY_CHANNEL = "mynagate_snapshot"
EPOCH = 1 << 20
# The change log (``snapshot_change``, written by triggers) is kept this long; snapshot tables
# compare through it only with a read at most ``api.snapshot.tables.LOG_TRUSTED`` old.
CHANGE_LOG_KEEP = timedelta(days=1)
NEXT_EPOCH_SQL = text("UPDATE snapshot_counter SET version = (version / :epoch + 1) * :epoch, "
                      "changed_at = :now WHERE id = 1").bindparams(epoch=EPOCH)


def same_epoch(a: int, b: int) -> bool:
    """Whether a delta from version ``a`` to ``b`` may be served (no restore between)."""
    return a // EPOCH == b // EPOCH


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
        session.execute(text("SELECT pg_notify(:ch, :v)"), {"ch": NOTIFY_CHANNEL,
                                                            "v": str(counter.version)})
        # Under the counter's lock: one pruner at a time (an index range, usually empty). By
        # the database's clock, which wrote ``at``: a service clock ahead of it (skew) must
        # not prune the rows a table still needs.
        session.execute(delete(SnapshotChange).where(
            SnapshotChange.at < func.now() - CHANGE_LOG_KEEP))
    return counter.version
