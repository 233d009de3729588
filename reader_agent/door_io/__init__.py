"""Door hardware: the :class:`DoorIO` seam, its drivers and the controller that runs gate.door.

``door_io`` in the reader config picks the driver: ``sim`` (:class:`SimDoorIO`) or ``gpio``
(:class:`GpioDoorIO`). :func:`controller_from_config` builds the whole thing from a
``firmware_config.models.ReaderConfig``; the result has ``unlock(door_id, seconds)`` and so
plugs into the reader agent as its door I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from gate.door import DoorTiming

from .base import (
    Beep,
    Blink,
    DoorIO,
    DoorIOConfigError,
    DoorIOError,
    DoorIOHardwareError,
    beep_from,
    blink_from,
)
from .controller import DoorController, DoorNotice, Feedback
from .sim import SimDoorIO

__all__ = [
    "Beep",
    "Blink",
    "DoorController",
    "DoorIO",
    "DoorIOConfigError",
    "DoorIOError",
    "DoorIOHardwareError",
    "DoorNotice",
    "Feedback",
    "SimDoorIO",
    "controller_from_config",
    "feedback_from_config",
    "open_door_io",
]


def _strike_doors(reader: Any) -> list[Any]:
    return [d for d in reader.doors if d.has_strike]


def open_door_io(reader: Any, *, pin_factory: Any = None) -> DoorIO:
    """The driver named by ``reader.door_io`` for the reader's doors that have a strike."""
    doors = _strike_doors(reader)
    kind = str(reader.door_io).split(":", 1)[0]
    if kind == "sim":
        return SimDoorIO({d.door_id: True for d in doors}, name=str(reader.name))
    if kind == "gpio":
        from .gpio import GpioDoor, GpioDoorIO

        ind = reader.indicator
        return GpioDoorIO(
            [GpioDoor(d.door_id, d.relay_pin, d.sensor_pin, d.relay_active_high,
                      d.sensor_closed_is_low) for d in doors],
            green_pin=ind.green_pin, red_pin=ind.red_pin, buzzer_pin=ind.buzzer_pin,
            pin_factory=pin_factory)
    raise DoorIOConfigError(f"unknown door_io {reader.door_io!r}: expected sim or gpio")


def feedback_from_config(reader: Any) -> Feedback:
    """LED and buzzer patterns from the reader config's ``led`` and ``buzzer`` sections."""
    led = {k: blink_from(getattr(reader.led, k))
           for k in ("granted", "denied", "error", "alarm", "idle")}
    buzzer = {k: beep_from(getattr(reader.buzzer, k))
              for k in ("granted", "denied", "error", "alarm")}
    return Feedback(led=led, buzzer=buzzer)


def controller_from_config(
    reader: Any,
    *,
    io: DoorIO | None = None,
    pin_factory: Any = None,
    clock: Callable[[], float] = time.monotonic,
    on_notice: Callable[[DoorNotice], None] | None = None,
) -> DoorController:
    """A controller for the reader's strike doors, with the timings from its config."""
    timings = {d.door_id: DoorTiming(float(d.unlock_seconds), float(d.held_open_seconds))
               for d in _strike_doors(reader)}
    return DoorController(io or open_door_io(reader, pin_factory=pin_factory), timings,
                          clock=clock, on_notice=on_notice,
                          feedback=feedback_from_config(reader))
