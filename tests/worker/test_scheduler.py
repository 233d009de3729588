"""The job table: two workers on one PostgreSQL database run each due job exactly once."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from api.db import Database
from api.models import Event, JobKind, MailKind, MailOutbox, WorkerJob
from api.worker.jobs import next_reminder
from api.worker.runner import Worker
from api.worker.scheduler import Job, every, register, run_due
from api.worker.settings import WorkerSettings

from .helpers import NOW, context, town

REMINDER_AT = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 1 Dec, 09:00 JST


@pytest.fixture
def pg(database: Database) -> Database:
    assert database.engine.dialect.name == "postgresql", "these tests need PostgreSQL"
    return database


def test_two_workers_run_each_due_job_exactly_once(pg: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    town(pg, heartbeat=NOW - timedelta(days=1))
    workers = []
    for name in ("a", "b"):
        db = Database(pg.url)  # its own engine and connections, like a second process
        ctx = context(db, tmp_path, hr_email="jinji@example.lg.jp")
        workers.append(Worker(ctx, worker_id=name, clock=lambda: NOW))
    register(pg, workers[0].jobs, now=NOW)  # the reminder is first due on 1 Dec, 09:00 JST
    ran: dict[str, list[JobKind]] = {}
    barrier = threading.Barrier(2)

    def run(w: Worker) -> None:
        barrier.wait()
        ran[w.worker_id] = w.run_once(REMINDER_AT)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # Due again only at its next run: the same moment runs nothing more.
    again = workers[0].run_once(REMINDER_AT)
    for w in workers:
        w.ctx.deliverer.close()
        w.ctx.db.dispose()
    assert again == []

    assert set(ran) == {"a", "b"}
    together = ran["a"] + ran["b"]
    assert sorted(together) == sorted(JobKind), ran  # every job once, none twice
    with pg.session() as s:
        rows = s.execute(select(WorkerJob)).scalars().all()
        assert {r.kind: r.runs for r in rows} == {k.value: 1 for k in JobKind}
        assert all(r.next_run_at > REMINDER_AT for r in rows)
        assert s.execute(select(func.count()).select_from(MailOutbox).where(
            MailOutbox.kind == MailKind.EXPORT_REMINDER)).scalar_one() == 1
        alarms = s.execute(select(Event).where(Event.kind == "alarm")).scalars().all()
        assert [a.data["alarm"] for a in alarms] == ["device_silent"]


def test_a_job_being_run_is_skipped_not_waited_for(pg: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    inside, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow(now: datetime) -> str:
        calls.append(threading.current_thread().name)
        inside.set()
        release.wait(10)
        return "slow"

    jobs = [Job(JobKind.MAIL, slow, every(60))]
    register(pg, jobs, now=NOW)
    other = Database(pg.url)
    first = threading.Thread(target=run_due, args=(pg, jobs),
                             kwargs={"now": NOW, "worker_id": "a"}, name="a")
    first.start()
    assert inside.wait(10)
    started = time.monotonic()
    assert run_due(other, jobs, now=NOW, worker_id="b") == []  # locked: skipped
    assert time.monotonic() - started < 2  # not blocked behind worker a's lock
    release.set()
    first.join(10)
    assert run_due(other, jobs, now=NOW, worker_id="b") == []  # done: not due any more
    assert run_due(other, jobs, now=NOW + timedelta(seconds=60), worker_id="b") == [JobKind.MAIL]
    other.dispose()
    assert calls == ["a", threading.current_thread().name]


def test_a_failing_job_is_retried_later_and_the_others_still_run(pg: Database) -> None:
    def broken(now: datetime) -> str:
        raise RuntimeError("SMTP away")

    done: list[datetime] = []
    jobs = [Job(JobKind.MAIL, broken, every(3600)),
            Job(JobKind.HEARTBEATS, lambda now: done.append(now) or "ok", every(60))]
    register(pg, jobs, now=NOW)
    assert sorted(run_due(pg, jobs, now=NOW, worker_id="a", retry=timedelta(minutes=5))) == \
        sorted([JobKind.MAIL, JobKind.HEARTBEATS])
    assert done == [NOW]
    with pg.session() as s:
        row = s.get_one(WorkerJob, JobKind.MAIL.value)
        assert (row.failures, row.runs) == (1, 0)
        assert row.last_error == "RuntimeError: SMTP away"
        assert row.next_run_at == NOW + timedelta(minutes=5)


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1),
                    timezones=st.just(UTC)),
       st.integers(min_value=1, max_value=28), st.integers(min_value=0, max_value=23))
def test_the_export_reminder_is_due_once_a_month(now: datetime, day: int, hour: int) -> None:
    tz = ZoneInfo("Asia/Tokyo")
    s = WorkerSettings(export_reminder_day=day, export_reminder_hour=hour)
    at = next_reminder(s, tz, now)
    local = at.astimezone(tz)
    assert at > now
    assert (local.day, local.hour, local.minute) == (day, hour, 0)
    assert at - now <= timedelta(days=31)
    # the run after it is the next month's
    after = next_reminder(s, tz, at).astimezone(tz)
    assert (after.year * 12 + after.month) - (local.year * 12 + local.month) == 1
