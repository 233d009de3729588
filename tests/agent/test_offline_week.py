"""The offline week: the service goes away, 10,000 taps are made through the real tap path,
the service comes back, and every event is delivered exactly once, in order."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from gate.events import verify_chain
from gate.policy import Reason
from reader_agent.agent import AgentConfig, ReaderAgent, enroll_agent
from reader_agent.client import ServiceUnavailable

from .fake_service import FakeService
from .helpers import cred, fake_card

REF = "aa" * 16
TAPS = 10_000
WEEK = timedelta(days=7)


def refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.mark.slow
def test_offline_week_stand_in(tmp_path: Path):
    svc = FakeService()
    svc.set_credential(cred(REF))
    enroll_agent(tmp_path, "http://svc", svc.new_token(), transport=svc.transport())
    agent = ReaderAgent(tmp_path, AgentConfig("sim:week", 1), transport=svc.transport())
    agent.watcher.sync()
    start = datetime.now(UTC)
    agent.client.set_transport(httpx.MockTransport(refuse))  # the service vanishes

    # The tap path's clock runs through the week: one tap every ~60 s of device time.
    step = WEEK / TAPS
    virtual = {"t": start}
    agent.taps._device_clock = lambda: virtual["t"]
    card = fake_card(REF)
    t0 = time.perf_counter()
    reasons: dict[Reason, int] = {}
    for _ in range(TAPS):
        virtual["t"] += step
        out = agent.tap(card)
        reasons[out.reason] = reasons.get(out.reason, 0) + 1
    tap_s = time.perf_counter() - t0
    # Granted from the snapshot for 72 h, then denied as stale: this door is not fail-open.
    assert reasons[Reason.GRANTED] == pytest.approx(TAPS * 72 / 168, abs=2)
    assert reasons[Reason.SNAPSHOT_STALE] == TAPS - reasons[Reason.GRANTED]
    with pytest.raises(ServiceUnavailable):
        agent.uploader.run_once()

    agent.client.set_transport(svc.transport())  # the service is back
    t1 = time.perf_counter()
    while agent.outbox.stats()["pending"]:
        agent.uploader.run_once()
    up_s = time.perf_counter() - t1
    stored = sorted(svc.events.values(), key=lambda e: e["seq"])
    assert [e["seq"] for e in stored] == list(range(1, TAPS + 1))
    assert verify_chain(stored, None) is None
    assert svc.posts == TAPS // 500
    print(f"\noffline week (stand-in): {TAPS / tap_s:.0f} taps/s, upload {TAPS / up_s:.0f} events/s")
    agent.close()
