"""The card layer end to end through nfcpy's udp driver (marker ``nfc``): our NfcReader polls
Type B, a virtual card answers ATTRIB and the ISO-DEP blocks from its own thread."""

from __future__ import annotations

import contextlib
import socket

import nfc
import pytest

from reader_agent.card_auth import authenticate_staff_ap
from reader_agent.cards.nfc_target import NfcTypeBCard
from reader_agent.cards.staff_ap import VirtualStaffCard
from reader_agent.drivers import open_reader
from reader_agent.drivers.nfc import NfcReader

from . import scenarios

pytestmark = pytest.mark.nfc


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module", autouse=True)
def _nfcpy_version(request):
    from .conftest import announce

    announce(request, f"real nfcpy stack: nfcpy {nfc.__version__}, udp driver")


@pytest.fixture
def port():
    return free_udp_port()


@pytest.fixture
def reader(port):
    r = open_reader(f"nfc:udp:127.0.0.1:{port}")
    assert isinstance(r, NfcReader)
    yield r
    r.close()


@pytest.fixture
def present(port, reader):
    @contextlib.contextmanager
    def _present(card):
        served = NfcTypeBCard(card, "127.0.0.1", port)
        served.insert()
        assert served.ready.wait(5)
        try:
            channel = reader.wait_for_card(10.0)
            assert channel is not None, "the reader did not activate the card"
            yield channel
        finally:
            served.remove()
    return _present


def test_enrolled_card_is_granted(present, now):
    scenarios.enrolled_card_is_granted(present, now)


def test_same_credential_id_other_key_is_denied(present, now):
    scenarios.same_id_other_key_is_denied(present, now)


def test_replayed_signature_is_denied(present, now):
    scenarios.replayed_signature_is_denied(present, now)


def test_jpki_card_and_pin(present, jpki_card, test_ca, now):
    """Also exercises ISO-DEP response chaining: certificate chunks and the 256-byte
    signature do not fit one 256-byte frame with their status word."""
    scenarios.jpki_pin_scenarios(present, now, jpki_card, test_ca[1])


def test_card_left_in_the_field_is_one_presentation(port, reader):
    card = VirtualStaffCard.generate("372153")
    served = NfcTypeBCard(card, "127.0.0.1", port)
    served.insert()
    assert served.ready.wait(5)
    try:
        assert reader.wait_for_card(10.0) is not None
        assert reader.wait_for_card(1.0) is None
    finally:
        served.remove()
    served = NfcTypeBCard(card, "127.0.0.1", port)
    served.insert()
    try:
        assert reader.wait_for_card(10.0) is not None
        assert served.sessions == 1
    finally:
        served.remove()


def test_card_removed_mid_exchange(port, reader, now):
    card = VirtualStaffCard.generate("372153")
    served = NfcTypeBCard(card, "127.0.0.1", port)
    served.insert()
    assert served.ready.wait(5)
    channel = reader.wait_for_card(10.0)
    assert channel is not None
    served.remove()
    result = authenticate_staff_ap(channel, lookup_public_key=lambda r: None, reader_id="r",
                                   now=now)
    assert not result.ok and result.failure.value == "card_error"
    assert result.detail.startswith(("removed", "mute")), result.detail


def test_nfc_transport_cost(present, capsys, now):
    card = VirtualStaffCard.generate("372153")
    enrolled = {card.credential_ref: card.public_key}
    results = []
    for _ in range(5):
        results.append(scenarios.staff_tap(present, now, card, enrolled))
    apdus = sum(r.apdus for r in results)
    transport = sum(r.transport_ms for r in results)
    total = sum(r.total_ms for r in results)
    with capsys.disabled():
        print(f"\nnfc udp: {apdus} APDUs, {transport / apdus:.2f} ms/APDU incl. the card; "
              f"reader-side code {(total - transport) / len(results):.2f} ms/tap")
    assert all(r.ok for r in results)


def test_revoked_card_is_denied_offline(present, now):
    scenarios.revoked_card_is_denied_offline(present, now)


def test_truncated_response_is_a_card_error(present, now):
    scenarios.truncated_response_is_a_card_error(present, now)
