"""JPKI card+PIN through the sim: driver."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import serialization

from gate.policy import Reason
from reader_agent.card_auth import authenticate_jpki
from reader_agent.cards.jpki import VirtualJpkiCard, issue_auth_certificate, make_test_ca
from reader_agent.drivers.sim import get_sim_reader


def spki(card: VirtualJpkiCard) -> bytes:
    return card.certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


class Keypad:
    def __init__(self, *pins: str) -> None:
        self.pins = list(pins)
        self.asked = 0

    def __call__(self) -> str:
        self.asked += 1
        return self.pins.pop(0)


def run(card: VirtualJpkiCard, pin_source, ca_certs, *, now: datetime, enrolled=None):
    reader = get_sim_reader("server-room")
    reader.remove()
    reader.insert(card)
    channel = reader.wait_for_card(1.0)
    shown: list[str] = []
    table = {card.credential_ref: spki(card)} if enrolled is None else enrolled
    result = authenticate_jpki(channel, lookup_public_key=table.get, read_pin=pin_source,
                               show=shown.append, ca_certs=ca_certs, reader_id="r-9", now=now)
    return result, shown


def test_right_pin_is_granted(jpki_card, test_ca, now):
    result, shown = run(jpki_card, Keypad("4821"), [test_ca[1]], now=now)
    assert result.ok, result.detail
    assert result.kind == "jpki_auth"
    assert result.credential_ref == jpki_card.credential_ref
    assert len(result.credential_ref) == 64
    assert shown == ["暗証番号を入力してください"]
    assert jpki_card.tries_left == 3


def test_wrong_pin_is_denied_and_costs_a_try(jpki_card, test_ca, now):
    result, shown = run(jpki_card, Keypad("0000"), [test_ca[1]], now=now)
    assert not result.ok
    assert result.failure is Reason.PIN_WRONG
    assert "2 tries left" in result.detail
    assert jpki_card.tries_left == 2
    assert shown == ["暗証番号を入力してください"]  # the outcome is the tap path's to show, once


def test_one_try_left_is_not_attempted(jpki_card, test_ca, now):
    keypad = Keypad("4821")
    jpki_card.tries_left = 1
    result, shown = run(jpki_card, keypad, [test_ca[1]], now=now)
    assert not result.ok
    assert result.failure is Reason.PIN_TRIES_LOW
    assert keypad.asked == 0
    assert jpki_card.verify_attempts == 0
    assert jpki_card.tries_left == 1
    assert shown == []  # not even asked for the PIN


def test_two_wrong_then_the_reader_stops(jpki_card, test_ca, now):
    for _ in range(2):
        result, _ = run(jpki_card, Keypad("1111"), [test_ca[1]], now=now)
        assert result.failure is Reason.PIN_WRONG
    result, _ = run(jpki_card, Keypad("4821"), [test_ca[1]], now=now)
    assert result.failure is Reason.PIN_TRIES_LOW
    assert not jpki_card.blocked  # the reader never spent the last try


def test_blocked_card(jpki_card, test_ca, now):
    keypad = Keypad("4821")
    jpki_card.tries_left = 0
    result, shown = run(jpki_card, keypad, [test_ca[1]], now=now)
    assert result.failure is Reason.PIN_BLOCKED and "blocked" in result.detail
    assert keypad.asked == 0 and shown == [] and jpki_card.verify_attempts == 0


def test_unknown_certificate(jpki_card, test_ca, now):
    keypad = Keypad("4821")
    result, _ = run(jpki_card, keypad, [test_ca[1]], now=now, enrolled={})
    assert result.failure is Reason.UNKNOWN_CREDENTIAL
    assert keypad.asked == 0


def test_certificate_from_another_ca_is_refused(jpki_card, test_ca, other_rsa_key, now):
    rogue_key, rogue_ca = make_test_ca("rogue CA", now=now)
    cert = issue_auth_certificate(rogue_key, rogue_ca, other_rsa_key.public_key(), now=now)
    card = VirtualJpkiCard(other_rsa_key, cert, rogue_ca, "4821")
    keypad = Keypad("4821")
    result, _ = run(card, keypad, [test_ca[1]], now=now)
    assert result.failure is Reason.CARD_AUTH_FAILED
    assert "not issued by a configured" in result.detail
    assert keypad.asked == 0  # no PIN try spent on a certificate that cannot pass


def test_expired_certificate_is_refused_before_the_pin(jpki_card, test_ca):
    keypad = Keypad("4821")
    later = jpki_card.certificate.not_valid_after_utc + timedelta(seconds=1)
    result, shown = run(jpki_card, keypad, [test_ca[1]], now=later)
    assert result.failure is Reason.CREDENTIAL_EXPIRED
    assert "expired" in result.detail and "renew" in result.detail
    assert keypad.asked == 0 and shown == [] and jpki_card.verify_attempts == 0


def test_enrolled_expiry_is_checked_before_the_pin(jpki_card, test_ca, now):
    """The snapshot's not_after (the service's record) ends the credential earlier."""
    keypad = Keypad("4821")
    reader = get_sim_reader("server-room")
    reader.insert(jpki_card)
    result = authenticate_jpki(
        reader.wait_for_card(1.0), lookup_public_key={jpki_card.credential_ref: spki(jpki_card)}.get,
        lookup_not_after=lambda _ref: now - timedelta(days=1), read_pin=keypad,
        show=lambda _t: None, ca_certs=[test_ca[1]], reader_id="r-9", now=now)
    assert result.failure is Reason.CREDENTIAL_EXPIRED and keypad.asked == 0


def test_enrolled_key_differs_from_the_cards(jpki_card, test_ca, other_rsa_key, now):
    other = other_rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    result, _ = run(jpki_card, Keypad("4821"), [test_ca[1]], now=now,
                    enrolled={jpki_card.credential_ref: other})
    assert result.failure is Reason.CARD_AUTH_FAILED


def test_badly_formed_pin_is_not_sent(jpki_card, test_ca, now):
    result, _ = run(jpki_card, Keypad("12345"), [test_ca[1]], now=now)
    assert result.failure is Reason.PIN_WRONG
    assert jpki_card.verify_attempts == 0 and jpki_card.tries_left == 3


def test_pin_never_logged_nor_in_the_result(jpki_card, test_ca, caplog, now):
    caplog.set_level(logging.DEBUG)
    for pin in ("4821", "9753"):
        result, shown = run(jpki_card, Keypad(pin), [test_ca[1]], now=now)
        for text in [result.detail, repr(result), *shown, caplog.text, repr(jpki_card)]:
            # as a value of its own: a random hex id in a log line may hold the 4 digits
            assert re.search(rf"(?<![0-9a-f]){pin}(?![0-9a-f])", text) is None
        sent = get_sim_reader("server-room").sent
        assert not any(pin.encode() in apdu for apdu in sent)  # the trace is redacted
        assert b"\x00\x20\x00\x80\x04****" in sent
    assert jpki_card.verify_attempts == 2  # both PINs did reach the card
