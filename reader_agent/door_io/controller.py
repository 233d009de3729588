"""The door controller: runs ``gate.door`` for each door of a host over a :class:`DoorIO`.

Inputs are grants (from the tap path: ``unlock(door_id, seconds)``), sensor edges (driver
callbacks, and a sensor poll at every tick to catch a missed edge), lockdown and emergency
release, and time. Every input goes through the pure machine, and its actions are applied to
the hardware in order under one lock, so the relay always follows the machine.

The clock is injectable (``clock``, monotonic seconds): tests advance a fake clock and call
:meth:`DoorController.tick`; a running agent calls :meth:`start`, which ticks on a thread at
each deadline of the machines (window end, held-open due) and at least every
``poll_interval`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from gate.door import (
    Action,
    Alarm,
    ClearAlarm,
    DoorClosed,
    DoorEvent,
    DoorOpened,
    DoorState,
    DoorTiming,
    EmergencyRelease,
    EnergizeRelay,
    Grant,
    GrantAccepted,
    Lockdown,
    RaiseAlarm,
    RefuseGrant,
    ReleaseRelay,
    Tick,
    initial_state,
    next_deadline,
    step,
)

from .base import Beep, Blink, DoorIO, DoorIOConfigError, DoorIOError

log = logging.getLogger(__name__)

__all__ = ["DoorController", "DoorNotice", "Feedback"]


@dataclass(frozen=True)
class DoorNotice:
    """Something the agent should record as an event.

    ``kind``: ``alarm_raised`` / ``alarm_cleared`` (with ``alarm``), ``grant_refused`` (with
    ``detail`` = reason), ``io_error`` (with ``detail``).
    """

    door_id: int
    kind: str
    at: float
    alarm: Alarm | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Feedback:
    """LED and buzzer patterns per outcome (from the reader config's ``led``/``buzzer``)."""

    led: Mapping[str, Blink]
    buzzer: Mapping[str, Beep]

    @classmethod
    def default(cls) -> Feedback:
        return cls(
            led={"granted": Blink("green", 1000), "denied": Blink("red", 200, 200, 3),
                 "error": Blink("amber", 200, 200, 5), "alarm": Blink("red", 500, 500, 10),
                 "idle": Blink("blue", 0)},
            buzzer={"granted": Beep(1, 100, 0), "denied": Beep(3, 80, 80),
                    "error": Beep(2, 300, 150), "alarm": Beep(10, 500, 500)},
        )


class DoorController:
    """Drives every door of one host. Thread-safe."""

    def __init__(
        self,
        io: DoorIO,
        doors: Mapping[int, DoorTiming],
        *,
        clock: Callable[[], float] = time.monotonic,
        on_notice: Callable[[DoorNotice], None] | None = None,
        feedback: Feedback | None = None,
        poll_interval: float = 0.25,
    ) -> None:
        self.io = io
        self._clock = clock
        self._on_notice = on_notice
        self.feedback = feedback or Feedback.default()
        self._poll_interval = poll_interval
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._stop = False
        self._thread: threading.Thread | None = None
        self.notices: list[DoorNotice] = []
        now = clock()
        self._states: dict[int, DoorState] = {}
        for door_id, timing in doors.items():
            sensor = io.read_sensor(door_id)
            self._states[door_id] = initial_state(timing, now=now, door_open=bool(sensor))
            io.set_relay(door_id, False)  # a known state: locked
        io.set_sensor_callback(self.on_sensor)

    # -- inputs -----------------------------------------------------------------------------

    def unlock(self, door_id: int, seconds: float) -> None:
        """The reader agent's DoorIO: release the strike for ``seconds`` (a granted tap)."""
        self.grant(door_id, seconds)

    def grant(self, door_id: int, seconds: float | None = None) -> bool:
        """Unlock ``door_id``; False if refused (lockdown)."""
        actions = self._feed(door_id, Grant(self._clock(), seconds))
        return any(isinstance(a, GrantAccepted) for a in actions)

    def retime(self, timings: Mapping[int, DoorTiming]) -> None:
        """New timings (a new config bundle) for the doors this host drives; a running
        grant keeps its window, the next one uses the new unlock time."""
        with self._wake:
            for door_id, timing in timings.items():
                if door_id in self._states:
                    self._states[door_id] = replace(self._states[door_id], timing=timing)
            self._wake.notify_all()

    def on_sensor(self, door_id: int, is_open: bool) -> None:
        """A sensor edge from the driver."""
        if door_id in self._states:
            now = self._clock()
            self._feed(door_id, DoorOpened(now) if is_open else DoorClosed(now))

    def lockdown(self, on: bool, door_id: int | None = None) -> None:
        for d in self._targets(door_id):
            self._feed(d, Lockdown(self._clock(), on))

    def emergency_release(self, on: bool, door_id: int | None = None) -> None:
        for d in self._targets(door_id):
            self._feed(d, EmergencyRelease(self._clock(), on))

    def tick(self) -> None:
        """Advance every door to now, reconciling the sensors first (a missed edge)."""
        for door_id in list(self._states):
            try:
                sensor = self.io.read_sensor(door_id)
            except DoorIOError as err:
                self._notice(DoorNotice(door_id, "io_error", self._clock(), detail=str(err)))
                sensor = None
            with self._lock:
                known = self._states[door_id].door_open
            if sensor is not None and sensor != known:
                self.on_sensor(door_id, sensor)
            self._feed(door_id, Tick(self._clock()))

    def signal(self, outcome: str) -> None:
        """Play the LED and buzzer patterns of a tap outcome (granted, denied, error…)."""
        try:
            if outcome in self.feedback.led:
                self.io.led(self.feedback.led[outcome])
            if outcome in self.feedback.buzzer:
                self.io.buzzer(self.feedback.buzzer[outcome])
        except DoorIOError as err:
            log.warning("door_io.feedback_failed %s", err)

    # -- state ------------------------------------------------------------------------------

    def state(self, door_id: int) -> DoorState:
        with self._lock:
            return self._states[door_id]

    def active_alarms(self) -> dict[int, frozenset[Alarm]]:
        with self._lock:
            return {d: s.alarms for d, s in self._states.items() if s.alarms}

    def next_deadline(self) -> float | None:
        with self._lock:
            times = [t for s in self._states.values() if (t := next_deadline(s)) is not None]
        return min(times) if times else None

    # -- the ticking thread -----------------------------------------------------------------

    def start(self) -> None:
        """Tick on a background thread until :meth:`close`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="door-controller",
                                            daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop ticking, lock every strike (the driver de-energizes) and release the pins."""
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.io.set_sensor_callback(None)
        self.io.close()

    def _run(self) -> None:
        while True:
            with self._wake:
                if self._stop:
                    return
                deadline = self.next_deadline()
                wait = self._poll_interval
                if deadline is not None:
                    wait = min(wait, max(0.0, deadline - self._clock()))
                self._wake.wait(wait)
                if self._stop:
                    return
            try:
                self.tick()
            except Exception:  # the door loop must not die; the error is logged
                log.exception("door_io.tick_failed")

    # -- internals --------------------------------------------------------------------------

    def _targets(self, door_id: int | None) -> list[int]:
        if door_id is None:
            return list(self._states)
        if door_id not in self._states:
            raise DoorIOConfigError(f"no door {door_id} on this host")
        return [door_id]

    def _feed(self, door_id: int, event: DoorEvent) -> tuple[Action, ...]:
        if door_id not in self._states:
            raise DoorIOConfigError(f"no door {door_id} on this host")
        with self._wake:
            result = step(self._states[door_id], event)
            self._states[door_id] = result.state
            for action in result.actions:
                self._apply(door_id, action, result.state.now)
            self._wake.notify_all()  # the deadline may have moved
        return result.actions

    def _apply(self, door_id: int, action: Action, now: float) -> None:
        try:
            if isinstance(action, EnergizeRelay):
                self.io.set_relay(door_id, True)
            elif isinstance(action, ReleaseRelay):
                self.io.set_relay(door_id, False)
            elif isinstance(action, RaiseAlarm):
                log.warning("door.alarm.%s door=%s", action.alarm.value, door_id)
                self._notice(DoorNotice(door_id, "alarm_raised", now, alarm=action.alarm))
                self.signal("alarm")
            elif isinstance(action, ClearAlarm):
                log.info("door.alarm_cleared.%s door=%s", action.alarm.value, door_id)
                self._notice(DoorNotice(door_id, "alarm_cleared", now, alarm=action.alarm))
                if not any(s.alarms for s in self._states.values()):
                    self.signal("idle")
            elif isinstance(action, RefuseGrant):
                self._notice(DoorNotice(door_id, "grant_refused", now, detail=action.reason))
        except DoorIOError as err:
            log.error("door_io.error door=%s %s", door_id, err)
            self._notice(DoorNotice(door_id, "io_error", now, detail=str(err)))

    def _notice(self, notice: DoorNotice) -> None:
        self.notices.append(notice)
        if self._on_notice is not None:
            try:
                self._on_notice(notice)
            except Exception:
                log.exception("door_io.notice_callback_failed")
