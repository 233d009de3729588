"""The door I/O seam: relays, door-position sensors, LEDs and a buzzer.

Drivers (chosen by the reader config's ``door_io``):

- ``sim``  — :class:`reader_agent.door_io.sim.SimDoorIO`, a real driver for demos and tests;
- ``gpio`` — :class:`reader_agent.door_io.gpio.GpioDoorIO`, gpiozero on the reader host.

Errors::

    DoorIOError                  anything the door hardware refused
     ├── DoorIOConfigError       a pin that does not exist, is in use, or a door with no relay
     └── DoorIOHardwareError     a pin/driver failure while running

Drivers translate their library's exceptions at the boundary (``raise DoorIOError(...) from
err``). Nothing in a driver decides anything: the decisions are ``gate.door``'s, applied by
:class:`reader_agent.door_io.controller.DoorController`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "Beep",
    "Blink",
    "DoorIO",
    "DoorIOConfigError",
    "DoorIOError",
    "DoorIOHardwareError",
    "SensorCallback",
    "beep_from",
    "blink_from",
]


class DoorIOError(Exception):
    """The door hardware could not do what was asked."""


class DoorIOConfigError(DoorIOError):
    """The door I/O configuration does not fit the hardware (pin, door id)."""


class DoorIOHardwareError(DoorIOError):
    """A relay, sensor, LED or buzzer failed while running."""


@dataclass(frozen=True)
class Blink:
    """An LED pattern: ``repeat`` times ``color`` on for ``on_ms`` then off for ``off_ms``.

    ``on_ms = 0`` with a colour means "steady" (until the next pattern); ``color = "off"``
    switches the LED off.
    """

    color: str = "off"  # green | red | amber | blue | off
    on_ms: int = 0
    off_ms: int = 0
    repeat: int = 1


@dataclass(frozen=True)
class Beep:
    """A buzzer pattern: ``beeps`` beeps of ``on_ms`` separated by ``off_ms`` (0 = silent)."""

    beeps: int = 1
    on_ms: int = 100
    off_ms: int = 100


def blink_from(pattern: Any) -> Blink:
    """A :class:`Blink` from anything with ``color, on_ms, off_ms, repeat`` (config models)."""
    return Blink(str(pattern.color), int(pattern.on_ms), int(pattern.off_ms), int(pattern.repeat))


def beep_from(pattern: Any) -> Beep:
    """A :class:`Beep` from anything with ``beeps, on_ms, off_ms`` (config models)."""
    return Beep(int(pattern.beeps), int(pattern.on_ms), int(pattern.off_ms))


# Called with (door_id, is_open) when a door sensor changes, from the driver's own thread.
SensorCallback = Callable[[int, bool], None]


@runtime_checkable
class DoorIO(Protocol):
    """The hardware of one reader host's doors, as the door controller sees it.

    Like nfcpy's ``Device`` stubs, every method is documented here and a driver implements
    all of them. Methods return promptly: patterns play in the background.
    """

    def door_ids(self) -> tuple[int, ...]:
        """The doors this driver has hardware for."""
        ...

    def set_relay(self, door_id: int, energized: bool) -> None:
        """Energize (``True``: a fail-secure strike releases) or de-energize the door's relay.

        Raises :class:`DoorIOConfigError` for a door without a relay, and
        :class:`DoorIOHardwareError` if the pin cannot be driven.
        """
        ...

    def read_sensor(self, door_id: int) -> bool | None:
        """``True`` if the door is open, ``False`` if shut, ``None`` if it has no sensor."""
        ...

    def set_sensor_callback(self, callback: SensorCallback | None) -> None:
        """Call ``callback(door_id, is_open)`` on every sensor change (``None`` to stop).

        The callback may run on a driver thread; it must be quick and thread-safe.
        """
        ...

    def led(self, pattern: Blink) -> None:
        """Play an LED pattern on the reader, replacing the one playing."""
        ...

    def buzzer(self, pattern: Beep) -> None:
        """Play a buzzer pattern on the reader, replacing the one playing."""
        ...

    def close(self) -> None:
        """De-energize every relay, stop patterns and release the pins. Idempotent."""
        ...
