"""The agent's run loop over a real sim: reader (open_tap_source), cards presented from
another thread the way the demo does it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from reader_agent.agent import AgentConfig, ReaderAgent, enroll_agent
from reader_agent.display import RecordingDisplay
from reader_agent.drivers.sim import get_sim_reader
from reader_agent.tap_source import open_tap_source

from .fake_service import FakeService
from .helpers import cred
from .sim_cards import new_card


def test_run_loop_serves_presented_cards(tmp_path: Path):
    card, stranger = new_card(), new_card()
    svc = FakeService()
    svc.set_credential(cred(card.credential_ref, public_key=card.public_key))
    enroll_agent(tmp_path, "http://svc", svc.new_token(), transport=svc.transport())
    display = RecordingDisplay()
    agent = ReaderAgent(tmp_path, AgentConfig("sim:loop", 1), transport=svc.transport(),
                        display=display, upload_idle_s=0.05, wait_s=1)
    agent.watcher.sync()
    source = open_tap_source("sim:loop")
    reader = get_sim_reader("loop")
    runner = threading.Thread(target=agent.run, args=(source, 0.05), daemon=True)
    runner.start()
    try:
        for c in (card, stranger, card):
            reader.insert(c)
            deadline = time.monotonic() + 5
            n = len(display.shown)
            while len(display.shown) == n and time.monotonic() < deadline:
                time.sleep(0.01)
            reader.remove()
        # A card left on the reader is served once, not once per poll.
        reader.insert(card)
        time.sleep(0.3)
        reader.remove()
        deadline = time.monotonic() + 5
        while agent.outbox.stats()["pending"] and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        agent.stop.set()
        runner.join(5)
        agent.close()
    assert [s.ok for s in display.shown] == [True, False, True, True]
    assert display.shown[1].text == "登録されていないカードです"
    stored = sorted(svc.events.values(), key=lambda e: e["seq"])
    assert [e["reason"] for e in stored] == ["granted", "unknown_credential", "granted",
                                             "granted"]
    assert stored[1]["credential_ref"] == stranger.credential_ref
