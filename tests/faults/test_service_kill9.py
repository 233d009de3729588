"""The service is killed with kill -9 in the middle of ingesting a batch, then started again:
every event the agent committed is stored exactly once."""

from __future__ import annotations

import random
import time
from pathlib import Path

import httpx
import pytest

from reader_agent.client import format_time
from tests.agent.sim_cards import Presenter, new_card
from tests.agent.town import add_credential, enroll_confirmed, seed_town, stored_events
from tests.identities import make_token

from .helpers import assert_exactly_once, drain, quick_agent, wait_for
from .proxy import FaultProxy
from .service import ServeProcess

pytestmark = pytest.mark.faults

BACKLOG = 3000  # events waiting in the outbox when the service goes down: six full batches
KILLS = 2


def kill_mid_batch(service: ServeProcess, proxy: FaultProxy, rng: random.Random) -> None:
    """kill -9 while a POST /events is with the service, unanswered."""
    for _ in range(20):
        wait_for(proxy.post_in_flight, 60, "a batch sent to the service")
        time.sleep(rng.uniform(0.0, 0.05))  # somewhere inside the batch
        if proxy.post_in_flight():
            service.kill9()
            return
    raise AssertionError("no batch stayed with the service for the moment before the kill")


def test_service_kill9_mid_batch_then_restart_stores_each_event_once(  # type: ignore[no-untyped-def]
        database, db_url: str, tmp_path: Path):
    town = seed_town(database)
    card = new_card()
    add_credential(database, town.staff_id, card.credential_ref, card.public_key)
    t0 = time.monotonic()
    service = ServeProcess(db_url, tmp_path / "service").start()
    print(f"\nserve started in {time.monotonic() - t0:.1f} s")
    admin = httpx.Client(base_url=service.url, timeout=30, headers={
        "Authorization": f"Bearer {make_token(database, 'admin', 'admin')}"})
    # The proxy only watches (PASS): it shows when a batch is with the service, unanswered.
    proxy = FaultProxy(("127.0.0.1", service.port))
    identity = enroll_confirmed(admin, tmp_path / "agent", proxy.url, [town.door_id])
    agent = quick_agent(tmp_path / "agent", town.door_id, "sim:faults-kill9",
                        timeout_s=10.0)  # the kill resets the connection: no need to time out
    acked: dict[str, int] = {}
    rng = random.Random()
    seed = rng.randrange(2**32)
    rng.seed(seed)

    def stored() -> int:
        return len([r for r in stored_events(database, identity.device_id) if r.seq > 0])

    try:
        agent.heartbeat.run_once()
        agent.watcher.sync()
        out = agent.tap(Presenter(card, "faults-kill9"))
        assert out.granted
        acked.update((e["id"], e["seq"]) for e in out.events)
        for _ in range(BACKLOG // 500):  # a reader's offline backlog (door states)
            states = agent.outbox.append_many([
                {"kind": "door_state", "occurred_at": format_time(agent.client.device_now()),
                 "door_id": town.door_id, "data": {"state": "open" if i % 2 else "closed"}}
                for i in range(500)])
            acked.update((e["id"], e["seq"]) for e in states)
        total = len(acked)
        agent.start()
        at_kill = []
        for _ in range(KILLS):
            before = stored()
            wait_for(lambda before=before: stored() > before, 60,
                     "ingestion progressed since the last restart")
            kill_mid_batch(service, proxy, rng)
            at_kill.append(stored())
            assert at_kill[-1] < total, "the kill came after ingestion ended"
            time.sleep(rng.uniform(0.0, 1.0))  # the agent retries against a dead port
            service.start()
        drained = drain(agent, 120)
    finally:
        agent.close()
        admin.close()
        proxy.close()
        service.stop()
    assert assert_exactly_once(database, identity.device_id, acked) == total
    assert service.starts == KILLS + 1
    print(f"\nkill -9 x{KILLS} (seed {seed}): stored at each kill {at_kill}; {total} stored once, "
          f"the last {total - at_kill[-1]} within {drained:.1f} s of the last restart")
