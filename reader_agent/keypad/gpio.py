"""``gpio:[R1,R2,R3,R4/C1,C2,C3]``: a 4×3 matrix keypad on the host's GPIO header (gpiozero).

Wiring (BCM numbers; default rows 21, 20, 16, 12 and columns 7, 8, 25)::

    row pins    → the keypad's row lines (driven low one at a time while scanning)
    column pins → the keypad's column lines, read with the internal pull-up:
                  a pressed key joins its row and column, so the column reads low

    layout      1 2 3 / 4 5 6 / 7 8 9 / * 0 #

The rows are scanned every ``scan_s`` seconds while a PIN is awaited. A key still pressed after
``stuck_seconds`` is :class:`KeypadStuck`; a pin that cannot be claimed is
:class:`KeypadUnavailable`. Tests pass gpiozero's ``MockFactory`` as ``pin_factory``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import gpiozero

from firmware_config.models import DEFAULT_KEYPAD_COLS, DEFAULT_KEYPAD_ROWS

from .base import HostKeypad, KeypadOptions, KeypadStuck, KeypadUnavailable

__all__ = ["LAYOUT", "MatrixKeypad"]

log = logging.getLogger(__name__)

LAYOUT = ("123", "456", "789", "*0#")


class MatrixKeypad(HostKeypad):
    """A 4×3 matrix keypad scanned through gpiozero."""

    def __init__(self, rows: Sequence[int] = DEFAULT_KEYPAD_ROWS,
                 cols: Sequence[int] = DEFAULT_KEYPAD_COLS,
                 options: KeypadOptions | None = None, *, pin_factory: Any = None,
                 scan_s: float = 0.01) -> None:
        if len(rows) != 4 or len(cols) != 3 or len({*rows, *cols}) != 7:
            raise ValueError("a 4×3 keypad needs 4 row pins and 3 column pins, all different")
        name = "gpio:" + ",".join(map(str, rows)) + "/" + ",".join(map(str, cols))
        super().__init__(name, options)
        self.rows, self.cols = tuple(rows), tuple(cols)
        self._factory = pin_factory
        self._scan_s = scan_s
        self._row_dev: list[Any] = []
        self._col_dev: list[Any] = []
        self._held: str | None = None
        self._held_since = 0.0

    def _open(self) -> None:
        if self._row_dev:
            return
        try:
            # active_high=False: "on" drives the row low; idle rows float high.
            self._row_dev = [gpiozero.DigitalOutputDevice(p, active_high=False,
                                                          initial_value=False,
                                                          pin_factory=self._factory)
                             for p in self.rows]
            self._col_dev = [gpiozero.DigitalInputDevice(p, pull_up=True,
                                                         pin_factory=self._factory)
                             for p in self.cols]
        except gpiozero.GPIOZeroError as err:
            self.close()
            raise KeypadUnavailable(f"cannot claim the keypad pins: {err}") from err

    def scan(self) -> str | None:
        """The key pressed now (the first one found), or None."""
        found = None
        try:
            for r, row in enumerate(self._row_dev):
                row.on()
                try:
                    for c, col in enumerate(self._col_dev):
                        if found is None and col.is_active:
                            found = LAYOUT[r][c]
                finally:
                    row.off()
        except gpiozero.GPIOZeroError as err:
            raise KeypadUnavailable(f"keypad pins failed: {err}") from err
        return found

    def _next_key(self, wait: float) -> str | None:
        """The next key *press* (a key going down) within ``wait`` seconds."""
        deadline = time.monotonic() + wait
        while True:
            key = self.scan()
            now = time.monotonic()
            if key is None:
                self._held = None
            elif key != self._held:
                self._held, self._held_since = key, now
                return key
            elif now - self._held_since > self.options.stuck_seconds:
                raise KeypadStuck(f"key {key!r} held for over {self.options.stuck_seconds:g} s")
            if now >= deadline:
                return None
            time.sleep(self._scan_s)

    def discard_input(self) -> None:
        self._held = None

    def close(self) -> None:
        for dev in (*self._row_dev, *self._col_dev):
            try:
                dev.close()
            except gpiozero.GPIOZeroError as err:
                log.debug("keypad.gpio.close_failed error=%s", type(err).__name__)
        self._row_dev, self._col_dev = [], []
