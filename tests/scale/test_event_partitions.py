"""Events partitioned by month on PostgreSQL: partitions made ahead, rows that landed in the
default partition moved into their month, and exactly-once ingest across partitions."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from api.db import Database
from api.events import partitions
from api.models import Event, JobKind
from api.worker.runner import Worker
from tests.device_protocol.signer import enroll, iso, make_events
from tests.worker.helpers import context


def _partition_of(database: Database, device_id: str) -> dict[int, str]:
    """seq → the partition its row sits in (device's own events)."""
    with database.session() as s:
        rows = s.execute(text(
            "SELECT seq, tableoid::regclass::text FROM event "
            "WHERE device_id = :d AND seq > 0"), {"d": device_id}).all()
    return {seq: part for seq, part in rows}


def _count(database: Database, device_id: str) -> int:
    with database.session() as s:
        return int(s.execute(select(func.count()).select_from(Event).where(
            Event.device_id == uuid.UUID(device_id), Event.seq > 0)).scalar_one())


@pytest.fixture
def pg(database: Database) -> Database:
    if database.engine.dialect.name != "postgresql":
        pytest.skip("declarative partitioning is PostgreSQL's; SQLite keeps a plain table")
    return database


def test_event_is_partitioned_by_occurred_at_with_a_default(pg: Database) -> None:
    with pg.session() as s:
        key = s.execute(text(
            "SELECT pg_get_partkeydef('event'::regclass)")).scalar_one()
        assert key == "RANGE (occurred_at)"
        assert "event_default" in partitions.existing(s)


def test_the_coming_months_are_made_once(pg: Database, now: datetime) -> None:
    month = partitions.month_start(now.astimezone(UTC).date())
    expected = [month]
    for _ in range(partitions.MONTHS_AHEAD):
        expected.append(partitions.next_month(expected[-1]))
    names = {partitions.partition_name(m) for m in expected}
    with pg.session() as s:
        made = partitions.ensure_months(s, now=now)
        s.commit()
    assert set(made) <= names  # another test of this session may have made some already
    with pg.session() as s:
        assert names <= partitions.existing(s)
        assert partitions.ensure_months(s, now=now) == []


def test_rows_in_the_default_move_into_their_new_month(admin, pg: Database,
                                                       now: datetime) -> None:
    """A month nobody made yet (here: three years back) fills the default partition; making
    the month moves its rows, and a resend afterwards is still a duplicate."""
    dev, _ = enroll(admin)
    then = now - timedelta(days=3 * 366)
    batch = make_events(3, occurred_at=iso(then))
    assert dev.post_events(batch).json()["accepted"] == 3
    assert set(_partition_of(pg, dev.device_id).values()) == {"event_default"}

    with pg.session() as s:
        assert partitions.ensure_months(s, now=then, ahead=0) == [
            partitions.partition_name(partitions.month_start(then.astimezone(UTC).date()))]
        s.commit()
    name = partitions.partition_name(partitions.month_start(then.astimezone(UTC).date()))
    assert _partition_of(pg, dev.device_id) == {1: name, 2: name, 3: name}
    r = dev.post_events(batch).json()
    assert r["accepted"] == 0 and r["duplicates"] == 3
    assert _count(pg, dev.device_id) == 3


def test_a_batch_across_months_is_stored_once(admin, pg: Database, now: datetime) -> None:
    with pg.session() as s:
        partitions.ensure_months(s, now=now - timedelta(days=62), ahead=2)
        s.commit()
    dev, _ = enroll(admin)
    first = make_events(2, occurred_at=iso(now - timedelta(days=62)))
    second = make_events(2, start_seq=3, prev_hash=first[-1]["hash"],
                         occurred_at=iso(now - timedelta(minutes=5)))
    batch = first + second
    assert dev.post_events(batch).json()["accepted"] == 4
    where = _partition_of(pg, dev.device_id)
    assert where[1] == where[2] != where[3] == where[4]
    r = dev.post_events(batch).json()
    assert (r["accepted"], r["duplicates"], r["acked_through_seq"]) == (0, 4, 4)
    assert _count(pg, dev.device_id) == 4


def test_a_seq_resent_at_another_time_is_not_stored_twice(admin, database: Database,
                                                          now: datetime) -> None:
    """The table's unique key (device_id, seq, occurred_at) would take it, in another month's
    partition even: the ingest refuses it and flags the chain."""
    dev, _ = enroll(admin)
    batch = make_events(3, occurred_at=iso(now - timedelta(minutes=10)))
    assert dev.post_events(batch).json()["accepted"] == 3
    forged = make_events(1, start_seq=2, prev_hash=batch[0]["hash"],
                         occurred_at=iso(now - timedelta(days=40)))
    r = dev.post_events(forged).json()
    assert (r["accepted"], r["duplicates"], r["chain_ok"]) == (0, 1, False)
    assert _count(database, dev.device_id) == 3


def test_the_worker_makes_the_coming_months(pg: Database, now: datetime,
                                            tmp_path: Path) -> None:
    ctx = context(pg, tmp_path)
    ran = Worker(ctx, worker_id="w", clock=lambda: now).run_once(now)
    ctx.deliverer.close()
    assert JobKind.EVENT_PARTITIONS in ran
    month = partitions.month_start(now.astimezone(UTC).date())
    ahead = partitions.next_month(partitions.next_month(partitions.next_month(month)))
    with pg.session() as s:
        assert {partitions.partition_name(month), partitions.partition_name(ahead)} \
            <= partitions.existing(s)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2200, 12, 31)))
def test_month_bounds_tile_the_calendar(d: date) -> None:
    """Each day lies in exactly one partition: [month_start, next_month) of its own month,
    and the next partition starts where this one ends."""
    lo, hi = partitions.month_start(d), partitions.next_month(d)
    assert lo <= d < hi
    assert (hi - lo).days in (28, 29, 30, 31)
    assert partitions.month_start(hi - timedelta(days=1)) == lo
    assert partitions.partition_name(lo) != partitions.partition_name(hi)
