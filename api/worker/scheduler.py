"""The worker's job table: PostgreSQL-backed scheduling that is safe with several workers.

Each job kind has one ``worker_job`` row with its ``next_run_at``. ``run_due`` claims a due
row with ``SELECT … FOR UPDATE SKIP LOCKED``, runs the job while the row lock is held, sets
the next run and commits. A second worker skips the locked row, and once the first commits
the row is no longer due, so each due run happens exactly once however many workers poll.
A worker that dies mid-job releases the lock with its connection; the job stays due and the
next worker runs it. Time is an input: every call takes ``now``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from api.db import Database
from api.models import JobKind, WorkerJob

log = logging.getLogger(__name__)
MAX_ERROR = 500


@dataclass(frozen=True)
class Job:
    """One kind of timed work: ``run(now)`` does it (and says what it did); ``next_run(now)``
    is when it is due next after a run at ``now`` (always later); ``first_run(now)`` when it
    is first due."""

    kind: JobKind
    run: Callable[[datetime], str]
    next_run: Callable[[datetime], datetime]
    first_run: Callable[[datetime], datetime] | None = None


def every(seconds: float) -> Callable[[datetime], datetime]:
    return lambda now: now + timedelta(seconds=seconds)


def register(db: Database, jobs: Sequence[Job], *, now: datetime) -> None:
    """Create the rows of jobs not scheduled yet (a row already there keeps its schedule)."""
    rows = [{"kind": j.kind.value, "next_run_at": (j.first_run or (lambda t: t))(now),
             "runs": 0, "failures": 0} for j in jobs]
    with db.session() as s:
        dialect = s.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        s.execute(insert(WorkerJob).values(rows).on_conflict_do_nothing())
        s.commit()


def _claim(session: Session, kinds: Sequence[str], now: datetime) -> WorkerJob | None:
    return session.execute(
        select(WorkerJob).where(WorkerJob.kind.in_(kinds), WorkerJob.next_run_at <= now)
        .order_by(WorkerJob.next_run_at).limit(1)
        .with_for_update(skip_locked=True)).scalar_one_or_none()


def _run_claimed(row: WorkerJob, job: Job, *, now: datetime, worker_id: str,
                 retry: timedelta) -> None:
    row.last_started_at, row.last_worker = now, worker_id
    try:
        outcome = job.run(now)
    except Exception as err:  # one failing job must not stop the others
        log.exception("worker.job_failed kind=%s", job.kind.value)
        row.failures += 1
        row.last_error = f"{type(err).__name__}: {err}"[:MAX_ERROR]
        row.next_run_at = min(job.next_run(now), now + retry)
        return
    log.info("worker.job_done kind=%s %s", job.kind.value, outcome)
    row.runs += 1
    row.last_error = None
    row.next_run_at = job.next_run(now)
    row.last_finished_at = now


def run_due(db: Database, jobs: Sequence[Job], *, now: datetime, worker_id: str,
            retry: timedelta = timedelta(minutes=5)) -> list[JobKind]:
    """Run every job due at ``now`` that no other worker is running; the kinds run, in order."""
    by_kind = {j.kind.value: j for j in jobs}
    ran: list[JobKind] = []
    while True:
        with db.session() as s:
            row = _claim(s, list(by_kind), now)
            if row is None:
                return ran
            job = by_kind[row.kind]
            _run_claimed(row, job, now=now, worker_id=worker_id, retry=retry)
            if row.next_run_at <= now:  # a schedule must move forward, or this loops forever
                raise RuntimeError(f"job {job.kind.value} was rescheduled to {row.next_run_at}")
            s.commit()
        ran.append(job.kind)


def next_due(db: Database, jobs: Sequence[Job]) -> datetime | None:
    """When the earliest of these jobs is due next."""
    with db.session() as s:
        return s.execute(select(func.min(WorkerJob.next_run_at)).where(
            WorkerJob.kind.in_([j.kind.value for j in jobs]))).scalar_one()
