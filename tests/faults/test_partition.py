"""Network partitions between agent and service, through the fault proxy: the agent keeps
deciding from its snapshot, and after the partition heals every event is stored once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.agent.sim_cards import Presenter, new_card
from tests.agent.town import add_credential, enroll_confirmed, seed_town, stored_events

from .helpers import assert_exactly_once, drain, quick_agent, wait_for
from .proxy import FaultProxy, Mode

pytestmark = pytest.mark.faults

TAPS_PER_MODE = 4


def test_partition_modes_then_heal_store_every_event_once(  # type: ignore[no-untyped-def]
        live_server, admin, database, tmp_path: Path):
    town = seed_town(database)
    card = new_card()
    add_credential(database, town.staff_id, card.credential_ref, card.public_key)
    proxy = FaultProxy(("127.0.0.1", live_server.port), latency_s=0.3)
    identity = enroll_confirmed(admin, tmp_path, proxy.url, [town.door_id])
    agent = quick_agent(tmp_path, town.door_id, "sim:faults-partition")
    present = Presenter(card, "faults-partition")
    acked: dict[str, int] = {}

    def tap(offline: bool | None = None) -> None:
        out = agent.tap(present)
        assert out.granted, out.reason  # decided from the cached snapshot, whatever the link
        if offline is not None:
            assert out.events[0]["data"]["offline"] is offline
        acked.update((e["id"], e["seq"]) for e in out.events)

    try:
        agent.heartbeat.run_once()
        agent.watcher.sync()
        agent.start()
        tap(offline=False)
        proxy.set_mode(Mode.LATENCY)
        for _ in range(TAPS_PER_MODE):
            tap()
        drain(agent, 30)  # slow, but it gets through
        for mode in (Mode.RESET, Mode.BLACKHOLE, Mode.HALF_OPEN):
            proxy.set_mode(mode)
            tap()
            wait_for(lambda: not agent.connectivity.online(), 20, f"{mode.value}: offline")
            for _ in range(TAPS_PER_MODE):
                tap(offline=True)
            if mode is Mode.HALF_OPEN:
                # The service stores the batches; the agent never hears so and resends them.
                wait_for(lambda: len([r for r in stored_events(database, identity.device_id)
                                      if r.seq > 0]) == len(acked), 20,
                         "half-open: the service stored what the agent still holds")
                seen = agent.uploader.timeouts
                wait_for(lambda seen=seen: agent.uploader.timeouts > seen, 20,
                         "half-open: the agent timed out")
                assert agent.outbox.stats()["pending"] > 0 and proxy.swallowed > 0
            assert agent.outbox.stats()["pending"] > 0
        proxy.set_mode(Mode.PASS)
        healed = drain(agent, 60)
        tap(offline=False)
        drain(agent, 10)
    finally:
        agent.close()
        proxy.close()
    stored = assert_exactly_once(database, identity.device_id, acked)
    assert proxy.resets > 0
    print(f"\npartition: {stored} events stored once; drained {healed:.1f} s after healing")
