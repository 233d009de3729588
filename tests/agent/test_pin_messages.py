"""What the holder at a card+PIN door reads, and the event reason, for each card state.

The JPKI card is on the real ``sim:`` driver, the PIN comes from the ``sim:`` keypad, and the
display is read back. Certificates are issued relative to the test's ``now``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.policy import Reason
from reader_agent.agent import AgentConfig, TapProcessor
from reader_agent.cards.jpki import VirtualJpkiCard, issue_auth_certificate, make_test_ca
from reader_agent.display import RecordingDisplay, Shown
from reader_agent.keypad import SimKeypad
from reader_agent.outbox import Outbox
from reader_agent.snapshot_cache import SnapshotCache

from .helpers import DEVICE_ID, cred, iso, payload, signed
from .sim_cards import Presenter, new_card

PROMPT = Shown("暗証番号を入力してください", True)


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def ca_and_key():  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric import rsa

    # A CA valid for decades around any test "now"; the card key is made once (slow).
    ca = make_test_ca(now=datetime(2020, 1, 1, tzinfo=UTC), days=40 * 365)
    return ca, rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Door:
    """A card+PIN door with a recording display and a sim keypad."""

    def __init__(self, tmp_path: Path, ca_and_key: Any, now: datetime, *, tries_left: int = 3,
                 issued: datetime | None = None, not_after: datetime | None = None,
                 lang: str = "ja") -> None:
        (ca_key, ca_cert), key = ca_and_key
        cert = issue_auth_certificate(ca_key, ca_cert, key.public_key(), now=now,
                                      not_before=issued)
        self.card = VirtualJpkiCard(key, cert, ca_cert, "4321", tries_left=tries_left)
        spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
        entry = cred(self.card.credential_ref, public_key=spki, kind="jpki_auth")
        entry["not_after"] = iso(not_after) if not_after else None
        signing = Ed25519PrivateKey.generate()
        cache = SnapshotCache(tmp_path / "snapshot.json", signing.public_key(), DEVICE_ID)
        cache.apply(signed(payload(issued_at=now, assurance="card+pin", credentials=[entry]),
                           signing))
        self.display = RecordingDisplay()
        self.tp = TapProcessor(AgentConfig("sim:server-room", 1, language=lang), cache,
                               Outbox(tmp_path / "outbox.sqlite3"), display=self.display,
                               device_clock=lambda: now)
        self.keypad = SimKeypad()
        self.present = Presenter(self.card, "server-room", keypad=self.keypad,
                                 jpki_cas=[ca_cert], pin_timeout=1.0, lang=lang,
                                 show=lambda text: self.display.show(text, ok=True))

    def tap(self, pin: str | None = None):  # type: ignore[no-untyped-def]
        if pin is not None:
            self.keypad.type_pin(pin)
        out = self.tp.tap(self.present)
        self.tp.close()
        return out


def test_right_pin_opens(tmp_path: Path, ca_and_key: Any, now: datetime) -> None:
    door = Door(tmp_path, ca_and_key, now)
    out = door.tap("4321")
    assert out.granted and out.reason is Reason.GRANTED
    assert door.display.shown == [PROMPT, Shown("どうぞお入りください", True)]


def test_wrong_pin_is_shown_once(tmp_path: Path, ca_and_key: Any, now: datetime) -> None:
    door = Door(tmp_path, ca_and_key, now)
    out = door.tap("1111")
    assert out.reason is Reason.PIN_WRONG and out.events[0]["reason"] == "pin_wrong"
    assert door.display.shown == [PROMPT, Shown("暗証番号が違います", False)]
    assert door.card.tries_left == 2


def test_blocked_pin_says_blocked_and_where_to_reset(tmp_path: Path, ca_and_key: Any,
                                                      now: datetime) -> None:
    door = Door(tmp_path, ca_and_key, now, tries_left=0)
    out = door.tap("4321")
    assert out.reason is Reason.PIN_BLOCKED and out.events[0]["reason"] == "pin_blocked"
    assert door.display.shown == [Shown(
        "暗証番号がロックされています。市区町村の窓口で暗証番号の再設定をしてください", False)]
    assert "残り回数" not in out.text
    assert door.card.verify_attempts == 0


def test_one_try_left_says_exactly_that(tmp_path: Path, ca_and_key: Any, now: datetime) -> None:
    door = Door(tmp_path, ca_and_key, now, tries_left=1)
    out = door.tap("4321")
    assert out.reason is Reason.PIN_TRIES_LOW and out.events[0]["reason"] == "pin_tries_low"
    assert door.display.shown == [Shown(
        "暗証番号の残り回数が1回のため照合しません。市区町村の窓口で確認してください", False)]
    assert door.card.verify_attempts == 0 and door.card.tries_left == 1


def test_english_texts(tmp_path: Path, ca_and_key: Any, now: datetime) -> None:
    door = Door(tmp_path, ca_and_key, now, tries_left=0, lang="en")
    assert door.tap("4321").text == ("The PIN is blocked. Please have it reset at your "
                                     "municipal office")


def test_expired_certificate_says_expired_and_renew(tmp_path: Path, ca_and_key: Any,
                                                    now: datetime) -> None:
    # issued five years and a day ago: expired yesterday
    door = Door(tmp_path, ca_and_key, now, issued=now - timedelta(days=5 * 365 + 1))
    out = door.tap("4321")
    assert out.reason is Reason.CREDENTIAL_EXPIRED
    assert out.events[0]["reason"] == "credential_expired"
    assert "expired" in out.events[0]["data"]["detail"]
    assert door.display.shown == [Shown(
        "カードまたは電子証明書の有効期限が切れています。更新の手続きをしてください", False)]
    assert door.card.verify_attempts == 0  # checked before the PIN


def test_enrolled_not_after_is_checked_before_the_pin(tmp_path: Path, ca_and_key: Any,
                                                      now: datetime) -> None:
    door = Door(tmp_path, ca_and_key, now, not_after=now - timedelta(minutes=1))
    out = door.tap("4321")
    assert out.reason is Reason.CREDENTIAL_EXPIRED
    assert [s.text for s in door.display.shown] == [
        "カードまたは電子証明書の有効期限が切れています。更新の手続きをしてください"]
    assert door.card.verify_attempts == 0


def test_no_pin_typed(tmp_path: Path, ca_and_key: Any, now: datetime) -> None:
    door = Door(tmp_path, ca_and_key, now)
    out = door.tap()
    assert out.reason is Reason.PIN_REQUIRED and door.card.verify_attempts == 0
    assert door.display.shown == [PROMPT, Shown("暗証番号を入力してください", False)]


def test_stuck_keypad_is_an_alarm_and_a_clear_message(tmp_path: Path, ca_and_key: Any,
                                                      now: datetime) -> None:
    door = Door(tmp_path, ca_and_key, now)
    faults: list[tuple[str, bool]] = []
    door.keypad.on_fault = lambda err, active: faults.append((err.code, active))
    door.keypad.press(*"5" * 20)  # the 20th repeat is "stuck"
    out = door.tap()
    assert out.reason is Reason.KEYPAD_ERROR and "keypad_stuck" in out.events[0]["data"]["detail"]
    assert door.display.shown[-1] == Shown(
        "暗証番号の入力装置が使用できません。管理者に連絡してください", False)
    assert faults == [("keypad_stuck", True)]
    # the keypad works again: the alarm is cleared once
    door.tp = TapProcessor(door.tp.config, door.tp.cache, door.tp.outbox, display=door.display,
                           device_clock=lambda: now)
    assert door.tap("4321").granted
    assert faults == [("keypad_stuck", True), ("keypad_stuck", False)]


def test_a_reader_without_keypad_refuses_before_the_card_exchange(
        tmp_path: Path, ca_and_key: Any, now: datetime) -> None:
    door = Door(tmp_path, ca_and_key, now)
    door.present.options["keypad"] = None
    sent_before = len(door.present.reader.sent)
    out = door.tap()
    assert out.reason is Reason.KEYPAD_ERROR and "no keypad" in out.events[0]["data"]["detail"]
    assert door.display.shown == [Shown(
        "暗証番号の入力装置が使用できません。管理者に連絡してください", False)]  # no prompt first
    assert len(door.present.reader.sent) == sent_before  # not one APDU


def test_expired_staff_card_says_expired_and_renew(tmp_path: Path, now: datetime) -> None:
    """A card-only door: the snapshot's not_after ends the credential (gate.policy)."""
    card = new_card()
    entry = cred(card.credential_ref, public_key=card.public_key)
    entry["not_after"] = iso(now - timedelta(days=1))
    signing = Ed25519PrivateKey.generate()
    cache = SnapshotCache(tmp_path / "snapshot.json", signing.public_key(), DEVICE_ID)
    cache.apply(signed(payload(issued_at=now, credentials=[entry]), signing))
    display = RecordingDisplay()
    tp = TapProcessor(AgentConfig("sim:shoko", 1), cache, Outbox(tmp_path / "outbox.sqlite3"),
                      display=display, device_clock=lambda: now)
    out = tp.tap(Presenter(card, "shoko"))
    tp.close()
    assert out.reason is Reason.CREDENTIAL_EXPIRED
    assert out.events[0]["reason"] == "credential_expired"
    assert display.shown == [Shown(
        "カードまたは電子証明書の有効期限が切れています。更新の手続きをしてください", False)]
