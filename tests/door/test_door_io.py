"""reader_agent.door_io: the simulated and gpiozero drivers under the door controller.

The GPIO driver runs on gpiozero's MockFactory pins (the pins are simulated; the gpiozero
devices, edge callbacks and blink threads are real)."""

from __future__ import annotations

import base64
import time

import pytest
from gpiozero.pins.mock import MockFactory

from firmware_config.models import ReaderConfig
from gate.door import Alarm, DoorTiming
from reader_agent.door_io import (
    Beep,
    Blink,
    DoorController,
    DoorIO,
    DoorIOConfigError,
    SimDoorIO,
    controller_from_config,
)
from reader_agent.door_io.gpio import GpioDoor, GpioDoorIO

T = DoorTiming(unlock_seconds=5.0, held_open_seconds=30.0)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, s: float) -> None:
        self.t += s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock):
    io = SimDoorIO([1, 2])
    ctl = DoorController(io, {1: T, 2: T}, clock=clock)
    yield io, ctl
    ctl.close()


def kinds(ctl: DoorController) -> list[tuple[int, str, str | None]]:
    return [(n.door_id, n.kind, n.alarm.value if n.alarm else n.detail) for n in ctl.notices]


def test_drivers_satisfy_the_protocol():
    assert isinstance(SimDoorIO([1]), DoorIO)
    f = MockFactory()
    g = GpioDoorIO([GpioDoor(1, 17, 27)], pin_factory=f)
    try:
        assert isinstance(g, DoorIO)
    finally:
        g.close()


def test_sim_grant_open_close_relocks(sim, clock):
    io, ctl = sim
    assert io.relay_history(1) == [False]  # the controller starts from a known locked state
    assert ctl.grant(1) is True
    assert io.relay(1) and not io.relay(2)
    clock.advance(1)
    io.open_door(1)
    clock.advance(1)
    io.close_door(1)
    assert not io.relay(1)
    assert io.relay_history(1) == [False, True, False]
    assert ctl.notices == []


def test_sim_relocks_after_n_seconds_on_tick(sim, clock):
    io, ctl = sim
    ctl.unlock(1, 3.0)  # the reader agent's DoorIO call
    clock.advance(2.9)
    ctl.tick()
    assert io.relay(1)
    clock.advance(0.1)
    ctl.tick()
    assert not io.relay(1)


def test_sim_forced_and_held_open_become_notices_and_alarm_feedback(sim, clock):
    io, ctl = sim
    io.open_door(2)
    clock.advance(30)
    ctl.tick()
    io.close_door(2)
    assert kinds(ctl) == [(2, "alarm_raised", "forced_open"), (2, "alarm_raised", "held_open"),
                          (2, "alarm_cleared", "held_open"), (2, "alarm_cleared", "forced_open")]
    leds = [r.value for r in io.log if r.what == "led"]
    assert leds[0] == Blink("red", 500, 500, 10)
    assert leds[-1] == Blink("blue", 0)  # idle again once every alarm is cleared
    assert not io.relay(2)


def test_sim_lockdown_and_emergency(sim, clock):
    io, ctl = sim
    ctl.lockdown(True)
    assert ctl.grant(1) is False
    assert not io.relay(1)
    assert (1, "grant_refused", "lockdown") in kinds(ctl)
    ctl.emergency_release(True)
    assert io.relay(1) and io.relay(2)
    clock.advance(3600)
    ctl.tick()
    io.open_door(1)
    assert io.relay(1) and ctl.active_alarms() == {}
    ctl.emergency_release(False)
    assert not io.relay(1) and not io.relay(2)


def test_missed_sensor_edge_is_reconciled_at_tick(clock):
    io = SimDoorIO([1])
    ctl = DoorController(io, {1: T}, clock=clock)
    io.set_sensor_callback(None)  # as if the edge interrupt were lost
    io.open_door(1)
    assert ctl.active_alarms() == {}
    ctl.tick()
    assert ctl.active_alarms() == {1: frozenset({Alarm.FORCED_OPEN})}
    ctl.close()
    assert io.closed


def test_unknown_door_is_a_config_error(sim):
    _, ctl = sim
    with pytest.raises(DoorIOConfigError):
        ctl.grant(9)
    with pytest.raises(DoorIOConfigError):
        ctl.lockdown(True, door_id=9)


def test_io_error_is_a_notice_not_a_crash(clock):
    class BrokenRelay(SimDoorIO):
        def set_relay(self, door_id: int, energized: bool) -> None:
            if energized:
                raise DoorIOConfigError("relay driver gone")
            super().set_relay(door_id, energized)

    ctl = DoorController(BrokenRelay([1]), {1: T}, clock=clock)
    ctl.grant(1)
    assert kinds(ctl) == [(1, "io_error", "relay driver gone")]


def test_background_thread_relocks_on_time():
    io = SimDoorIO([1])
    ctl = DoorController(io, {1: DoorTiming(unlock_seconds=0.05, held_open_seconds=5)},
                         poll_interval=1.0)
    ctl.start()
    try:
        ctl.grant(1)
        assert io.relay(1)
        t0 = time.monotonic()
        while io.relay(1) and time.monotonic() - t0 < 2:
            time.sleep(0.005)
        elapsed = time.monotonic() - t0
        assert not io.relay(1)
        assert elapsed < 0.9  # woke at the deadline, not at the 1 s poll
    finally:
        ctl.close()


# ---- gpiozero on MockFactory --------------------------------------------------------------


@pytest.fixture
def factory():
    return MockFactory()


def test_gpio_relay_follows_the_machine_active_low_relay(factory, clock):
    io = GpioDoorIO([GpioDoor(1, 17, 27, relay_active_high=False)], bounce_time=None,
                    pin_factory=factory)
    relay, sensor = factory.pin(17), factory.pin(27)
    sensor.drive_low()  # door shut: the reed contact pulls the input low
    ctl = DoorController(io, {1: T}, clock=clock)
    assert relay.state is True  # active low: high = relay off = locked
    ctl.grant(1)
    assert relay.state is False
    clock.advance(1)
    sensor.drive_high()  # door opens: a real gpiozero edge callback
    assert ctl.state(1).door_open
    clock.advance(1)
    sensor.drive_low()
    assert relay.state is True
    assert ctl.notices == []
    ctl.close()
    assert relay.state is True


def test_gpio_forced_open_from_a_pin_edge(factory, clock):
    io = GpioDoorIO([GpioDoor(1, 17, 27)], bounce_time=None, pin_factory=factory)
    factory.pin(27).drive_low()
    ctl = DoorController(io, {1: T}, clock=clock)
    assert io.read_sensor(1) is False
    factory.pin(27).drive_high()
    assert io.read_sensor(1) is True
    assert kinds(ctl) == [(1, "alarm_raised", "forced_open")]
    assert factory.pin(17).state is False  # never energized
    ctl.close()


def test_gpio_led_and_buzzer_patterns(factory):
    io = GpioDoorIO([GpioDoor(1, 17)], green_pin=5, red_pin=6, buzzer_pin=13,
                    pin_factory=factory)
    green, red, buzz = factory.pin(5), factory.pin(6), factory.pin(13)
    io.led(Blink("amber", 0))
    assert green.state and red.state
    io.led(Blink("off"))
    assert not green.state and not red.state
    red.clear_states()
    buzz.clear_states()
    io.led(Blink("red", 5, 5, 2))
    io.buzzer(Beep(2, 5, 5))
    deadline = time.monotonic() + 2
    while (len(red.states) < 5 or len(buzz.states) < 5) and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)  # n=2: nothing more may follow
    assert [s.state for s in red.states] == [False, True, False, True, False]
    assert [s.state for s in buzz.states] == [False, True, False, True, False]
    assert not green.state
    io.close()


def test_gpio_pin_conflict_is_a_config_error(factory):
    with pytest.raises(DoorIOConfigError, match="cannot claim"):
        GpioDoorIO([GpioDoor(1, 17, 17)], pin_factory=factory)
    with pytest.raises(DoorIOConfigError):
        GpioDoorIO([GpioDoor(1, 99)], pin_factory=factory)
    io = GpioDoorIO([GpioDoor(1, None, 27)], pin_factory=factory)  # the pins were released
    with pytest.raises(DoorIOConfigError, match="no relay"):
        io.set_relay(1, True)
    io.close()


def test_controller_from_reader_config(factory, clock):
    cfg = ReaderConfig.model_validate({
        "name": "shoko", "driver": "pcsc:Sony", "door_io": "gpio",
        "service_url": "https://gate.example.lg.jp",
        "trust": {"service_public_key": base64.b64encode(bytes(32)).decode()},
        "indicator": {"green_pin": 5, "red_pin": 6},
        "doors": [
            {"door_id": 11, "name": "書庫", "relay_pin": 17, "sensor_pin": 27,
             "unlock_seconds": 3},
            {"door_id": 12, "name": "打刻", "mode": "clock"},
        ],
        "led": {"granted": {"color": "green", "on_ms": 0}},
    })
    factory.pin(27).drive_low()
    ctl = controller_from_config(cfg, pin_factory=factory, clock=clock)
    assert ctl.io.door_ids() == (11,)  # the clock point has no strike
    ctl.grant(11)
    assert factory.pin(17).state is True
    ctl.signal("granted")
    assert factory.pin(5).state is True and factory.pin(6).state is False
    clock.advance(3)
    ctl.tick()
    assert factory.pin(17).state is False
    ctl.close()


def test_sim_from_reader_config(clock):
    cfg = ReaderConfig.model_validate({
        "name": "demo", "driver": "sim:demo", "service_url": "http://127.0.0.1:8000",
        "trust": {"service_public_key": base64.b64encode(bytes(32)).decode()},
        "doors": [{"door_id": 3, "name": "休日通用口", "fail_open": True}],
    })
    ctl = controller_from_config(cfg, clock=clock)
    assert isinstance(ctl.io, SimDoorIO)
    ctl.unlock(3, 5.0)
    assert ctl.io.relay(3)
    ctl.close()
