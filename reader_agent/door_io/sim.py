"""A simulated door: a real driver that keeps its relays and doors in memory.

The demo and the tests use it the way a technician uses a door: ``open_door``/``close_door``
move the door (firing the sensor callback like a reed switch would), and ``log`` records
everything the controller asked of the hardware, in order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from .base import Beep, Blink, DoorIOConfigError, SensorCallback

log = logging.getLogger(__name__)

__all__ = ["SimDoorIO", "SimRecord"]


@dataclass(frozen=True)
class SimRecord:
    """One thing the hardware was asked to do: ("relay", door, on) / ("led", …) / ("buzzer", …)."""

    what: str
    door_id: int | None
    value: object


class SimDoorIO:
    """In-memory relays and doors. ``doors``: door id → whether it has a sensor."""

    def __init__(self, doors: Iterable[int] | dict[int, bool], *, name: str = "sim") -> None:
        items = doors.items() if isinstance(doors, dict) else ((d, True) for d in doors)
        self.name = name
        self._has_sensor: dict[int, bool] = {int(d): bool(s) for d, s in items}
        self._relay = dict.fromkeys(self._has_sensor, False)
        self._open = dict.fromkeys(self._has_sensor, False)
        self._lock = threading.Lock()
        self._callback: SensorCallback | None = None
        self.log: list[SimRecord] = []
        self.current_led: Blink = Blink()
        self.closed = False

    # -- DoorIO ---------------------------------------------------------------------------

    def door_ids(self) -> tuple[int, ...]:
        return tuple(self._has_sensor)

    def set_relay(self, door_id: int, energized: bool) -> None:
        with self._lock:
            self._check(door_id)
            self._relay[door_id] = energized
            self.log.append(SimRecord("relay", door_id, energized))
        log.debug("door_io.sim.relay door=%s energized=%s", door_id, energized)

    def read_sensor(self, door_id: int) -> bool | None:
        with self._lock:
            self._check(door_id)
            return self._open[door_id] if self._has_sensor[door_id] else None

    def set_sensor_callback(self, callback: SensorCallback | None) -> None:
        self._callback = callback

    def led(self, pattern: Blink) -> None:
        with self._lock:
            self.current_led = pattern
            self.log.append(SimRecord("led", None, pattern))

    def buzzer(self, pattern: Beep) -> None:
        with self._lock:
            self.log.append(SimRecord("buzzer", None, pattern))

    def close(self) -> None:
        with self._lock:
            for door_id, on in self._relay.items():
                if on:
                    self._relay[door_id] = False
                    self.log.append(SimRecord("relay", door_id, False))
            self.closed = True
        self._callback = None

    # -- the technician's side ------------------------------------------------------------

    def relay(self, door_id: int) -> bool:
        """Whether the door's relay is energized now."""
        with self._lock:
            return self._relay[door_id]

    def is_open(self, door_id: int) -> bool:
        with self._lock:
            return self._open[door_id]

    def open_door(self, door_id: int) -> None:
        """Push the door open (whether or not the strike is released: that is the point)."""
        self._move(door_id, True)

    def close_door(self, door_id: int) -> None:
        self._move(door_id, False)

    def relay_history(self, door_id: int) -> list[bool]:
        return [bool(r.value) for r in self.log if r.what == "relay" and r.door_id == door_id]

    def _move(self, door_id: int, is_open: bool) -> None:
        with self._lock:
            self._check(door_id)
            changed = self._open[door_id] != is_open
            self._open[door_id] = is_open
            has_sensor = self._has_sensor[door_id]
        cb = self._callback
        if changed and has_sensor and cb is not None:
            cb(door_id, is_open)

    def _check(self, door_id: int) -> None:
        if door_id not in self._has_sensor:
            raise DoorIOConfigError(f"no door {door_id} on {self.name}")
