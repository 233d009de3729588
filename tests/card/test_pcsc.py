"""The card layer end to end through a real pcscd with vsmartcard-vpcd (marker ``pcsc``)."""

from __future__ import annotations

import contextlib

import pytest

from reader_agent.card_auth import authenticate_staff_ap
from reader_agent.cards.staff_ap import VirtualStaffCard
from reader_agent.cards.vpcd import VpcdCard
from reader_agent.drivers import CardRemoved, open_reader
from reader_agent.drivers.pcsc import PcscReader

from . import scenarios

pytestmark = pytest.mark.pcsc


@pytest.fixture
def reader(pcscd):
    r = open_reader(f"pcsc:{pcscd.reader}")
    assert isinstance(r, PcscReader)
    yield r
    r.close()


@pytest.fixture
def present(pcscd, reader):
    @contextlib.contextmanager
    def _present(card):
        served = VpcdCard(card, "127.0.0.1", pcscd.port)
        served.insert()
        try:
            channel = reader.wait_for_card(10.0)
            assert channel is not None, "pcscd did not report the inserted card"
            yield channel
            channel.close()  # disconnect (card reset) while the card is still there
        finally:
            served.remove()  # the card first, then (at session end) pcscd
            assert reader.wait_for_removal(10.0), "pcscd did not report the removal"
    return _present


def test_enrolled_card_is_granted(present, now):
    scenarios.enrolled_card_is_granted(present, now)


def test_same_credential_id_other_key_is_denied(present, now):
    scenarios.same_id_other_key_is_denied(present, now)


def test_replayed_signature_is_denied(present, now):
    scenarios.replayed_signature_is_denied(present, now)


def test_jpki_card_and_pin(present, jpki_card, test_ca, now):
    scenarios.jpki_pin_scenarios(present, now, jpki_card, test_ca[1])


def test_card_left_on_the_reader_is_one_presentation(pcscd, reader):
    card = VirtualStaffCard.generate("372153")
    served = VpcdCard(card, "127.0.0.1", pcscd.port)
    served.insert()
    try:
        assert reader.wait_for_card(10.0) is not None
        assert reader.wait_for_card(1.0) is None
    finally:
        served.remove()
        assert reader.wait_for_removal(10.0)
    served.insert()
    try:
        assert reader.wait_for_card(10.0) is not None
    finally:
        served.remove()
        assert reader.wait_for_removal(10.0)


def test_card_removed_mid_exchange(pcscd, reader):
    card = VirtualStaffCard.generate("372153")
    served = VpcdCard(card, "127.0.0.1", pcscd.port)
    served.insert()
    try:
        channel = reader.wait_for_card(10.0)
        assert channel is not None
        assert channel.transmit(bytes.fromhex("00A4040C08F04D4E4741544501")) == b"\x90\x00"
    finally:
        served.remove()
        assert reader.wait_for_removal(10.0)
    result = authenticate_staff_ap(channel, lookup_public_key=lambda r: None, reader_id="r",
                                   now=__import__("datetime").datetime(2026, 1, 1))
    assert not result.ok and result.failure.value == "card_error"
    assert result.detail.startswith(("removed", "transport")), result.detail
    with pytest.raises((CardRemoved, Exception)):
        channel.transmit(bytes.fromhex("00B0000000"))


def test_transport_cost_is_measured_apart_from_ours(present, pcscd, capsys, now):
    """Per-APDU cost through pcscd+vpcd vs. the time our own code (card included) takes."""
    card = VirtualStaffCard.generate("372153")
    enrolled = {card.credential_ref: card.public_key}
    served = VpcdCard(card, "127.0.0.1", pcscd.port)
    reader = open_reader(f"pcsc:{pcscd.reader}")
    served.insert()
    try:
        channel = reader.wait_for_card(10.0)
        results = []
        for _ in range(5):
            results.append(authenticate_staff_ap(
                channel, lookup_public_key=enrolled.get, reader_id="r",
                now=now))
        apdus = sum(r.apdus for r in results)
        transport_ms = sum(r.transport_ms for r in results)
        card_ms = served.card_s * 1000
        total_ms = sum(r.total_ms for r in results)
        per_apdu = (transport_ms - card_ms) / apdus
        ours = (total_ms - transport_ms) / len(results)
        with capsys.disabled():
            print(f"\npcsc: {apdus} APDUs, transport {per_apdu:.1f} ms/APDU (pcscd+vpcd, card "
                  f"time {card_ms / apdus:.2f} ms/APDU excluded); reader-side code "
                  f"{ours:.2f} ms/tap; tap total {total_ms / len(results):.1f} ms")
        assert all(r.ok for r in results)
        assert per_apdu > 0 and ours > 0
        channel.close()
    finally:
        served.remove()
        assert reader.wait_for_removal(10.0)
        reader.close()


def test_revoked_card_is_denied_offline(present, now):
    scenarios.revoked_card_is_denied_offline(present, now)


def test_truncated_response_is_a_card_error(present, now):
    scenarios.truncated_response_is_a_card_error(present, now)


def test_mute_card_does_not_block_the_reader(pcscd, reader, now):
    """A card that never answers: the exchange is stuck in its own thread (the agent abandons
    it at its timeout), the reader keeps polling, and removing the card ends the exchange with
    a card_error result."""
    import threading

    class Mute(VirtualStaffCard):
        def process(self, apdu: bytes):  # type: ignore[no-untyped-def]
            return None if apdu[1] == 0x88 else super().process(apdu)

    card = Mute.generate("372153")
    served = VpcdCard(card, "127.0.0.1", pcscd.port)
    served.insert()
    results = []
    try:
        channel = reader.wait_for_card(10.0)
        assert channel is not None
        worker = threading.Thread(target=lambda: results.append(authenticate_staff_ap(
            channel, lookup_public_key={card.credential_ref: card.public_key}.get,
            reader_id="r", now=now)), daemon=True)
        worker.start()
        worker.join(1.5)
        assert worker.is_alive() and not results  # stuck on the mute card
        assert reader.wait_for_card(0.5) is None  # the reader still answers meanwhile
    finally:
        served.remove()
    worker.join(10)
    assert not worker.is_alive()
    assert results[0].failure.value == "card_error", results[0]
    assert reader.wait_for_removal(10.0)
