"""The rollback guard: what the agent has already accepted, kept apart from the snapshot file.

``snapshot-state.json`` (0600, written atomically, beside ``snapshot.json``) holds

* ``version`` and ``issued_at``: the highest snapshot the agent has accepted. A document from
  the network, or a snapshot file on disk, that is older in either is refused, so a replayed
  (genuinely signed) old snapshot, or an old ``snapshot.json`` put back, cannot revive a
  revoked card;
* ``time_floor``: a time the agent knows has passed. While the agent runs, the floor advances
  with the *monotonic* clock (``CLOCK_BOOTTIME``, which also counts suspend) and jumps to the
  wall clock whenever that is later; it is saved at least every ``persist_every``. Time as the
  agent sees it is ``max(wall clock, floor)``, so setting the host clock back, while the
  agent runs or while it is stopped, does not make the snapshot look younger and does not
  stretch the offline limit. A strictly newer signed snapshot re-anchors the floor at its
  ``issued_at``: that heals a floor pushed far ahead by a wrong clock.

What root on the host can still do is in docs/security.md ("Reader host").
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from .keys import atomic_write

__all__ = ["HighWater", "SnapshotState", "TimeFloor", "boottime"]

log = logging.getLogger(__name__)

STATE_FILE = "snapshot-state.json"
PERSIST_EVERY = timedelta(seconds=60)


def boottime() -> float:
    """Seconds since boot, including time suspended (Linux ``CLOCK_BOOTTIME``)."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


@dataclass(frozen=True)
class HighWater:
    """The newest snapshot the agent has accepted."""

    version: int
    issued_at: datetime

    def refuses(self, version: int, issued_at: datetime) -> bool:
        """True when a snapshot (``version``, ``issued_at``) is older than this mark."""
        return version < self.version or issued_at < self.issued_at

    def raised_to(self, version: int, issued_at: datetime) -> HighWater:
        return HighWater(max(self.version, version), max(self.issued_at, issued_at))


class TimeFloor:
    """Time that never runs backwards: the latest trusted time plus monotonic time since.

    Not thread-safe by itself (``SnapshotState`` locks around it).
    """

    def __init__(self, start: datetime | None, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._base = start
        self._base_mono = monotonic()

    def value(self) -> datetime | None:
        """The floor now: the base time plus the monotonic seconds elapsed since it was set."""
        if self._base is None:
            return None
        return self._base + timedelta(seconds=max(0.0, self._monotonic() - self._base_mono))

    def anchor(self, t: datetime) -> None:
        """Re-base the floor at ``t`` (a time proven by a newer signed snapshot)."""
        self._base, self._base_mono = t, self._monotonic()

    def now(self, wall: datetime) -> datetime:
        """``max(wall, floor)``; a later wall clock raises the floor to it."""
        floor = self.value()
        if floor is None or wall > floor:
            self.anchor(wall)
            return wall
        return floor


def _parse(raw: bytes) -> tuple[HighWater | None, datetime | None]:
    doc = json.loads(raw)
    if not isinstance(doc, dict) or doc.get("format") != 1:
        raise ValueError("not a snapshot state file")
    mark = None
    if doc.get("version") is not None:
        mark = HighWater(int(doc["version"]), datetime.fromisoformat(str(doc["issued_at"])))
    floor = datetime.fromisoformat(str(doc["time_floor"])) if doc.get("time_floor") else None
    for t in (mark.issued_at if mark else None, floor):
        if t is not None and t.tzinfo is None:
            raise ValueError("a time without a zone")
    return mark, floor


class SnapshotState:
    """The high-water mark and the time floor of one agent, persisted in their own file."""

    def __init__(self, path: Path, *, monotonic: Callable[[], float] = boottime,
                 persist_every: timedelta = PERSIST_EVERY) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._persist_every = persist_every
        mark, floor = None, None
        if path.exists():
            try:
                mark, floor = _parse(path.read_bytes())
            except (OSError, ValueError, KeyError, TypeError) as err:
                # Treated like a missing file: someone able to corrupt it can also delete it.
                log.error("snapshot.state.unreadable path=%s error=%s", path, err)
        self.mark: HighWater | None = mark
        if mark is not None:  # the service issued it, so that time has passed
            floor = max(floor, mark.issued_at) if floor is not None else mark.issued_at
        self._floor = TimeFloor(floor, monotonic)
        self._saved_floor = floor

    def refuses(self, version: int, issued_at: datetime) -> bool:
        with self._lock:
            return self.mark is not None and self.mark.refuses(version, issued_at)

    def accept(self, version: int, issued_at: datetime) -> None:
        """Raise the mark to an accepted snapshot and save; a newer one re-anchors the floor."""
        with self._lock:
            newer = self.mark is None or issued_at > self.mark.issued_at
            self.mark = (HighWater(version, issued_at) if self.mark is None
                         else self.mark.raised_to(version, issued_at))
            if newer:
                self._floor.anchor(issued_at)
            self._save()

    def now(self, wall: datetime) -> datetime:
        """The agent's time: ``max(wall, floor)`` (in memory; see :meth:`tick`)."""
        with self._lock:
            return self._floor.now(wall)

    def tick(self, wall: datetime) -> datetime:
        """:meth:`now`, saving the floor when it moved ``persist_every`` since the last save."""
        with self._lock:
            t = self._floor.now(wall)
            if self._saved_floor is None or abs(t - self._saved_floor) >= self._persist_every:
                self._save()
            return t

    def _save(self) -> None:
        floor = self._floor.value()
        doc = {"format": 1, "version": self.mark.version if self.mark else None,
               "issued_at": self.mark.issued_at.isoformat() if self.mark else None,
               "time_floor": floor.isoformat() if floor else None}
        atomic_write(self.path, json.dumps(doc).encode())
        self._saved_floor = floor
