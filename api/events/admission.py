"""Admission control for event batches: a bounded number in flight per service process.

Past the bound a batch is refused at once with 429 and ``Retry-After`` (problem details),
once its (bounded) body is read — so a slow sender holds no slot — and before its signature
check, its JSON parse or any database work. Without the bound, a
burst of agents (a reconnect storm) queues more batches than the pool can serve; each one
times out on its agent after the service has done its work, the agent resends it, and the
service redoes it: a livelock that never drains. Refusing early keeps the work that is
admitted fast, and the agents come back after ``Retry-After`` with smaller batches.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request

from api.errors import TooManyRequests

log = logging.getLogger(__name__)


class IngestLimiter:
    """At most ``limit`` batches in flight; ``try_acquire`` never waits."""

    def __init__(self, limit: int, retry_after_s: int) -> None:
        self.limit = limit
        self.retry_after_s = retry_after_s
        self._slots = threading.BoundedSemaphore(limit)
        self.refused = 0

    def try_acquire(self) -> bool:
        return self._slots.acquire(blocking=False)

    def release(self) -> None:
        self._slots.release()


def get_limiter(app: Any) -> IngestLimiter:
    """The app's limiter, created on first use from its settings."""
    limiter: IngestLimiter | None = getattr(app.state, "ingest_limiter", None)
    if limiter is None:
        with _create_lock:
            limiter = getattr(app.state, "ingest_limiter", None)
            if limiter is None:
                settings = app.state.settings
                limiter = IngestLimiter(settings.ingest_max_inflight,
                                        settings.ingest_retry_after_s)
                app.state.ingest_limiter = limiter
    return limiter


_create_lock = threading.Lock()


async def ingest_slot(request: Request) -> AsyncIterator[None]:
    """FastAPI dependency: hold one ingest slot for the request, or answer 429 at once."""
    limiter = get_limiter(request.app)
    if not limiter.try_acquire():
        limiter.refused += 1
        log.warning("events.ingest.overloaded in_flight=%d", limiter.limit)
        raise TooManyRequests(
            f"the service is ingesting {limiter.limit} batches already; retry after "
            f"{limiter.retry_after_s} s, with a smaller batch",
            retry_after=limiter.retry_after_s)
    try:
        yield None
    finally:
        limiter.release()


IngestSlot = Annotated[None, Depends(ingest_slot)]
