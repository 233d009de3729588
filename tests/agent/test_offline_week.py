"""The offline week: the service goes away, 10,000 taps are made through the real tap path
(sim driver, real card sequence and crypto), the service comes back, and every event is
delivered exactly once, in order."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from gate.events import verify_chain
from gate.policy import Reason
from reader_agent.agent import AgentConfig, ReaderAgent, enroll_agent
from reader_agent.client import ServiceUnavailable

from .fake_service import FakeService
from .helpers import cred, fake_card
from .sim_cards import Presenter, new_card
from .town import add_credential, enroll_confirmed, seed_town, stored_events

TAPS = 10_000
WEEK = timedelta(days=7)


def refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def tap_through_the_week(agent: ReaderAgent, authenticate, taps: int,  # type: ignore[no-untyped-def]
                         start: datetime) -> tuple[dict, float]:  # type: ignore[type-arg]
    """One tap every ~60 s of device time for a week from ``start`` (the tap path's clock runs
    virtually)."""
    step = WEEK / taps
    virtual = {"t": start}
    agent.taps._device_clock = lambda: virtual["t"]
    reasons: dict[Reason, int] = {}
    t0 = time.perf_counter()
    for _ in range(taps):
        virtual["t"] += step
        out = agent.tap(authenticate)
        reasons[out.reason] = reasons.get(out.reason, 0) + 1
    return reasons, time.perf_counter() - t0


def check_week(reasons: dict[Reason, int]) -> None:
    # Granted from the cached snapshot for 72 h, then denied as stale (not a fail-open door).
    assert reasons[Reason.GRANTED] == pytest.approx(TAPS * 72 / 168, abs=2)
    assert reasons[Reason.SNAPSHOT_STALE] == TAPS - reasons[Reason.GRANTED]


@pytest.mark.slow
def test_offline_week_real_service(live_server, admin, database, tmp_path: Path, now: datetime):  # type: ignore[no-untyped-def]
    town = seed_town(database)
    card = new_card()
    add_credential(database, town.staff_id, card.credential_ref, card.public_key)
    identity = enroll_confirmed(admin, tmp_path, live_server.url, [town.door_id])
    agent = ReaderAgent(tmp_path, AgentConfig("sim:week", town.door_id))
    try:
        agent.watcher.sync()
        agent.client.set_transport(httpx.MockTransport(refuse))  # the service vanishes
        with pytest.raises(ServiceUnavailable):
            agent.heartbeat.run_once()
        reasons, tap_s = tap_through_the_week(agent, Presenter(card, "week"), TAPS, now)
        check_week(reasons)
        with pytest.raises(ServiceUnavailable):
            agent.uploader.run_once()
        assert agent.outbox.stats()["pending"] == TAPS

        agent.client.set_transport(None)  # the service is back (real HTTP again)
        t1 = time.perf_counter()
        while agent.outbox.stats()["pending"]:
            agent.uploader.run_once()
        up_s = time.perf_counter() - t1
        assert not agent.uploader.chain_reported_broken
        assert agent.uploader.last_result is not None
        assert agent.uploader.last_result["acked_through_seq"] == TAPS
        assert agent.uploader.last_result["gaps"] == []
    finally:
        agent.close()
    rows = stored_events(database, identity.device_id)
    assert [r.seq for r in rows] == list(range(1, TAPS + 1))  # once each, no gap, in order
    assert len({r.id for r in rows}) == TAPS
    chain = [{"seq": r.seq, "hash": r.hash, "prev_hash": r.prev_hash} for r in rows]
    assert all(chain[i]["prev_hash"] == chain[i - 1]["hash"] for i in range(1, TAPS))
    assert sum(r.reason == "granted" for r in rows) == reasons[Reason.GRANTED]
    print(f"\noffline week (real service, sim card): {TAPS / tap_s:.0f} taps/s through the tap "
          f"path, upload {TAPS / up_s:.0f} events/s in batches of 500")


@pytest.mark.slow
def test_offline_week_stand_in(tmp_path: Path, now: datetime):
    """The same against the in-memory stand-in (also re-checks every chain hash)."""
    svc = FakeService()
    svc.set_credential(cred("aa" * 16))
    enroll_agent(tmp_path, "http://svc", svc.new_token(), transport=svc.transport())
    agent = ReaderAgent(tmp_path, AgentConfig("sim:week", 1), transport=svc.transport())
    agent.watcher.sync()
    agent.client.set_transport(httpx.MockTransport(refuse))
    reasons, _ = tap_through_the_week(agent, fake_card("aa" * 16), TAPS, now)
    check_week(reasons)
    agent.client.set_transport(svc.transport())
    while agent.outbox.stats()["pending"]:
        agent.uploader.run_once()
    stored = sorted(svc.events.values(), key=lambda e: e["seq"])
    assert [e["seq"] for e in stored] == list(range(1, TAPS + 1))
    assert verify_chain(stored, None) is None
    assert svc.posts == TAPS // 500
    agent.close()
