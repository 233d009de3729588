"""The APDU layer refuses, by construction, to SELECT the applications holding the individual
number — before a single byte reaches a channel."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gate.card.apdu import (
    FORBIDDEN_AIDS,
    CommandAPDU,
    ForbiddenApplication,
    check_command,
    is_forbidden_select,
    select_aid,
)
from gate.card.jpki import AID as JPKI_AID
from gate.card.staff_ap import DEFAULT_AID
from reader_agent.drivers.sim import SimChannel, get_sim_reader

KENMEN_HOJO = bytes.fromhex("D3 92 10 00 31 00 01 01 04 08")
KENMEN = bytes.fromhex("D3 92 10 00 31 00 01 01 04 02")
JUKI = bytes.fromhex("D3 92 10 00 31 00 01 01 04 01")


class RecordingChannel:
    """A channel that records every byte it is given (and would answer 90 00)."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    def transmit(self, apdu: bytes) -> bytes:
        self.received.append(apdu)
        return b"\x90\x00"


def test_the_list_is_the_three_applications():
    assert set(FORBIDDEN_AIDS.values()) == {KENMEN_HOJO, KENMEN, JUKI}


@pytest.mark.parametrize("aid", [KENMEN_HOJO, KENMEN, JUKI])
def test_builder_refuses(aid):
    with pytest.raises(ForbiddenApplication):
        select_aid(aid)
    with pytest.raises(ForbiddenApplication):
        CommandAPDU(0x00, 0xA4, 0x04, 0x0C, aid)


@pytest.mark.parametrize("aid", [KENMEN_HOJO, KENMEN, JUKI])
@pytest.mark.parametrize("cla,p2", [(0x00, 0x0C), (0x00, 0x00), (0x0C, 0x0C), (0x01, 0x02),
                                    (0x80, 0x0C)])
def test_raw_bytes_are_refused_before_the_card(aid, cla, p2):
    """Even a caller that hand-writes the bytes cannot get them to a card through a driver."""
    reader = get_sim_reader("guard")
    card = RecordingChannel()

    class Card:
        def process(self, apdu: bytes) -> bytes:
            return card.transmit(apdu)

    reader.insert(Card())
    channel = reader.wait_for_card(1.0)
    assert isinstance(channel, SimChannel)
    raw = bytes([cla, 0xA4, 0x04, p2, len(aid)]) + aid
    with pytest.raises(ForbiddenApplication):
        channel.transmit(raw)
    with pytest.raises(ForbiddenApplication):
        channel.transmit(raw + b"\x00")  # with Le
    assert card.received == []
    assert reader.sent == []
    reader.remove()


@pytest.mark.parametrize("prefix_len", [1, 3, 7, 9])
def test_partial_df_names_are_refused(prefix_len):
    """Partial DF-name selection could land on the forbidden applications."""
    with pytest.raises(ForbiddenApplication):
        check_command(bytes([0, 0xA4, 0x04, 0x00, prefix_len]) + KENMEN[:prefix_len])


def test_extended_length_select_is_refused():
    with pytest.raises(ForbiddenApplication):
        check_command(bytes([0, 0xA4, 0x04, 0x0C, 0x00, 0x00, 0x0A]) + KENMEN_HOJO)


def test_our_applications_are_allowed():
    for aid in (DEFAULT_AID, JPKI_AID):
        check_command(select_aid(aid).to_bytes())
    # selecting an EF by FID and reading are not selects by DF name
    assert is_forbidden_select(bytes.fromhex("00A4020C020001")) is None
    assert is_forbidden_select(bytes.fromhex("00B0000000")) is None


def test_agent_code_never_builds_a_forbidden_select():
    """The card sequences only select the staff AP and the JPKI AP."""
    from reader_agent.card_auth import authenticate_staff_ap

    channel = RecordingChannel()
    authenticate_staff_ap(channel, lookup_public_key=lambda ref: None, reader_id="r",
                          now=__import__("datetime").datetime(2026, 1, 1))
    selects = [a for a in channel.received if a[1] == 0xA4 and a[2] == 0x04]
    assert selects == [bytes.fromhex("00A4040C08") + DEFAULT_AID]


@given(st.binary(min_size=0, max_size=300))
def test_guard_never_lets_a_forbidden_select_through(raw):
    """Whatever bytes: either refused, or not a select reaching the forbidden names."""
    try:
        check_command(raw)
    except ForbiddenApplication:
        return
    if len(raw) >= 5 and raw[1] == 0xA4 and raw[2] == 0x04:
        lc = raw[4]
        name = raw[5:5 + lc] if lc else raw[7:]
        for aid in FORBIDDEN_AIDS.values():
            assert not (name and (aid.startswith(name) or name.startswith(aid)))


def test_every_driver_channel_refuses_before_sending(monkeypatch):
    """pcsc: and nfc: channels run the same guard before touching pyscard or nfcpy."""
    import threading

    from smartcard import scard

    from reader_agent.drivers.nfc import NfcChannel
    from reader_agent.drivers.pcsc import PcscChannel

    calls: list[object] = []
    monkeypatch.setattr(scard, "SCardTransmit", lambda *a: calls.append(a) or (0, [0x90, 0]))
    raw = bytes([0x00, 0xA4, 0x04, 0x0C, 10]) + KENMEN_HOJO
    with pytest.raises(ForbiddenApplication):
        PcscChannel(None, 0, 0).transmit(raw)

    class Tag:
        def transceive(self, data):
            calls.append(data)
            return bytearray(b"\x90\x00")

    class Reader:
        _lock = threading.RLock()

    with pytest.raises(ForbiddenApplication):
        NfcChannel(Reader(), Tag()).transmit(raw)
    assert calls == []
    # and the same channels do send an allowed command
    assert NfcChannel(Reader(), Tag()).transmit(select_aid(DEFAULT_AID).to_bytes()) == b"\x90\x00"
    assert len(calls) == 1
