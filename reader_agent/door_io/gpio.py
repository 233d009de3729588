"""Door I/O on the reader host's GPIO header, through gpiozero (the ``gpio`` extra).

Wiring (BCM numbering, see docs/deploy-reader.md):

- each door's strike relay on an output pin (``relay_active_high`` for the relay board's
  input polarity; most opto-isolated boards are active low);
- each door's position sensor (a reed contact) between an input pin and ground, read with the
  internal pull-up: a shut door closes the contact and reads low (``sensor_closed_is_low``);
- optionally a green LED, a red LED (both = amber) and an active buzzer.

gpiozero picks the pin library of the host (lgpio, RPi.GPIO, native); tests pass gpiozero's
``MockFactory`` as ``pin_factory``. gpiozero errors become :class:`DoorIOConfigError` while the
pins are claimed and :class:`DoorIOHardwareError` afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .base import Beep, Blink, DoorIOConfigError, DoorIOHardwareError, SensorCallback

log = logging.getLogger(__name__)

__all__ = ["GpioDoor", "GpioDoorIO"]


@dataclass(frozen=True)
class GpioDoor:
    door_id: int
    relay_pin: int | str | None
    sensor_pin: int | str | None = None
    relay_active_high: bool = True
    sensor_closed_is_low: bool = True


class GpioDoorIO:
    """Relays, door sensors, LEDs and buzzer on GPIO pins via gpiozero."""

    def __init__(
        self,
        doors: Iterable[GpioDoor],
        *,
        green_pin: int | str | None = None,
        red_pin: int | str | None = None,
        buzzer_pin: int | str | None = None,
        bounce_time: float | None = 0.05,
        pin_factory: Any = None,
    ) -> None:
        try:
            import gpiozero  # type: ignore[import-untyped]
        except ImportError as err:  # pragma: no cover - the gpio extra is not installed
            raise DoorIOConfigError("door_io = \"gpio\" needs gpiozero (pip install "
                                    "'mynagate[gpio]')") from err
        self._gz = gpiozero
        self._callback: SensorCallback | None = None
        self._relays: dict[int, Any] = {}
        self._sensors: dict[int, Any] = {}
        self._doors = tuple(doors)
        self._green: Any = None
        self._red: Any = None
        self._buzzer: Any = None
        self._closed = False
        try:
            for d in self._doors:
                if d.relay_pin is not None:
                    self._relays[d.door_id] = gpiozero.OutputDevice(
                        d.relay_pin, active_high=d.relay_active_high, initial_value=False,
                        pin_factory=pin_factory)
                if d.sensor_pin is not None:
                    dev = gpiozero.DigitalInputDevice(
                        d.sensor_pin, pull_up=d.sensor_closed_is_low, bounce_time=bounce_time,
                        pin_factory=pin_factory)
                    dev.when_activated = self._edge(d.door_id, is_open=False)
                    dev.when_deactivated = self._edge(d.door_id, is_open=True)
                    self._sensors[d.door_id] = dev
            if green_pin is not None:
                self._green = gpiozero.LED(green_pin, pin_factory=pin_factory)
            if red_pin is not None:
                self._red = gpiozero.LED(red_pin, pin_factory=pin_factory)
            if buzzer_pin is not None:
                self._buzzer = gpiozero.Buzzer(buzzer_pin, pin_factory=pin_factory)
        except gpiozero.GPIOZeroError as err:
            self.close()
            raise DoorIOConfigError(f"cannot claim the door pins: {err}") from err

    def _edge(self, door_id: int, *, is_open: bool) -> Any:
        def fire() -> None:
            cb = self._callback
            if cb is not None:
                cb(door_id, is_open)
        return fire

    # -- DoorIO ---------------------------------------------------------------------------

    def door_ids(self) -> tuple[int, ...]:
        return tuple(d.door_id for d in self._doors)

    def set_relay(self, door_id: int, energized: bool) -> None:
        dev = self._relays.get(door_id)
        if dev is None:
            raise DoorIOConfigError(f"door {door_id} has no relay pin")
        try:
            if energized:
                dev.on()
            else:
                dev.off()
        except self._gz.GPIOZeroError as err:
            raise DoorIOHardwareError(f"relay of door {door_id}: {err}") from err

    def read_sensor(self, door_id: int) -> bool | None:
        dev = self._sensors.get(door_id)
        if dev is None:
            if door_id not in self.door_ids():
                raise DoorIOConfigError(f"no door {door_id} on this host")
            return None
        try:
            return not dev.is_active
        except self._gz.GPIOZeroError as err:
            raise DoorIOHardwareError(f"sensor of door {door_id}: {err}") from err

    def set_sensor_callback(self, callback: SensorCallback | None) -> None:
        self._callback = callback

    def led(self, pattern: Blink) -> None:
        green = pattern.color in ("green", "amber")
        red = pattern.color in ("red", "amber")
        try:
            for dev, lit in ((self._green, green), (self._red, red)):
                if dev is None:
                    continue
                if not lit:
                    dev.off()
                elif pattern.on_ms == 0:
                    dev.on()
                else:
                    dev.blink(on_time=pattern.on_ms / 1000, off_time=pattern.off_ms / 1000,
                              n=pattern.repeat, background=True)
        except self._gz.GPIOZeroError as err:
            raise DoorIOHardwareError(f"LED: {err}") from err

    def buzzer(self, pattern: Beep) -> None:
        if self._buzzer is None:
            return
        try:
            if pattern.beeps == 0 or pattern.on_ms == 0:
                self._buzzer.off()
            else:
                self._buzzer.beep(on_time=pattern.on_ms / 1000, off_time=pattern.off_ms / 1000,
                                  n=pattern.beeps, background=True)
        except self._gz.GPIOZeroError as err:
            raise DoorIOHardwareError(f"buzzer: {err}") from err

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._callback = None
        devices = [*self._relays.values(), *self._sensors.values(),
                   self._green, self._red, self._buzzer]
        for dev in devices:
            if dev is None:
                continue
            try:
                if hasattr(dev, "off"):
                    dev.off()
                dev.close()
            except self._gz.GPIOZeroError as err:  # pragma: no cover - best effort on shutdown
                log.warning("door_io.gpio.close_failed %s", err)
