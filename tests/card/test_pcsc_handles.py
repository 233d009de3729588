"""The PC/SC channel never leaks a handle (issue 9 finding 10), through the real pcscd + vpcd
stack started with ``--max-card-handle-per-reader 3`` (tests/card/stacks.py) and the agent's
run loop: ten cards that go mute mid-exchange, then a good card, which is granted; and a
reader whose handles are used up raises the ``reader_failing`` alarm, cleared when it works."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from smartcard import scard

from gate.door import Alarm
from gate.policy import Reason
from reader_agent.agent import AgentConfig, ReaderAgent, enroll_agent
from reader_agent.cards import SilentCard
from reader_agent.cards.staff_ap import VirtualStaffCard
from reader_agent.cards.vpcd import VpcdCard
from reader_agent.display import RecordingDisplay
from reader_agent.drivers.pcsc import pending_releases
from reader_agent.tap_source import open_tap_source

from ..agent.fake_service import FakeService
from ..agent.helpers import cred

pytestmark = pytest.mark.pcsc

SILENT_CARDS = 10
# How long each silent card stays on the reader after its tap was refused: longer than the
# 2 s the old close() waited for the stuck exchange before it gave the handle up for good.
HOLD_S = 2.5


def wait_for(done: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


@contextmanager
def running_agent(tmp_path: Path, reader: str, good: VirtualStaffCard,
                  display: RecordingDisplay) -> Iterator[ReaderAgent]:
    svc = FakeService()
    svc.set_credential(cred(good.credential_ref, public_key=good.public_key))
    enroll_agent(tmp_path, "http://svc", svc.new_token(), transport=svc.transport())
    agent = ReaderAgent(tmp_path, AgentConfig(f"pcsc:{reader}", 1, card_timeout_s=0.5),
                        transport=svc.transport(), display=display, upload_idle_s=0.05,
                        wait_s=1)
    agent.watcher.sync()
    source = open_tap_source(f"pcsc:{reader}")
    runner = threading.Thread(target=agent.run, args=(source, 0.2), daemon=True)
    runner.start()
    try:
        yield agent
    finally:
        agent.stop.set()
        runner.join(5)
        source.close()
        agent.close()


def present(card: VpcdCard, display: RecordingDisplay, what: str, hold_s: float = 0.0) -> bool:
    """Insert, wait for the reader's answer, keep the card there ``hold_s``, remove it."""
    shown = len(display.shown)
    card.insert()
    try:
        wait_for(lambda: len(display.shown) > shown, 10, what)
        time.sleep(hold_s)
        return display.shown[shown].ok
    finally:
        card.remove()
        time.sleep(0.6)  # pcscd reports the removal ~0.4 s later


def test_ten_silent_cards_then_a_good_one_is_granted(pcscd, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture):
    assert pcscd.max_handles_per_reader == 3
    good = VirtualStaffCard.generate("372153")
    display = RecordingDisplay()
    caplog.set_level(logging.INFO, logger="reader_agent.drivers.pcsc")
    with running_agent(tmp_path, pcscd.reader, good, display) as agent:
        for i in range(SILENT_CARDS):
            silent = SilentCard(VirtualStaffCard.generate("372153"), answers=1)
            card = VpcdCard(silent, "127.0.0.1", pcscd.port)
            assert not present(card, display, f"silent card {i + 1} to be refused", HOLD_S)
            assert silent.seen >= 2, "the card did not go mute mid-exchange"
        granted = present(VpcdCard(good, "127.0.0.1", pcscd.port), display, "the good card")
        wait_for(lambda: pending_releases() == 0, 5, "the mute cards' handles to be released")
        events = agent.outbox.all_events()
    assert granted, display.shown[-1]
    taps = [e for e in events if e["kind"] in ("tap", "card_error")]
    assert [e["reason"] for e in taps] == [Reason.CARD_ERROR.value] * SILENT_CARDS + [
        Reason.GRANTED.value]
    assert taps[-1]["credential_ref"] == good.credential_ref
    assert not [e for e in events if e["kind"] == "alarm"]
    # Each mute card's handle was closed while its exchange was stuck, and released after.
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("pcsc.disconnect.deferred reason=exchange_in_progress") == SILENT_CARDS
    assert messages.count("pcsc.disconnect.done_after_exchange") == SILENT_CARDS


def test_reader_with_its_handles_used_up_raises_an_alarm(pcscd, tmp_path: Path):
    """Someone else holds every handle the reader allows: the agent cannot connect, records
    ``reader_failing`` (error ``transport``), and clears it once it can connect again."""
    good = VirtualStaffCard.generate("372153")
    card = VpcdCard(good, "127.0.0.1", pcscd.port)
    card.insert()
    hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert hr == scard.SCARD_S_SUCCESS
    handles = []
    display = RecordingDisplay()
    try:
        deadline = time.monotonic() + 10
        while len(handles) < pcscd.max_handles_per_reader:
            hr, hcard, _proto = scard.SCardConnect(
                ctx, pcscd.reader, scard.SCARD_SHARE_SHARED,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
            if hr == scard.SCARD_S_SUCCESS:
                handles.append(hcard)
            else:
                assert time.monotonic() < deadline, f"SCardConnect: 0x{hr & 0xFFFFFFFF:08X}"
                time.sleep(0.1)  # the card is not seen yet
        with running_agent(tmp_path, pcscd.reader, good, display) as agent:
            def alarms() -> list[dict]:  # type: ignore[type-arg]
                return [e["data"] for e in agent.outbox.all_events() if e["kind"] == "alarm"]

            wait_for(lambda: len(alarms()) == 1, 10, "the reader_failing alarm")
            raised = alarms()[0]
            assert not display.shown  # no card could be read meanwhile
            for h in handles:
                scard.SCardDisconnect(h, scard.SCARD_LEAVE_CARD)
            handles.clear()
            wait_for(lambda: bool(display.shown), 10, "the card once the handles are free")
            wait_for(lambda: len(alarms()) == 2, 5, "the alarm to clear")
            cleared = alarms()[1]
        assert display.shown[0].ok
        assert raised["alarm"] == Alarm.READER_FAILING.value and raised["active"] is True
        assert raised["error"] == "transport" and raised["failures"] == 5
        assert raised["reader"] == f"pcsc:{pcscd.reader}"
        assert cleared["alarm"] == Alarm.READER_FAILING.value and cleared["active"] is False
    finally:
        for h in handles:
            scard.SCardDisconnect(h, scard.SCARD_LEAVE_CARD)
        scard.SCardReleaseContext(ctx)
        card.remove()
        time.sleep(0.6)
