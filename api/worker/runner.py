"""The worker loop: run what is due, sleep until the next job is due (at most ``poll_s``),
stop cleanly on SIGTERM or SIGINT after the job in hand (its transaction commits; the next
due job is left for the next start or the other worker)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from api.models import JobKind

from .jobs import WorkerContext, jobs
from .scheduler import Job, next_due, register, run_due

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, ctx: WorkerContext, *, worker_id: str,
                 clock: Callable[[], datetime]) -> None:
        self.ctx = ctx
        self.worker_id = worker_id
        self.clock = clock
        self.jobs: list[Job] = jobs(ctx)
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run_once(self, now: datetime) -> list[JobKind]:
        """Schedule the jobs not scheduled yet and run those due at ``now``."""
        register(self.ctx.db, self.jobs, now=now)
        return run_due(self.ctx.db, self.jobs, now=now, worker_id=self.worker_id,
                       retry=timedelta(seconds=self.ctx.settings.retry_s))

    def run_forever(self) -> None:
        log.info("worker.started id=%s", self.worker_id)
        while not self._stop.is_set():
            try:
                self.run_once(self.clock())
                due = next_due(self.ctx.db, self.jobs)
            except Exception:  # the database may be away for a while: keep going
                log.exception("worker.pass_failed")
                due = None
            wait = self.ctx.settings.poll_s
            if due is not None:
                wait = min(wait, max(0.0, (due - self.clock()).total_seconds()))
            self._stop.wait(wait)
        log.info("worker.stopped id=%s", self.worker_id)


def stop_on_signals(worker: Worker) -> None:
    """SIGTERM (systemd's stop) and SIGINT end the loop after the job in hand."""
    def handler(signum: int, _frame: object) -> None:
        log.info("worker.signal %s", signal.Signals(signum).name)
        worker.stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
