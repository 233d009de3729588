"""The done-when scenarios, written once and run through each real stack.

A ``present(card)`` context manager puts a virtual card on the stack's reader and yields the
CardChannel the driver returned for that presentation.
"""

from __future__ import annotations

from datetime import datetime

from cryptography.hazmat.primitives import serialization

from gate.card.staff_ap import make_challenge
from gate.policy import Reason
from reader_agent.card_auth import CardAuthResult, authenticate_jpki, authenticate_staff_ap
from reader_agent.cards.jpki import VirtualJpkiCard
from reader_agent.cards.staff_ap import VirtualStaffCard


def staff_tap(present, now: datetime, card, enrolled: dict[str, bytes]) -> CardAuthResult:
    with present(card) as channel:
        return authenticate_staff_ap(channel, lookup_public_key=enrolled.get,
                                     reader_id="reader-stack", now=now)


def enrolled_card_is_granted(present, now: datetime) -> CardAuthResult:
    card = VirtualStaffCard.generate("372153")
    result = staff_tap(present, now, card, {card.credential_ref: card.public_key})
    assert result.ok, result.detail
    assert result.credential_ref == card.credential_ref and result.apdus == 4
    assert card.signatures == 1
    return result


def same_id_other_key_is_denied(present, now: datetime) -> None:
    real = VirtualStaffCard.generate("372153")
    clone = VirtualStaffCard(real.credential_id, VirtualStaffCard.generate("372153").private_key,
                             "372153")
    result = staff_tap(present, now, clone, {real.credential_ref: real.public_key})
    assert not result.ok and result.failure is Reason.CARD_AUTH_FAILED, result
    assert result.credential_ref == real.credential_ref
    assert clone.signatures == 1  # it did answer the challenge: with the wrong key


class ReplayCard(VirtualStaffCard):
    """A skimmer's emulator: the real record, and a signature recorded from an earlier tap."""

    recorded: bytes = b""

    def sign(self, challenge: bytes) -> bytes:
        return self.recorded


def replayed_signature_is_denied(present, now: datetime) -> None:
    victim = VirtualStaffCard.generate("372153")
    enrolled = {victim.credential_ref: victim.public_key}
    assert staff_tap(present, now, victim, enrolled).ok
    # The attacker recorded a genuine answer to an earlier challenge of this reader.
    earlier = make_challenge(b"\x5a" * 16, "reader-stack", int(now.timestamp()))
    replay = ReplayCard(victim.credential_id, victim.private_key, "372153")
    replay.recorded = victim.sign(earlier)
    result = staff_tap(present, now, replay, enrolled)
    assert not result.ok and result.failure is Reason.CARD_AUTH_FAILED, result


def spki(card: VirtualJpkiCard) -> bytes:
    return card.certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def jpki_tap(present, now: datetime, card: VirtualJpkiCard, pin: str, ca_cert) -> tuple[CardAuthResult, list]:
    shown: list[str] = []
    asked: list[int] = []

    def keypad() -> str:
        asked.append(1)
        return pin

    with present(card) as channel:
        result = authenticate_jpki(channel, lookup_public_key={card.credential_ref: spki(card)}.get,
                                   read_pin=keypad, show=shown.append, ca_certs=[ca_cert],
                                   reader_id="reader-stack", now=now)
    return result, [shown, asked]


def jpki_pin_scenarios(present, now: datetime, card: VirtualJpkiCard, ca_cert) -> None:
    """Right PIN granted; wrong PIN denied; one try left: not attempted."""
    result, _ = jpki_tap(present, now, card, card.pin, ca_cert)
    assert result.ok, result.detail
    assert result.kind == "jpki_auth" and result.credential_ref == card.credential_ref

    wrong = "0000" if card.pin != "0000" else "1111"
    result, _ = jpki_tap(present, now, card, wrong, ca_cert)
    assert not result.ok and result.failure is Reason.PIN_WRONG, result
    assert card.tries_left == 2
    result, _ = jpki_tap(present, now, card, wrong, ca_cert)
    assert result.failure is Reason.PIN_WRONG and card.tries_left == 1

    attempts = card.verify_attempts
    result, (shown, asked) = jpki_tap(present, now, card, card.pin, ca_cert)
    assert not result.ok and result.failure is Reason.PIN_TRIES_LOW, result
    assert asked == [] and card.verify_attempts == attempts and card.tries_left == 1
    assert shown == []  # never asked for the PIN


def revoked_card_is_denied_offline(present, now: datetime) -> None:
    """The card's signature still verifies through the stack, but once the (offline) snapshot
    says revoked, the decision denies. The agent's snapshot path is tested in tests/agent;
    here the card layer and gate.policy are joined directly."""
    from datetime import date

    from gate.policy import (
        AccessRequest,
        CredentialInfo,
        CredentialStatus,
        DoorInfo,
        Permission,
        Schedule,
        StaffInfo,
        TimeWindow,
        decide,
    )

    card = VirtualStaffCard.generate("372153")
    staff = StaffInfo(id=3, active_from=date(2020, 4, 1), group_ids=frozenset({1}))
    door = DoorInfo(id=1)
    schedule = Schedule(1, tuple(TimeWindow(d, 0, 1440) for d in range(7)))

    def decide_tap(status: CredentialStatus):
        result = staff_tap(present, now, card, {card.credential_ref: card.public_key})
        assert result.ok, result.detail
        return decide(AccessRequest(
            credential=CredentialInfo(result.credential_ref, 3, "staff_ap", status),
            staff=staff, door=door, now=now,
            permissions=(Permission(1, 1, 1),), schedules={1: schedule}))

    assert decide_tap(CredentialStatus.ACTIVE).granted
    denied = decide_tap(CredentialStatus.REVOKED)
    assert not denied.granted and denied.reason is Reason.CREDENTIAL_REVOKED


class Truncating(VirtualStaffCard):
    """Answers INTERNAL AUTHENTICATE with a single byte (a truncated frame)."""

    def process(self, apdu: bytes):  # type: ignore[no-untyped-def]
        response = super().process(apdu)
        return response[:1] if apdu[1] == 0x88 else response


def truncated_response_is_a_card_error(present, now: datetime) -> None:
    real = VirtualStaffCard.generate("372153")
    card = Truncating(real.credential_id, real.private_key, "372153")
    result = staff_tap(present, now, card, {card.credential_ref: card.public_key})
    assert not result.ok and result.failure is Reason.CARD_ERROR, result
    assert result.credential_ref == card.credential_ref
