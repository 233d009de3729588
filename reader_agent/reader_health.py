"""A reader that keeps failing raises an alarm: pcscd down, the reader unplugged, its handles
used up. The agent's run loop reports every round to :class:`ReaderHealth`; after
``threshold`` failures in a row an ``alarm`` event ``reader_failing`` is recorded (with the
error's typed code, e.g. ``transport`` or ``reader_unavailable``), and the first round that
works again records it cleared."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gate.door import Alarm

from .drivers import CardError

__all__ = ["ReaderHealth"]

log = logging.getLogger(__name__)

# 5 rounds of the run loop: about 2.5 s at its default poll, longer than any one-off glitch.
DEFAULT_THRESHOLD = 5


class ReaderHealth:
    """Counts consecutive reader failures and records the ``reader_failing`` alarm."""

    def __init__(self, reader_id: str, record: Callable[[dict[str, Any]], Any], *,
                 threshold: int = DEFAULT_THRESHOLD) -> None:
        self.reader_id = reader_id
        self._record = record
        self.threshold = threshold
        self.failures = 0
        self.alarm = False

    def failed(self, err: BaseException) -> None:
        self.failures += 1
        if self.failures >= self.threshold and not self.alarm:
            self.alarm = True
            code = err.code if isinstance(err, CardError) else "error"
            log.error("agent.reader.failing reader=%s error=%s failures=%d", self.reader_id,
                      code, self.failures)
            self._record({"alarm": Alarm.READER_FAILING, "active": True,
                          "reader": self.reader_id, "error": code,
                          "detail": str(err)[:200], "failures": self.failures})

    def ok(self) -> None:
        if self.alarm:
            log.info("agent.reader.recovered reader=%s failures=%d", self.reader_id,
                     self.failures)
            self._record({"alarm": Alarm.READER_FAILING, "active": False,
                          "reader": self.reader_id, "failures": self.failures})
        self.failures = 0
        self.alarm = False
