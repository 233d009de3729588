"""A card+PIN door through the tap path: JPKI card on the sim reader, the keypad, the display."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.policy import Reason
from reader_agent.agent import AgentConfig, TapProcessor
from reader_agent.cards.jpki import VirtualJpkiCard, make_test_ca
from reader_agent.display import RecordingDisplay
from reader_agent.outbox import Outbox
from reader_agent.snapshot_cache import SnapshotCache
from reader_agent.tap_source import SimKeypad

from .helpers import DEVICE_ID, cred, payload, signed
from .sim_cards import Presenter


@pytest.fixture
def ca(now: datetime):  # type: ignore[no-untyped-def]
    return make_test_ca(now=now)


def setup(tmp_path: Path, ca, now: datetime, tries_left: int = 3):  # type: ignore[no-untyped-def]
    ca_key, ca_cert = ca
    card = VirtualJpkiCard.generate(ca_key, ca_cert, "4321", now=now,
                                   tries_left=tries_left)
    spki = card.certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    key = Ed25519PrivateKey.generate()
    cache = SnapshotCache(tmp_path / "snapshot.json", key.public_key(), DEVICE_ID)
    cache.apply(signed(payload(issued_at=now, assurance="card+pin",
                               credentials=[cred(card.credential_ref, public_key=spki,
                                                 kind="jpki_auth")]), key))
    display = RecordingDisplay()
    tp = TapProcessor(AgentConfig("sim:server-room", 1), cache,
                      Outbox(tmp_path / "outbox.sqlite3"), display=display,
                      device_clock=lambda: now + timedelta(minutes=5))
    keypad = SimKeypad()
    present = Presenter(card, "server-room", keypad=keypad, jpki_cas=[ca[1]],
                        show=lambda text: display.show(text, ok=True), pin_timeout=1.0)
    return tp, card, keypad, present, display


def test_right_pin_grants(tmp_path: Path, ca, now: datetime):  # type: ignore[no-untyped-def]
    tp, card, keypad, present, display = setup(tmp_path, ca, now)
    keypad.type_pin("4321")
    out = tp.tap(present)
    assert out.granted and out.reason is Reason.GRANTED
    assert out.events[0]["data"]["auth"] == "jpki_auth"
    assert any("暗証番号を入力" in s.text for s in display.shown)
    # The PIN is never recorded (as a value of its own: a random hex id may hold "4321").
    assert re.search(r"(?<![0-9a-f])4321(?![0-9a-f])", str(out.events)) is None


def test_wrong_pin_denies(tmp_path: Path, ca, now: datetime):  # type: ignore[no-untyped-def]
    tp, card, keypad, present, _ = setup(tmp_path, ca, now)
    keypad.type_pin("1111")
    out = tp.tap(present)
    assert not out.granted and out.reason is Reason.PIN_WRONG
    assert card.tries_left == 2 and tp.door_io.unlocks == []  # type: ignore[attr-defined]


def test_one_try_left_is_not_attempted(tmp_path: Path, ca, now: datetime):  # type: ignore[no-untyped-def]
    tp, card, keypad, present, display = setup(tmp_path, ca, now, tries_left=1)
    keypad.type_pin("4321")
    out = tp.tap(present)
    assert out.reason is Reason.PIN_TRIES_LOW and not out.granted
    assert card.verify_attempts == 0 and card.tries_left == 1
    assert "残り回数" in out.text


def test_no_pin_entered(tmp_path: Path, ca, now: datetime):  # type: ignore[no-untyped-def]
    tp, card, _, present, _ = setup(tmp_path, ca, now)
    out = tp.tap(present)
    assert out.reason is Reason.PIN_REQUIRED and card.verify_attempts == 0
