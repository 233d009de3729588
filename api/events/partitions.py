"""Monthly partitions of ``event`` on PostgreSQL (declarative, by ``occurred_at``).

Migration 0111 makes ``event`` a partitioned table with a default partition (``event_default``)
that catches any month without its own partition, so no insert ever fails. ``ensure_months``
(the worker's ``event_partitions`` job) makes the partitions of the current month and the
next ones ahead of time. A month whose rows already sit in the default partition (a device
clock far off, or a worker that did not run) gets its partition all the same: the rows move
out of the default into the new table before it is attached, in one transaction. On SQLite
``event`` is a plain table and this does nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

MONTHS_AHEAD = 3
# One partition maker at a time across processes (any fixed key unique in this schema).
_ADVISORY_KEY = 0x6D79_6E61_5061_7274  # "mynaPart"


_PARTITION = re.compile(r"^event_(p\d{6}|default)$")


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """For Alembic's autogenerate: the partitions are made by this module, not by the models."""
    return not (type_ == "table" and name is not None and _PARTITION.match(name))


def month_start(d: date) -> date:
    return date(d.year, d.month, 1)


def next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"event_p{month:%Y%m}"


def existing(session: Session) -> set[str]:
    """Names of the partitions ``event`` has now."""
    return set(session.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'event'::regclass")).scalars())


def _bound(month: date) -> str:
    # Bounds in UTC: a partition holds one calendar month of UTC instants.
    return datetime(month.year, month.month, 1, tzinfo=UTC).isoformat()


def create_month(session: Session, month: date) -> None:
    """Make ``month``'s partition, moving its rows out of the default partition first."""
    name, lo, hi = partition_name(month), _bound(month), _bound(next_month(month))
    session.execute(text(f'CREATE TABLE "{name}" (LIKE event INCLUDING DEFAULTS)'))
    session.execute(text(
        f'WITH moved AS (DELETE FROM event_default WHERE occurred_at >= :lo '
        f'AND occurred_at < :hi RETURNING *) INSERT INTO "{name}" SELECT * FROM moved'),
        {"lo": lo, "hi": hi})
    session.execute(text(
        f"ALTER TABLE event ATTACH PARTITION \"{name}\" FOR VALUES FROM ('{lo}') TO ('{hi}')"))


def ensure_months(session: Session, *, now: datetime, ahead: int = MONTHS_AHEAD) -> list[str]:
    """Partitions for the month of ``now`` and ``ahead`` months after it; the ones made.
    The caller commits."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_KEY})
    have = existing(session)
    made = []
    month = month_start(now.astimezone(UTC).date())
    for _ in range(ahead + 1):
        if partition_name(month) not in have:
            create_month(session, month)
            made.append(partition_name(month))
        month = next_month(month)
    return made
