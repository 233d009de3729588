"""The PIN keypad seam: a keypad reads the digits of a card+PIN door, or verifies them itself.

Keypads are chosen by URI (:func:`reader_agent.keypad.open_keypad`), like the card drivers::

    sim:[NAME]                   in-process keypad fed by the demo and tests (a real driver)
    serial:DEVICE[:BAUD]         a serial or USB-serial keypad, one ASCII character per key
    gpio:[R1,R2,R3,R4/C1,C2,C3]  a 4×3 matrix keypad on GPIO (BCM numbers), via gpiozero
    pcsc-pinpad:[NAME]           the PC/SC reader's own PIN pad (secure PIN entry, PC/SC
                                 Part 10 FEATURE_VERIFY_PIN_DIRECT): the PIN never reaches us

Host keypads (``sim``, ``serial``, ``gpio``) return the digits in a :class:`bytearray` that the
caller wipes (:func:`wipe`) as soon as the VERIFY command is built; the keypad wipes its own
buffers, and nothing logs a digit. A secure keypad (``secure = True``) is never asked for
digits: the card sequence gives it the VERIFY command template instead.

Errors::

    KeypadError                 anything wrong with the keypad
     ├── KeypadUnavailable      cannot be opened, unplugged, or lacks the needed feature (alarm)
     ├── KeypadStuck            a key keeps repeating or stays pressed (alarm)
     └── PinNotEntered          nobody confirmed a PIN in time or the entry was cancelled
                                (also a TimeoutError; a normal outcome, not an alarm)

A fault (unavailable, stuck) is reported once through ``on_fault(error, active=True)`` and its
end through ``on_fault(error, active=False)`` when the keypad works again; the agent records
both as ``alarm`` events. Nothing a keypad does crashes the agent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = [
    "FaultCallback",
    "FaultReporter",
    "HostKeypad",
    "Keypad",
    "KeypadError",
    "KeypadOptions",
    "KeypadStuck",
    "KeypadUnavailable",
    "PinNotEntered",
    "collect_pin",
    "wipe",
]

log = logging.getLogger(__name__)


class KeypadError(Exception):
    """Something is wrong with the keypad."""

    #: the alarm name used in events
    code = "keypad_error"


class KeypadUnavailable(KeypadError):
    """The keypad cannot be opened, was unplugged, or lacks the feature it needs."""

    code = "keypad_unavailable"


class KeypadStuck(KeypadError):
    """A key keeps repeating or stays pressed."""

    code = "keypad_stuck"


class PinNotEntered(KeypadError, TimeoutError):
    """Nobody confirmed a PIN within the timeout (or the entry was cancelled)."""

    code = "pin_not_entered"


FaultCallback = Callable[[KeypadError, bool], None]


@dataclass(frozen=True)
class KeypadOptions:
    """What is common to every keypad: the PIN timeout and the clear and enter keys."""

    timeout_s: float = 20.0
    clear_key: str = "*"
    enter_key: str = "#"
    max_digits: int = 12  # more digits are ignored (a JPKI auth PIN is 4)
    stuck_repeats: int = 20  # the same key this many times in a row: stuck, not a person
    stuck_seconds: float = 5.0  # a matrix key held this long: stuck

    def __post_init__(self) -> None:
        keys = (self.clear_key, self.enter_key)
        if any(len(k) != 1 or k.isdigit() or not (k.isprintable() or k in "\r\n")
               for k in keys) \
                or self.clear_key == self.enter_key:
            raise ValueError("clear_key and enter_key are two different non-digit characters")
        if not 1 <= self.timeout_s <= 120:
            raise ValueError("the PIN timeout is between 1 and 120 seconds")


@runtime_checkable
class Keypad(Protocol):
    """A PIN keypad of a reader host."""

    #: The URI it was opened with, e.g. ``"serial:/dev/ttyUSB0"``.
    name: str
    #: True if the PIN is verified inside the reader and never reaches the host.
    secure: bool
    options: KeypadOptions

    def check(self) -> None:
        """Open the keypad (if needed) and check it can work.

        :raises KeypadUnavailable: it cannot (the agent says so at start).
        """
        ...

    def discard_input(self) -> None:
        """Forget keys pressed before this tap (called when a card is presented)."""
        ...

    def read_pin(self, timeout: float) -> bytearray:
        """Block until the enter key and return the digits typed (ASCII) in a new bytearray
        the caller must wipe.

        :raises PinNotEntered: nothing confirmed within ``timeout`` seconds.
        :raises KeypadUnavailable, KeypadStuck: a fault (already reported via ``on_fault``).
        """
        ...

    def close(self) -> None:
        """Release the keypad (idempotent)."""
        ...


def wipe(buf: bytearray) -> None:
    """Overwrite ``buf`` with zeros in place, then empty it."""
    buf[:] = bytes(len(buf))
    buf.clear()


def collect_pin(next_key: Callable[[float], str | None], options: KeypadOptions,
                timeout: float) -> bytearray:
    """Turn key presses into a PIN: digits until the enter key; the clear key starts over.

    ``next_key(wait)`` returns one key (a one-character string) or None when nothing came
    within ``wait`` seconds. Returns the digits (ASCII) in a new bytearray.
    """
    deadline = time.monotonic() + timeout
    buf = bytearray()
    last, repeats = "", 0
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PinNotEntered(f"no PIN confirmed within {timeout:g} s")
            key = next_key(min(remaining, 0.5))
            if key is None:
                continue
            repeats = repeats + 1 if key == last else 1
            last = key
            if repeats >= options.stuck_repeats:
                raise KeypadStuck(f"one key arrived {repeats} times in a row")
            if key == options.enter_key and buf:
                pin, buf = buf, bytearray()
                return pin
            if key == options.clear_key:
                wipe(buf)
            elif len(key) == 1 and "0" <= key <= "9" and len(buf) < options.max_digits:
                buf.append(ord(key))
    finally:
        wipe(buf)


class FaultReporter:
    """Reports a keypad fault once when it starts and once when it ends (``on_fault``)."""

    name: str

    def __init__(self) -> None:
        self.on_fault: FaultCallback | None = None
        self._fault: KeypadError | None = None

    def _report(self, error: KeypadError | None) -> None:
        previous, self._fault = self._fault, error
        if (error is None) == (previous is None):
            return
        log.warning("keypad.%s name=%s", "fault" if error else "recovered", self.name)
        if self.on_fault is not None:
            try:
                self.on_fault(error or previous, error is not None)  # type: ignore[arg-type]
            except Exception as err:  # reporting must never break a tap
                log.error("keypad.report_failed error=%s", type(err).__name__)


class HostKeypad(FaultReporter):
    """Base of the keypads whose digits reach the host: fault reporting around the keys."""

    secure = False

    def __init__(self, name: str, options: KeypadOptions | None = None) -> None:
        super().__init__()
        self.name = name
        self.options = options or KeypadOptions()

    def check(self) -> None:
        try:
            self._open()
        except KeypadUnavailable as err:
            self._report(err)
            raise
        self._report(None)

    def read_pin(self, timeout: float) -> bytearray:
        try:
            self._open()
            pin = collect_pin(self._next_key, self.options, timeout)
        except (KeypadUnavailable, KeypadStuck) as err:
            self._report(err)
            raise
        self._report(None)
        return pin

    def discard_input(self) -> None:
        """Keys pressed before the tap are dropped (default: nothing is buffered)."""

    def _open(self) -> None:
        """Open the device if needed; raise KeypadUnavailable if it cannot be."""

    def _next_key(self, wait: float) -> str | None:
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to release by default."""
