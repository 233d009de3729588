"""The reader's display seam: what the person at the door sees (and the LED/buzzer outcome).

A real reader drives an LCD or LEDs through its own ``Display``; the simulator prints to the
console; tests record.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Protocol, TextIO


class Display(Protocol):
    """Show one message for a tap.

    ``ok`` selects the green (True) or red (False) indication; implementations must not block
    for longer than a few milliseconds, because the tap path calls them after the door opened.
    """

    def show(self, text: str, *, ok: bool) -> None: ...


@dataclass(frozen=True)
class Shown:
    text: str
    ok: bool


class RecordingDisplay:
    """Keeps every message (tests and the demo read it back)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.shown: list[Shown] = []

    def show(self, text: str, *, ok: bool) -> None:
        with self._lock:
            self.shown.append(Shown(text, ok))

    @property
    def last(self) -> Shown | None:
        with self._lock:
            return self.shown[-1] if self.shown else None


class ConsoleDisplay:
    """Prints each message on one line, prefixed with ○ (ok) or × (denied)."""

    def __init__(self, stream: TextIO | None = None, prefix: str = "") -> None:
        self._stream = stream or sys.stdout
        self._prefix = prefix

    def show(self, text: str, *, ok: bool) -> None:
        mark = "○" if ok else "×"
        print(f"{self._prefix}{mark} {text}", file=self._stream, flush=True)
