"""A reader that keeps failing raises one alarm event (typed error) and clears it when it works
again; the run loop reports to it. The real-stack case (pcscd's handles used up) is in
tests/card/test_pcsc_handles.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from gate.door import Alarm
from reader_agent.agent import AgentConfig, ReaderAgent, enroll_agent
from reader_agent.drivers import ReaderUnavailable, TransportError
from reader_agent.reader_health import ReaderHealth

from .fake_service import FakeService


def test_alarm_after_threshold_once_then_cleared():
    recorded: list[dict] = []  # type: ignore[type-arg]
    health = ReaderHealth("pcsc:Sony", recorded.append, threshold=3)
    health.failed(TransportError("SCardConnect: Not enough memory"))
    health.failed(TransportError("x"))
    health.ok()  # a glitch: the count starts again
    for _ in range(2):
        health.failed(ReaderUnavailable("gone"))
    assert recorded == []
    for _ in range(10):
        health.failed(ReaderUnavailable("gone"))
    assert len(recorded) == 1
    assert recorded[0]["alarm"] is Alarm.READER_FAILING and recorded[0]["active"] is True
    assert recorded[0]["error"] == "reader_unavailable" and recorded[0]["failures"] == 3
    health.ok()
    health.ok()
    assert [r["active"] for r in recorded] == [True, False]
    assert recorded[1]["failures"] == 12


def test_run_loop_records_the_alarm_in_the_outbox(tmp_path: Path):
    svc = FakeService()
    enroll_agent(tmp_path, "http://svc", svc.new_token(), transport=svc.transport())
    agent = ReaderAgent(tmp_path, AgentConfig("pcsc:Sony", 1), transport=svc.transport())
    rounds = {"n": 0}

    def source(timeout: float) -> None:
        rounds["n"] += 1
        if rounds["n"] <= 6:
            raise TransportError("SCardConnect: Not enough memory")
        return None

    runner = threading.Thread(target=agent.run, args=(source, 0.01), daemon=True)
    runner.start()
    try:
        deadline = time.monotonic() + 5
        while rounds["n"] < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        agent.stop.set()
        runner.join(5)
    alarms = [e for e in agent.outbox.all_events() if e["kind"] == "alarm"]
    agent.close()
    assert [(a["data"]["alarm"], a["data"]["active"]) for a in alarms] == [
        ("reader_failing", True), ("reader_failing", False)]
    assert alarms[0]["data"]["error"] == "transport" and alarms[0]["door_id"] == 1
