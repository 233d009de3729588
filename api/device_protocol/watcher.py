"""Waking long-polls (``/snapshot/wait``) when the snapshot version changes.

One ``VersionWatcher`` per app runs one background thread, started by the first waiter and
ending after a while without waiters:

- on PostgreSQL it ``LISTEN``s on ``mynagate_snapshot`` with its own psycopg connection, so a
  ``bump`` committed by any API process (``pg_notify`` in ``api.snapshot.versioning``) wakes the
  waiters here within milliseconds; it also re-reads the version every ``safety_poll_s`` in
  case a notification was lost (e.g. while reconnecting);
- on SQLite (single host) it polls the counter every ``poll_s``.

Waiters are asyncio events; the thread sets them through their loop. A woken waiter re-reads
the version from the database, so a notification is only ever a hint.

After waking the waiters on a notification, the thread runs ``on_version`` (the app's: build
the shared snapshot table of that version, ``api.snapshot.tables``), so the table is being
read while the woken agents' answers and their snapshot requests are still on the way; those
requests then wait for that one build instead of starting it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from api.models import SnapshotCounter
from api.models.base import utcnow
from api.snapshot.service import prefetch_table
from api.snapshot.versioning import NOTIFY_CHANNEL

log = logging.getLogger(__name__)


class VersionWatcher:
    def __init__(self, engine: Engine, *, poll_s: float = 0.5, safety_poll_s: float = 10.0,
                 idle_exit_s: float = 15.0,
                 on_version: Callable[[int], object] | None = None) -> None:
        self.engine = engine
        self.on_version = on_version
        self.poll_s = poll_s
        self.safety_poll_s = safety_poll_s
        self.idle_exit_s = idle_exit_s
        self.mode = "listen" if engine.dialect.name == "postgresql" else "poll"
        self.notifications = 0  # NOTIFY messages received (for tests and diagnostics)
        self.latest = -1
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._listening = threading.Event()

    # --- reading --------------------------------------------------------------------------
    def read_version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(
                select(SnapshotCounter.version).where(SnapshotCounter.id == 1)).scalar_one())

    # --- waiting --------------------------------------------------------------------------
    async def wait_above(self, version: int, timeout: float,
                         gone: Callable[[], Awaitable[bool]] | None = None) -> int:
        """The current version as soon as it exceeds ``version``, or at the timeout.

        ``gone`` (e.g. ``request.is_disconnected``) is checked every second, so a waiter whose
        client went away does not linger until its timeout."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        key = (loop, event)
        with self._lock:
            self._waiters.add(key)
        self._ensure_thread()
        deadline = loop.time() + timeout
        try:
            while True:
                event.clear()  # before reading: a change after the read sets it again
                cur = await asyncio.to_thread(self.read_version)
                if cur > version:
                    return cur
                while not event.is_set():
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        return await asyncio.to_thread(self.read_version)
                    if gone is not None and await gone():
                        return cur
                    try:
                        await asyncio.wait_for(event.wait(), min(remaining, 1.0))
                    except TimeoutError:
                        pass
        finally:
            with self._lock:
                self._waiters.discard(key)

    def wait_listening(self, timeout: float = 5.0) -> bool:
        """Block until the LISTEN connection is up (tests); True at once in poll mode."""
        return self.mode == "poll" or self._listening.wait(timeout)

    def _wake_all(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # loop closed: the waiter is gone
                pass

    # --- the thread -----------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="snapshot-watcher",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    def _should_exit(self, idle_since: float | None) -> tuple[bool, float | None]:
        """(exit now?, new idle_since). Decided under the lock, so a waiter arriving at the
        same moment either keeps this thread or finds it gone and starts a new one."""
        with self._lock:
            if self._waiters:
                return False, None
            now = time.monotonic()
            if idle_since is None:
                return False, now
            if now - idle_since > self.idle_exit_s:
                self._thread = None
                return True, idle_since
            return False, idle_since

    def _run(self) -> None:
        try:
            if self.mode == "listen":
                self._run_listen()
            else:
                self._run_poll()
        except Exception:  # never let the thread die silently
            log.exception("snapshot.watcher.crashed")
        finally:
            self._listening.clear()

    def _check(self) -> None:
        try:
            v = self.read_version()
        except Exception as err:
            log.warning("snapshot.watcher.read_failed error=%s", type(err).__name__)
            return
        if v != self.latest:
            self.latest = v
            self._wake_all()

    def _run_poll(self) -> None:
        idle_since: float | None = None
        while not self._stop.is_set():
            done, idle_since = self._should_exit(idle_since)
            if done:
                return
            if idle_since is None:
                self._check()
            self._stop.wait(self.poll_s)

    def _psycopg_url(self) -> str:
        url = make_url(self.engine.url.render_as_string(hide_password=False))
        return url.set(drivername="postgresql").render_as_string(hide_password=False)

    def _run_listen(self) -> None:
        idle_since: float | None = None
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._psycopg_url(), autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self._listening.set()
                    log.info("snapshot.watcher.listening channel=%s", NOTIFY_CHANNEL)
                    self._check()  # anything committed before LISTEN took effect
                    last_check = time.monotonic()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self.notifications += 1
                            self._on_notify(note.payload)
                        done, idle_since = self._should_exit(idle_since)
                        if done:
                            return
                        if time.monotonic() - last_check > self.safety_poll_s:
                            self._check()
                            last_check = time.monotonic()
            except psycopg.Error as err:
                self._listening.clear()
                log.warning("snapshot.watcher.listen_failed error=%s; retrying",
                            type(err).__name__)
                self._check()
                done, idle_since = self._should_exit(idle_since)
                if done:
                    return
                self._stop.wait(2.0)

    def _on_notify(self, payload: Any) -> None:
        try:
            v = int(payload)
        except (TypeError, ValueError):
            v = self.latest + 1
        if v > self.latest:
            self.latest = v
        self._wake_all()
        if self.on_version is not None:
            try:
                self.on_version(v)
            except Exception as err:  # a hint too: the requests build the table themselves
                log.warning("snapshot.watcher.prefetch_failed error=%s", type(err).__name__)


def get_watcher(app: Any) -> VersionWatcher:
    """The app's watcher, created on first use."""
    watcher: VersionWatcher | None = getattr(app.state, "snapshot_watcher", None)
    if watcher is None:
        with _create_lock:
            watcher = getattr(app.state, "snapshot_watcher", None)
            if watcher is None:
                engine, tz = app.state.db.engine, ZoneInfo(app.state.settings.timezone)
                watcher = VersionWatcher(engine, on_version=lambda v: prefetch_table(
                    engine, v, utcnow(), tz))
                app.state.snapshot_watcher = watcher
    return watcher


_create_lock = threading.Lock()
