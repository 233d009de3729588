"""The tap path: decide from the verified snapshot, offline age rule, durable before open,
clock points, card faults. The card here is a stand-in; test_agent_sim.py uses the sim driver."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.policy import Reason
from reader_agent.agent import AgentConfig, RecordingDoorIO, TapProcessor
from reader_agent.outbox import Outbox
from reader_agent.snapshot_cache import SnapshotCache

from .helpers import DEVICE_ID, cred, fake_card, payload, signed

REF = "aa" * 16
ISSUED = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)  # 09:00 JST


class Clock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


def make(tmp_path: Path, clock: Clock, **kw) -> TapProcessor:  # type: ignore[no-untyped-def]
    key = Ed25519PrivateKey.generate()
    cache = SnapshotCache(tmp_path / "snapshot.json", key.public_key(), DEVICE_ID)
    cache.apply(signed(payload(issued_at=ISSUED, door_mode=kw.pop("mode", "access"),
                               fail_open=kw.pop("fail_open", False),
                               credentials=[cred(REF), cred("bb" * 16, "lost")]), key))
    cfg = AgentConfig("sim:t", 1, **kw)
    return TapProcessor(cfg, cache, Outbox(tmp_path / "outbox.sqlite3"), device_clock=clock)


def test_granted_tap_is_durable_before_the_door_opens(tmp_path: Path):
    clock = Clock(ISSUED + timedelta(hours=1))
    tp = make(tmp_path, clock)

    class CheckingDoor(RecordingDoorIO):
        def unlock(self, door_id: int, seconds: float) -> None:
            other = sqlite3.connect(tmp_path / "outbox.sqlite3")  # as another process would
            rows = other.execute("SELECT count(*) FROM event WHERE kind='tap'").fetchone()[0]
            assert rows == 1, "door opened before its event was committed"
            super().unlock(door_id, seconds)

    tp.door_io = CheckingDoor()
    out = tp.tap(fake_card(REF))
    assert out.granted and out.reason is Reason.GRANTED
    assert tp.door_io.unlocks == [(1, 5.0)]  # type: ignore[attr-defined]
    e = out.events[0]
    assert e["staff_id"] == 3 and e["credential_ref"] == REF and e["data"]["auth"] == "staff_ap"
    assert e["occurred_at"] == "2026-11-27T01:00:00.000Z"


def test_denials_do_not_open(tmp_path: Path):
    tp = make(tmp_path, Clock(ISSUED + timedelta(hours=1)))
    lost = tp.tap(fake_card("bb" * 16))
    assert lost.reason is Reason.CREDENTIAL_LOST
    unknown = tp.tap(fake_card("cc" * 16))
    assert unknown.reason is Reason.UNKNOWN_CREDENTIAL
    bad = tp.tap(fake_card(REF, ok=False, failure=Reason.CARD_AUTH_FAILED))
    assert bad.reason is Reason.CARD_AUTH_FAILED
    assert bad.events[0]["credential_ref"] == REF and bad.events[0]["staff_id"] is None
    assert tp.door_io.unlocks == []  # type: ignore[attr-defined]
    assert [e["seq"] for e in tp.outbox.all_events()] == [1, 2, 3]


def test_offline_too_long_denies_unless_fail_open(tmp_path: Path):
    clock = Clock(ISSUED + timedelta(hours=71, minutes=59))
    tp = make(tmp_path / "a", clock)
    assert tp.tap(fake_card(REF)).granted
    clock.t = ISSUED + timedelta(hours=72, minutes=1)
    out = tp.tap(fake_card(REF))
    assert not out.granted and out.reason is Reason.SNAPSHOT_STALE
    assert "通信できない" in out.text
    assert out.events[0]["data"]["snapshot_age_s"] > 72 * 3600
    # A fail-open door keeps admitting enrolled, active cards — and still refuses the others.
    fo = make(tmp_path / "b", clock, fail_open=True)
    assert fo.tap(fake_card(REF)).granted
    assert fo.tap(fake_card("bb" * 16)).reason is Reason.CREDENTIAL_LOST
    assert fo.tap(fake_card("cc" * 16)).reason is Reason.UNKNOWN_CREDENTIAL
    # …and so does a door on the agent's own fail-open list.
    cfg = make(tmp_path / "c", clock, fail_open_doors=frozenset({1}))
    assert cfg.tap(fake_card(REF)).granted
    # The age limit is configurable.
    short = make(tmp_path / "d", Clock(ISSUED + timedelta(hours=2)),
                 max_offline_age=timedelta(hours=1))
    assert short.tap(fake_card(REF)).reason is Reason.SNAPSHOT_STALE


def test_clock_point_punches_and_greets(tmp_path: Path):
    clock = Clock(datetime(2026, 11, 26, 23, 27, tzinfo=UTC))  # 08:27 JST on the 27th
    tp = make(tmp_path, clock, mode="clock")
    first = tp.tap(fake_card(REF))
    assert first.text == "おはようございます 山田さん 08:27 出勤"
    assert [e["kind"] for e in first.events] == ["tap", "clock_punch"]
    assert first.events[1]["data"]["punch"] == "in"
    assert tp.door_io.unlocks == []  # type: ignore[attr-defined]  # a clock point has no door
    clock.t += timedelta(seconds=30)
    again = tp.tap(fake_card(REF))
    assert again.events[1]["data"]["punch"] == "repeat"
    assert again.text.startswith("打刻済みです")
    clock.t = datetime(2026, 11, 27, 8, 32, tzinfo=UTC)  # 17:32 JST
    out = tp.tap(fake_card(REF))
    assert out.text == "お疲れさまでした 山田さん 17:32 退勤"
    # The remembered punch survives a restart (it lives in the outbox DB).
    ob2 = Outbox(tmp_path / "outbox.sqlite3")
    st = ob2.punch_state(3)
    assert st is not None and st.last_kind.value == "out"


def test_card_faults_give_an_event_and_never_crash(tmp_path: Path):
    tp = make(tmp_path, Clock(ISSUED + timedelta(hours=1)), card_timeout_s=0.2)

    def mute(ctx):  # type: ignore[no-untyped-def]
        time.sleep(1.0)

    def broken(ctx):  # type: ignore[no-untyped-def]
        raise RuntimeError("card removed mid-exchange")

    t0 = time.monotonic()
    out = tp.tap(mute)
    assert time.monotonic() - t0 < 0.8
    assert out.reason is Reason.CARD_ERROR and out.events[0]["kind"] == "card_error"
    out2 = tp.tap(broken)
    assert out2.reason is Reason.CARD_ERROR and "もう一度" in out2.text
    assert tp.tap(fake_card(REF)).granted  # the agent goes on


@pytest.mark.parametrize("lang,expect", [("en", "Access granted"), ("ja", "どうぞ")])
def test_language(tmp_path: Path, lang: str, expect: str):
    tp = make(tmp_path, Clock(ISSUED + timedelta(hours=1)), language=lang)
    assert expect in tp.tap(fake_card(REF)).text


def test_card_failures_are_typed_reasons(tmp_path: Path):
    tp = make(tmp_path, Clock(ISSUED + timedelta(hours=1)))
    for reason in (Reason.PIN_WRONG, Reason.PIN_TRIES_LOW, Reason.PIN_BLOCKED,
                   Reason.KEYPAD_ERROR, Reason.CARD_AUTH_FAILED):
        out = tp.tap(fake_card(REF, ok=False, failure=reason))
        assert (out.reason, out.granted) == (reason, False)
        assert out.events[0]["data"]["failure"] == reason.value
    # Text is not read for meaning: a failure that is no Reason is a failed proof.
    untyped = tp.tap(fake_card(REF, ok=False, failure="wrong pin io timeout"))  # type: ignore[arg-type]
    assert untyped.reason is Reason.CARD_AUTH_FAILED
    error = tp.tap(fake_card(REF, ok=False, failure=Reason.CARD_ERROR))
    assert error.events[0]["kind"] == "card_error"
    assert tp.door_io.unlocks == []  # type: ignore[attr-defined]


def test_the_steps_decide_then_record_then_actuate(tmp_path: Path):
    tp = make(tmp_path, Clock(ISSUED + timedelta(hours=1)), mode="both")
    tap = tp.decide(fake_card(REF))
    assert tap.decision.granted and tap.punches and tap.staff_id == 3
    assert tp.outbox.all_events() == [] and tp.door_io.unlocks == []  # type: ignore[attr-defined]
    stored, punch = tp.record(tap, None)
    assert [e["kind"] for e in stored] == ["tap", "clock_punch"] and punch is not None
    assert tp.door_io.unlocks == []  # type: ignore[attr-defined]
    text = tp.actuate(tap, punch)
    assert tp.door_io.unlocks == [(1, 5.0)] and "山田" in text  # type: ignore[attr-defined]
