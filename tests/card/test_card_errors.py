"""Card faults become failed results with a clear detail, never exceptions."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gate.policy import Reason
from reader_agent.card_auth import authenticate_jpki, authenticate_staff_ap
from reader_agent.cards.staff_ap import VirtualStaffCard
from reader_agent.drivers.sim import get_sim_reader

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


class Faulty:
    """Wraps a card; from the ``at``-th APDU on, ``fault(apdu, response)`` decides the answer."""

    def __init__(self, card, at: int, fault) -> None:
        self.card, self.at, self.fault, self.n = card, at, fault, 0

    def process(self, apdu: bytes):
        self.n += 1
        response = self.card.process(apdu)
        return self.fault(apdu, response) if self.n >= self.at else response


def staff_tap(*cards, reader="err"):
    r = get_sim_reader(reader)
    for c in cards:
        r.insert(c)
    channel = r.wait_for_card(1.0)
    card = VirtualStaffCard  # noqa: F841 (for readability of the table below)
    table = {}
    for c in cards:
        inner = getattr(c, "card", c)
        table[inner.credential_ref] = inner.public_key
    return authenticate_staff_ap(channel, lookup_public_key=table.get, reader_id="r", now=NOW)


@pytest.fixture
def card():
    return VirtualStaffCard.generate("372153")


def test_removed_mid_exchange(card):
    reader = get_sim_reader("err")

    def remove(apdu, response):
        reader.remove()
        return response

    result = staff_tap(Faulty(card, 3, remove))
    assert not result.ok and result.failure is Reason.CARD_ERROR
    assert result.detail.startswith("removed:")


def test_two_cards_in_the_field(card):
    result = staff_tap(card, VirtualStaffCard.generate("372153"))
    assert result.failure is Reason.CARD_ERROR
    assert result.detail.startswith("multiple_cards:")


def test_mute_card(card):
    result = staff_tap(Faulty(card, 4, lambda a, r: None))
    assert result.failure is Reason.CARD_ERROR and result.detail.startswith("mute:")


@pytest.mark.parametrize("at,cut", [(1, 1), (3, 1), (3, 40), (4, 0), (4, 10)])
def test_truncated_responses(card, at, cut):
    result = staff_tap(Faulty(card, at, lambda a, r: r[:cut]))
    assert not result.ok and result.failure is Reason.CARD_ERROR
    # A cut lands the status word on random data: "malformed", or an unexpected SW (possibly
    # after following a 61 xx) — a card error either way, never a pass and never a raise.
    assert result.detail.startswith(("malformed", "READ BINARY answered SW",
                                     "INTERNAL AUTHENTICATE answered SW")), result.detail


@pytest.mark.parametrize("at,sw", [(1, b"\x6f\x00"), (2, b"\x6a\x82"), (3, b"\x69\x86"),
                                   (4, b"\x69\x85"), (4, b"\x67\x00")])
def test_wrong_status_words(card, at, sw):
    result = staff_tap(Faulty(card, at, lambda a, r: sw))
    assert not result.ok
    assert result.failure is Reason.CARD_ERROR
    assert sw.hex().upper() in result.detail


def test_select_6a82_means_not_our_card(card):
    result = staff_tap(Faulty(card, 1, lambda a, r: b"\x6a\x82"))
    assert result.failure is Reason.UNKNOWN_CREDENTIAL and "no staff card AP" in result.detail


def test_garbage_signature(card):
    result = staff_tap(Faulty(card, 4, lambda a, r: b"\x30\x02\x01" + b"\x90\x00"))
    assert result.failure is Reason.CARD_AUTH_FAILED


def test_a_reader_that_raises_something_else_is_contained(card):
    """A driver bug other than CardError is the agent's business (it runs taps under a guard);
    card_auth lets it through rather than inventing a result."""

    class Broken:
        def transmit(self, apdu):
            raise RuntimeError("driver bug")

    with pytest.raises(RuntimeError):
        authenticate_staff_ap(Broken(), lookup_public_key=lambda r: None, reader_id="r",
                              now=NOW)


def test_removal_races_with_an_exchange(card):
    """Remove the card from another thread while taps run: every tap ends in a result."""
    reader = get_sim_reader("race")
    results = []
    for _ in range(20):
        reader.insert(card)
        channel = reader.wait_for_card(1.0)
        t = threading.Timer(0.0005, reader.remove)
        t.start()
        results.append(authenticate_staff_ap(channel, lookup_public_key={
            card.credential_ref: card.public_key}.get, reader_id="r", now=NOW))
        t.join()
        reader.remove()
    assert all(r.ok or r.failure is Reason.CARD_ERROR for r in results)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(at=st.integers(1, 5), junk=st.binary(max_size=300))
def test_fuzzed_staff_ap_responses_never_raise(card, at, junk):
    result = staff_tap(Faulty(card, at, lambda a, r: junk), reader=f"fz{at}")
    get_sim_reader(f"fz{at}").remove()
    assert result.kind == "staff_ap"
    assert not result.ok or at == 5  # at 5 the tap had already finished with 4 APDUs
    assert result.detail


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(at=st.integers(1, 12), junk=st.binary(max_size=300))
def test_fuzzed_jpki_responses_never_raise(jpki_card, test_ca, now, at, junk):
    reader = get_sim_reader("fzj")
    reader.remove()
    jpki_card.reset()
    jpki_card.tries_left = 3
    reader.insert(Faulty(jpki_card, at, lambda a, r: junk))
    spki = jpki_card.certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    result = authenticate_jpki(reader.wait_for_card(1.0),
                               lookup_public_key={jpki_card.credential_ref: spki}.get,
                               read_pin=lambda: "4821", show=lambda t: None,
                               ca_certs=[test_ca[1]], reader_id="r", now=now)
    assert result.kind == "jpki_auth" and result.detail
