"""PostgreSQL (a throwaway cluster of the test's own) crashes and comes back in the middle of
ingestion from two agents: they retry, and nothing is lost or stored twice."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.db import Database
from reader_agent.agent import ReaderAgent
from reader_agent.client import format_time
from tests.agent.sim_cards import Presenter, new_card
from tests.agent.town import add_credential, enroll_confirmed, seed_town
from tests.identities import make_token

from .helpers import assert_exactly_once, drain, quick_agent, wait_for
from .pg_cluster import PgCluster
from .service import ServeProcess

pytestmark = pytest.mark.faults

BACKLOG = 2000  # per agent


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    pg = PgCluster()
    try:
        pg.start()
        yield pg
    finally:
        pg.destroy()


def backlog(agent: ReaderAgent, door_id: int) -> dict[str, int]:
    acked: dict[str, int] = {}
    for _ in range(BACKLOG // 500):
        stored = agent.outbox.append_many([
            {"kind": "door_state", "occurred_at": format_time(agent.client.device_now()),
             "door_id": door_id, "data": {"state": "open" if i % 2 else "closed"}}
            for i in range(500)])
        acked.update((e["id"], e["seq"]) for e in stored)
    return acked


def test_postgres_crash_mid_ingestion_loses_and_doubles_nothing(  # type: ignore[no-untyped-def]
        cluster: PgCluster, tmp_path: Path):
    url = cluster.create_database("mynagate")
    service = ServeProcess(url, tmp_path / "service", migrate=True).start(timeout=180)
    db = Database(url)
    town = seed_town(db)
    card = new_card()
    add_credential(db, town.staff_id, card.credential_ref, card.public_key)
    admin = httpx.Client(base_url=service.url, timeout=30, headers={
        "Authorization": f"Bearer {make_token(db, 'admin', 'admin')}"})
    agents: list[ReaderAgent] = []
    acked: dict[str, dict[str, int]] = {}
    try:
        for n in range(2):
            data_dir = tmp_path / f"agent{n}"
            ident = enroll_confirmed(admin, data_dir, service.url, [town.door_id], f"reader-{n}")
            agent = quick_agent(data_dir, town.door_id, f"sim:faults-pg{n}", timeout_s=10.0)
            agent.heartbeat.run_once()
            agent.watcher.sync()
            out = agent.tap(Presenter(card, f"faults-pg{n}"))
            assert out.granted
            acked[ident.device_id] = {e["id"]: e["seq"] for e in out.events}
            acked[ident.device_id].update(backlog(agent, town.door_id))
            agents.append(agent)
        total = sum(len(a) for a in acked.values())
        for agent in agents:
            agent.start()
        wait_for(lambda: sum(a.uploader.delivered for a in agents) > 0, 60,
                 "ingestion under way")
        cluster.stop("immediate")  # a crash: connections cut mid-transaction
        down = sum(a.uploader.delivered for a in agents)
        assert down < total, "ingestion ended before the crash"
        # The service answers 5xx without its database: the agents see it and back off.
        wait_for(lambda: not any(a.connectivity.online() for a in agents), 30,
                 "the agents saw the outage")
        time.sleep(1)
        cluster.start()
        drained = max(drain(agent, 120) for agent in agents)
    finally:
        for agent in agents:
            agent.close()
        admin.close()
        service.stop()
    stored = sum(assert_exactly_once(db, device_id, ids) for device_id, ids in acked.items())
    db.dispose()
    assert stored == total
    print(f"\npostgres crash: {down} of {total} delivered before it; all stored once, "
          f"drained {drained:.1f} s after the restart")
