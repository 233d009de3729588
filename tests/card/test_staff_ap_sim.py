"""Staff card AP v1 through the sim: driver: the reader side against the virtual card."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gate.card.staff_ap import DEFAULT_AID, auth_message, make_challenge
from gate.policy import Reason
from reader_agent.card_auth import authenticate_staff_ap
from reader_agent.cards.staff_ap import VirtualStaffCard
from reader_agent.drivers import open_reader
from reader_agent.drivers.sim import forget_sim_readers, get_sim_reader

NOW = datetime(2026, 11, 27, 8, 27, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_registry():
    forget_sim_readers()
    yield
    forget_sim_readers()


def tap(reader_name: str, enrolled: dict[str, bytes], **kw):
    channel = open_reader(f"sim:{reader_name}").wait_for_card(1.0)
    assert channel is not None
    return authenticate_staff_ap(channel, lookup_public_key=enrolled.get, reader_id="r-1",
                                 now=NOW, **kw)


def test_enrolled_card_is_accepted():
    card = VirtualStaffCard.generate("372153")
    get_sim_reader("shoko").insert(card)
    result = tap("shoko", {card.credential_ref: card.public_key})
    assert result.ok, result.detail
    assert result.kind == "staff_ap"
    assert result.credential_ref == card.credential_id.hex()
    assert result.failure is None
    assert result.apdus == 4
    assert card.signatures == 1


def test_open_reader_returns_the_registered_reader():
    assert open_reader("sim:shoko") is get_sim_reader("shoko")
    assert open_reader("sim:shoko") is not open_reader("sim:other")


def test_unknown_credential():
    card = VirtualStaffCard.generate("372153")
    get_sim_reader("a").insert(card)
    result = tap("a", {})
    assert not result.ok
    assert result.failure is Reason.UNKNOWN_CREDENTIAL
    assert result.credential_ref == card.credential_ref
    assert card.signatures == 0  # no challenge for a credential nobody enrolled


def test_same_id_different_key_is_refused():
    real = VirtualStaffCard.generate("372153")
    clone = VirtualStaffCard.generate("372153")
    clone = VirtualStaffCard(real.credential_id, clone.private_key, "372153")
    get_sim_reader("a").insert(clone)
    result = tap("a", {real.credential_ref: real.public_key})
    assert not result.ok
    assert result.failure is Reason.CARD_AUTH_FAILED
    assert "different key" in result.detail


class ReplayCard(VirtualStaffCard):
    """Presents a real card's record and answers with a signature recorded earlier."""

    def __init__(self, victim: VirtualStaffCard, recorded: bytes) -> None:
        super().__init__(victim.credential_id, victim.private_key, victim.issuer_code)
        self.recorded = recorded

    def sign(self, challenge: bytes) -> bytes:
        return self.recorded


def test_replayed_signature_is_refused():
    victim = VirtualStaffCard.generate("372153")
    old_challenge = make_challenge(b"\x01" * 16, "r-1", int(NOW.timestamp()) - 60)
    recorded = victim.sign(old_challenge)
    get_sim_reader("a").insert(ReplayCard(victim, recorded))
    result = tap("a", {victim.credential_ref: victim.public_key})
    assert not result.ok
    assert result.failure is Reason.CARD_AUTH_FAILED


def test_same_nonce_and_time_would_verify_so_the_nonce_matters():
    """The replay above fails because of the fresh challenge, not by accident."""
    victim = VirtualStaffCard.generate("372153")
    nonce = b"\x01" * 16
    recorded = victim.sign(make_challenge(nonce, "r-1", int(NOW.timestamp())))
    get_sim_reader("a").insert(ReplayCard(victim, recorded))
    result = tap("a", {victim.credential_ref: victim.public_key}, rng=lambda n: nonce)
    assert result.ok


def test_signature_is_over_the_documented_message():
    card = VirtualStaffCard.generate("372153")
    challenge = bytes(range(32))
    sig = card.sign(challenge)
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    card.private_key.public_key().verify(
        sig, b"MNGATE-AUTH-v1" + card.credential_id + challenge, ec.ECDSA(hashes.SHA256()))
    assert auth_message(card.credential_id, challenge).startswith(b"MNGATE-AUTH-v1")


def test_configurable_aid():
    aid = bytes.fromhex("F0000000FF0102")
    card = VirtualStaffCard.generate("372153", aid=aid)
    get_sim_reader("a").insert(card)
    assert tap("a", {card.credential_ref: card.public_key}, aid=aid).ok
    get_sim_reader("a").remove()
    get_sim_reader("a").insert(card)
    wrong = tap("a", {card.credential_ref: card.public_key}, aid=DEFAULT_AID)
    assert not wrong.ok and "6A82" in wrong.detail


def test_chunked_reads_are_followed():
    card = VirtualStaffCard.generate("372153", max_read=13)
    reader = get_sim_reader("a")
    reader.insert(card)
    result = tap("a", {card.credential_ref: card.public_key})
    assert result.ok, result.detail
    reads = [a for a in reader.sent if a[1] == 0xB0]
    assert len(reads) == 7  # ceil(89 / 13)
    assert [int.from_bytes(a[2:4], "big") for a in reads] == list(range(0, 89, 13))


def test_a_card_is_returned_once_per_presentation():
    card = VirtualStaffCard.generate("372153")
    reader = get_sim_reader("a")
    reader.insert(card)
    assert reader.wait_for_card(0.5) is not None
    assert reader.wait_for_card(0.05) is None
    reader.remove()
    reader.insert(card)
    assert reader.wait_for_card(0.5) is not None
