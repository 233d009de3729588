"""``serial:DEVICE[:BAUD]``: a serial or USB-serial keypad (pyserial).

Such keypads send one ASCII character per key press (``0``–``9``, ``*``, ``#``; some send
``\\r`` for enter: set ``enter_key`` to match). 9600 baud, 8N1 unless the URI says otherwise.
The port is opened lazily and reopened after a fault, so a keypad plugged back in works again
without restarting the agent; an unplugged or failing port is a :class:`KeypadUnavailable`.
"""

from __future__ import annotations

import logging
import termios
import threading
from typing import Any

import serial

from .base import HostKeypad, KeypadOptions, KeypadUnavailable

__all__ = ["SerialKeypad"]

log = logging.getLogger(__name__)


class SerialKeypad(HostKeypad):
    """A keypad on a serial port."""

    def __init__(self, device: str, baud: int = 9600,
                 options: KeypadOptions | None = None) -> None:
        super().__init__(f"serial:{device}:{baud}", options)
        self.device = device
        self.baud = baud
        self._port: Any = None
        self._lock = threading.Lock()

    def _open(self) -> None:
        with self._lock:
            if self._port is not None:
                return
            try:
                self._port = serial.Serial(self.device, self.baud, timeout=0.1)
            except (serial.SerialException, OSError, ValueError) as err:
                raise KeypadUnavailable(f"cannot open {self.device}: {err}") from err

    def _drop(self) -> None:
        with self._lock:
            port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError) as err:
                log.debug("keypad.serial.close_failed error=%s", type(err).__name__)

    def discard_input(self) -> None:
        try:
            self._open()
            self._port.reset_input_buffer()
        except (KeypadUnavailable, serial.SerialException, OSError, termios.error) as err:
            log.debug("keypad.serial.discard_failed error=%s", type(err).__name__)
            self._drop()

    def _next_key(self, wait: float) -> str | None:
        port = self._port
        if port is None:
            raise KeypadUnavailable(f"{self.device} is closed")
        try:
            port.timeout = wait
            data = port.read(1)
        except (serial.SerialException, OSError, termios.error) as err:
            self._drop()
            raise KeypadUnavailable(f"{self.device}: {err}") from err
        return chr(data[0]) if data else None

    def close(self) -> None:
        self._drop()
