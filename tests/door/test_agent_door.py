"""The reader agent's tap path driving a real door controller: a granted tap releases the
strike on a GPIO pin (gpiozero, MockFactory pins) and the door relocks when it closes; a denied
tap never touches the relay, and pushing the door then is a forced open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from gpiozero.pins.mock import MockFactory

from gate.door import Alarm, DoorTiming
from reader_agent.agent import AgentConfig, TapProcessor
from reader_agent.door_io import DoorController
from reader_agent.door_io.gpio import GpioDoor, GpioDoorIO
from reader_agent.outbox import Outbox
from reader_agent.snapshot_cache import SnapshotCache
from tests.agent.helpers import DEVICE_ID, cred, fake_card, payload, signed

REF = "aa" * 16
ISSUED = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)


class Mono:
    def __init__(self) -> None:
        self.t = 50.0

    def __call__(self) -> float:
        return self.t


def test_tap_path_drives_the_gpio_strike(tmp_path: Path):
    key = Ed25519PrivateKey.generate()
    cache = SnapshotCache(tmp_path / "snapshot.json", key.public_key(), DEVICE_ID)
    cache.apply(signed(payload(issued_at=ISSUED, credentials=[cred(REF)]), key))
    factory = MockFactory()
    relay, sensor = factory.pin(17), factory.pin(27)
    sensor.drive_low()  # shut
    mono = Mono()
    door = DoorController(GpioDoorIO([GpioDoor(1, 17, 27)], bounce_time=None,
                                     pin_factory=factory),
                          {1: DoorTiming(unlock_seconds=5, held_open_seconds=30)}, clock=mono)
    tp = TapProcessor(AgentConfig("sim:t", 1, unlock_seconds=4.0), cache,
                      Outbox(tmp_path / "outbox.sqlite3"), door_io=door,
                      device_clock=lambda: ISSUED + timedelta(hours=1))
    try:
        out = tp.tap(fake_card(REF))
        assert out.granted
        assert relay.state is True
        assert door.state(1).unlock_until == mono.t + 4.0  # the agent's unlock time
        mono.t += 1
        sensor.drive_high()
        mono.t += 1
        sensor.drive_low()
        assert relay.state is False and door.notices == []

        denied = tp.tap(fake_card("cc" * 16))
        assert not denied.granted
        assert relay.state is False
        sensor.drive_high()  # pushed open without a grant
        assert door.active_alarms() == {1: frozenset({Alarm.FORCED_OPEN})}
        assert [s.state for s in relay.states] == [False, True, False]
    finally:
        tp.close()
        tp.outbox.close()
        door.close()
