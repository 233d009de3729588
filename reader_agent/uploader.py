"""The agent's background work: event upload, heartbeat, and the snapshot watcher.

Each worker has a ``run_once`` (used by tests and the loop) and runs in its own daemon thread
until ``stop`` is set. When the service is unreachable they back off exponentially (with
jitter) and the tap path keeps working from the cached snapshot and the outbox.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .client import (
    ClientError,
    ServiceBusy,
    ServiceClient,
    ServiceUnavailable,
    TimedOut,
    Unauthorized,
    format_time,
)
from .memory import release_free_memory
from .outbox import Outbox
from .snapshot_cache import MAX_DELTAS, SnapshotCache, SnapshotError

# Its own generator: the global one is shared with other code (and hypothesis watches it).
_jitter = random.Random()

log = logging.getLogger(__name__)

BATCH_LIMIT = 500


class Backoff:
    """Exponential backoff with full jitter: 0.5 s, 1 s, 2 s … capped at ``cap``."""

    def __init__(self, base: float = 0.5, cap: float = 30.0) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0

    def reset(self) -> None:
        self.failures = 0

    def next_delay(self, at_least: float | None = None) -> float:
        """The next delay. With ``at_least`` (the service's Retry-After): that, plus up to
        half again, so the agents it turned away do not return together; it does not grow
        across refusals, since the service says when to come back (growing it left the
        service idle between waves of a reconnect storm), nor counts as a failure. Otherwise
        exponential."""
        if at_least is not None:
            return at_least * (1 + _jitter.uniform(0, 0.5))
        self.failures += 1
        ceiling = min(self.cap, self.base * (2 ** (self.failures - 1)))
        return ceiling / 2 + _jitter.uniform(0, ceiling / 2)


class AdaptiveBatch:
    """Batch size and request timeout, adapted to the service's answers.

    A timeout halves the batch (down to ``min_size``) and doubles the timeout (up to
    ``max_timeout_s``), since the service may just be slow and a resend costs it the work
    again. A 429/503 halves the batch too, but not below a quarter of ``limit``: a refusal
    says the service is busy, not that the batch is too large, and tiny batches cost the
    service more per event. Each success grows the batch by an eighth (up to ``limit``) and
    moves the timeout towards four times the time the batch took (never below the base).
    """

    def __init__(self, limit: int, timeout_s: float = 10.0, *, min_size: int = 10,
                 max_timeout_s: float = 120.0) -> None:
        self.limit = limit
        self.min_size = min(min_size, limit)
        self.size = limit
        self.base_timeout_s = timeout_s
        self.timeout_s = timeout_s
        self.max_timeout_s = max_timeout_s

    def succeeded(self, elapsed_s: float) -> None:
        self.size = min(self.limit, self.size + max(1, self.size // 8))
        wanted = max(self.base_timeout_s, min(self.max_timeout_s, 4 * elapsed_s))
        self.timeout_s = (self.timeout_s + wanted) / 2

    def busy(self) -> None:
        floor = min(self.size, max(self.min_size, self.limit // 4))  # never grows it
        self.size = max(floor, self.size // 2)

    def timed_out(self) -> None:
        self.size = max(self.min_size, self.size // 2)
        self.timeout_s = min(self.max_timeout_s, self.timeout_s * 2)


class Connectivity:
    """Whether the service answered recently (drives the events' ``offline`` flag)."""

    def __init__(self, window_s: float = 90.0) -> None:
        self._last_ok: float | None = None
        self._window = window_s

    def ok(self) -> None:
        self._last_ok = time.monotonic()

    def failed(self) -> None:
        self._last_ok = None

    def online(self) -> bool:
        return self._last_ok is not None and time.monotonic() - self._last_ok < self._window


class Worker:
    name = "worker"

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.backoff = Backoff()
        self.thread: threading.Thread | None = None

    def run_once(self) -> float:
        """Do one round; return how long to wait before the next."""
        raise NotImplementedError

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                delay = self.run_once()
                self.backoff.reset()
            except ServiceBusy as err:
                delay = self.backoff.next_delay(at_least=err.retry_after)
                log.warning("agent.%s.busy retry_in=%.1fs status=%d", self.name, delay,
                            err.status)
            except ServiceUnavailable as err:
                delay = self.backoff.next_delay()
                log.warning("agent.%s.unavailable retry_in=%.1fs error=%s", self.name, delay, err)
            except Unauthorized as err:
                delay = max(self.backoff.next_delay(), 30.0)
                log.error("agent.%s.unauthorized retry_in=%.0fs problem=%s", self.name, delay,
                          err.problem)
            except (ClientError, SnapshotError) as err:
                delay = max(self.backoff.next_delay(), 5.0)
                log.error("agent.%s.rejected retry_in=%.0fs error=%s", self.name, delay, err)
            except Exception:  # never let a worker die
                delay = self.backoff.next_delay()
                log.exception("agent.%s.crashed retry_in=%.1fs", self.name, delay)
            self._wait(delay)

    def _wait(self, delay: float) -> None:
        self.stop.wait(delay)

    def start(self) -> threading.Thread:
        self.thread = threading.Thread(target=self._loop, name=f"agent-{self.name}", daemon=True)
        self.thread.start()
        return self.thread


class Uploader(Worker):
    """Sends the outbox in batches of at most 500 and marks only what the service stored.

    The batch size and timeout adapt to the answers (``AdaptiveBatch``); a 429/503 waits
    for its Retry-After, jittered. A resent batch the service had already stored is a no-op
    there (event ids), so a timeout never counts an event twice."""

    name = "uploader"

    def __init__(self, client: ServiceClient, outbox: Outbox, stop: threading.Event, *,
                 connectivity: Connectivity | None = None, idle_s: float = 1.0,
                 batch_limit: int = BATCH_LIMIT, keep_delivered: int = 50_000,
                 timeout_s: float = 10.0) -> None:
        super().__init__(stop)
        self.keep_delivered = keep_delivered
        self.client = client
        self.outbox = outbox
        self.connectivity = connectivity or Connectivity()
        self.idle_s = idle_s
        self.batch_limit = min(batch_limit, BATCH_LIMIT)
        self.adapt = AdaptiveBatch(self.batch_limit, timeout_s)
        self.wake = threading.Event()
        self.delivered = 0
        self.batches = 0
        self.refused = 0  # 429/503 answers
        self.timeouts = 0
        self.last_result: dict[str, Any] | None = None
        self.chain_reported_broken = False

    def notify(self) -> None:
        """Called after an append so the event leaves at once."""
        self.wake.set()

    def _wait(self, delay: float) -> None:
        self.wake.wait(delay)
        self.wake.clear()

    def run_once(self) -> float:
        size = self.adapt.size
        batch = self.outbox.pending(size)
        if not batch:
            return self.idle_s
        started = time.monotonic()
        try:
            result = self.client.post_events(batch, timeout=self.adapt.timeout_s)
        except ServiceBusy:
            self.refused += 1
            self.adapt.busy()
            self.connectivity.ok()  # it answered: online, only busy
            raise
        except TimedOut:
            self.timeouts += 1
            self.adapt.timed_out()
            self.connectivity.failed()
            raise
        except ServiceUnavailable:
            self.connectivity.failed()
            raise
        self.adapt.succeeded(time.monotonic() - started)
        self.connectivity.ok()
        last = int(batch[-1]["seq"])
        # A 2xx answer means the service stored every event of the batch (or already had it).
        self.outbox.mark_delivered(last)
        self.delivered += len(batch)
        self.batches += 1
        if self.batches % 50 == 0:
            self.outbox.prune(keep_last=self.keep_delivered)
        self.last_result = result
        if result.get("chain_ok") is False:
            self.chain_reported_broken = True
            log.error("agent.uploader.chain_broken_reported through_seq=%d", last)
        acked = result.get("acked_through_seq")
        if acked is not None and int(acked) < last:
            log.warning("agent.uploader.service_gap acked_through=%s sent_through=%d gaps=%s",
                        acked, last, result.get("gaps"))
        return 0.0 if len(batch) >= size else self.idle_s


@dataclass
class ClockStatus:
    offset_ms: int = 0
    skew_alarm: bool = False
    last_rtt_ms: float | None = None


class Heartbeat(Worker):
    """Reports the device's state, measures its clock offset, raises a clock-skew alarm."""

    name = "heartbeat"

    def __init__(self, client: ServiceClient, outbox: Outbox, cache: SnapshotCache,
                 stop: threading.Event, *, connectivity: Connectivity | None = None,
                 interval_s: float = 30.0, skew_threshold_ms: int = 5000,
                 config_version: int | None = None, uploader: Uploader | None = None) -> None:
        super().__init__(stop)
        self.client = client
        self.outbox = outbox
        self.cache = cache
        self.connectivity = connectivity or Connectivity()
        self.interval_s = interval_s
        self.skew_threshold_ms = skew_threshold_ms
        self.config_version = config_version
        self.uploader = uploader
        self.status = ClockStatus()
        self._recorded = False

    def run_once(self) -> float:
        self.cache.tick(self.client.corrected_now())  # saves the time floor, offline too
        stats = self.outbox.stats()
        try:
            result = self.client.heartbeat(
                config_version=self.config_version, snapshot_version=self.cache.version,
                outbox_pending=stats["pending"], oldest_pending_at=stats["oldest_pending_at"],
                last_seq=stats["last_seq"])
        except ServiceUnavailable:
            self.connectivity.failed()
            raise
        self.connectivity.ok()
        offset = self.client.clock_offset_ms
        self.status.offset_ms = offset
        self.status.last_rtt_ms = result.get("rtt_ms")
        by_service = bool(result.get("skew_alarm"))
        skewed = by_service or abs(offset) > self.skew_threshold_ms
        if skewed and not self.status.skew_alarm:
            log.error("agent.clock.skew_alarm offset_ms=%d", offset)
            # The service records its own clock_skew alarm when it sees the skew; the agent
            # adds one only for its own (stricter) threshold, so no alarm is counted twice.
            if not by_service:
                self._record_skew(True, offset)
                self._recorded = True
        elif not skewed and self.status.skew_alarm:
            log.info("agent.clock.skew_cleared offset_ms=%d", offset)
            if self._recorded:
                self._record_skew(False, offset)
                self._recorded = False
        self.status.skew_alarm = skewed
        return self.interval_s

    def _record_skew(self, skewed: bool, offset: int) -> None:
        now = self.client.device_now()
        self.outbox.append({
            "kind": "alarm", "occurred_at": format_time(now), "clock_offset_ms": offset,
            "data": {"alarm": "clock_skew", "active": skewed, "offset_ms": offset,
                     "threshold_ms": self.skew_threshold_ms}})
        if self.uploader is not None:
            self.uploader.notify()


class SnapshotWatcher(Worker):
    """Keeps the snapshot current: long-poll for a new version, then fetch the delta (and,
    through ``after_sync``, the config bundle: a door change bumps the snapshot version too).

    Every round ends with a fetch, so the snapshot's signed ``issued_at`` also proves how
    recently the agent was in sync (the offline age limit is measured from it).
    """

    name = "snapshot"

    def __init__(self, client: ServiceClient, cache: SnapshotCache, stop: threading.Event, *,
                 connectivity: Connectivity | None = None, wait_s: float = 25.0,
                 after_sync: Callable[[], object] | None = None) -> None:
        super().__init__(stop)
        self.client = client
        self.cache = cache
        self.connectivity = connectivity or Connectivity()
        self.wait_s = wait_s
        self.applied = 0
        # Runs after each sync: the agent fetches its config bundle on the same poll.
        self.after_sync = after_sync

    def sync(self) -> Any:
        """Fetch (delta or full) and apply; returns the new snapshot."""
        version = self.cache.version
        snap = self._fetch_and_apply(version)
        release_free_memory()  # the fetched document is garbage now
        self.applied += 1
        if snap.version != version:
            log.info("agent.snapshot.updated version=%s→%d", version, snap.version)
        if self.after_sync is not None:
            self.after_sync()
        return snap

    def _fetch_and_apply(self, version: int | None) -> Any:
        full = version is None or self.cache.delta_count >= MAX_DELTAS
        try:
            doc = self.client.snapshot(None if full else version)
        except ServiceUnavailable:
            self.connectivity.failed()
            raise
        self.connectivity.ok()
        try:
            snap = self.cache.apply(doc)
        except SnapshotError:
            if full:
                raise
            # A delta that does not fit (e.g. the service lost history): start over.
            snap = self.cache.apply(self.client.snapshot(None))
        return snap

    def run_once(self) -> float:
        if self.cache.version is None:
            self.sync()
            return 0.0
        try:
            self.client.snapshot_wait(self.cache.version, self.wait_s)
        except ServiceUnavailable:
            self.connectivity.failed()
            raise
        self.sync()
        return 0.0
