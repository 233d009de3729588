"""Two ``mynagate serve`` processes on one PostgreSQL race the same device's signed, chained
batches: the same batch to both at once, overlapping ranges, a gap opened and filled across
the two, and a shuffled free-for-all. Every event is stored once, none is lost, the gaps are
the ones left open, and each event is counted as accepted by exactly one of the answers."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api.db import Database
from api.models import Device, Event, OutboundDelivery, OutboundEvent, SequenceGap
from api.outbound.deliver import expand_all
from tests.agent.town import seed_town
from tests.device_protocol.signer import SignedDevice, enroll, make_events
from tests.identities import make_token

from .service import ServeProcess

pytestmark = pytest.mark.faults

TOTAL = 1500
GAP = (700, 749)  # seqs held back until the gap has been recorded


class Replica:
    """One serve process and a device client signing for it (one httpx client per thread)."""

    def __init__(self, service: ServeProcess, device_id: str, key: Any) -> None:
        self.service, self.device_id, self.key = service, device_id, key
        self._local = threading.local()
        self._clients: list[httpx.Client] = []

    def close(self) -> None:
        for http in self._clients:
            http.close()

    def post(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        """POST the batch; on 429/503 wait Retry-After and send it again (a new nonce)."""
        http = getattr(self._local, "http", None)
        if http is None:
            http = self._local.http = httpx.Client(base_url=self.service.url, timeout=60)
            self._clients.append(http)  # list.append is atomic: threads add their own
        device = SignedDevice(http, self.device_id, self.key)
        for _ in range(200):
            resp = device.post_events(events)
            if resp.status_code not in (429, 503):
                assert resp.status_code == 200, resp.text
                body: dict[str, Any] = resp.json()
                return body
            time.sleep(float(resp.headers.get("Retry-After", "1")) * random.random())
        raise AssertionError("the batch was refused 200 times")


class Race:
    """Sends batches to the two replicas at the same moment and keeps every answer."""

    def __init__(self, a: Replica, b: Replica, pool: ThreadPoolExecutor) -> None:
        self.replicas, self.pool = (a, b), pool
        self.answers: list[tuple[int, dict[str, Any]]] = []  # (events sent, answer)

    def at_once(self, *sends: tuple[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
        """Each (replica index, batch) sent concurrently, released by one barrier."""
        barrier = threading.Barrier(len(sends))

        def send(which: int, batch: list[dict[str, Any]]) -> dict[str, Any]:
            barrier.wait(30)
            return self.replicas[which].post(batch)

        futures = [self.pool.submit(send, w, b) for w, b in sends]
        out = [f.result() for f in futures]
        self.answers += [(len(b), r) for (_, b), r in zip(sends, out, strict=True)]
        return out


@pytest.fixture
def replicas(db_url: str, tmp_path: Path) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    services = []
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            services.append(ServeProcess(db_url, tmp_path / name / "service").start())
        yield services[0], services[1]
    finally:
        for s in services:
            s.stop()


def open_gaps(db: Database, device_id: uuid.UUID) -> list[tuple[int, int]]:
    with db.session() as s:
        return [(g.first_seq, g.last_seq) for g in s.execute(
            select(SequenceGap).where(SequenceGap.device_id == device_id,
                                      SequenceGap.closed_at.is_(None))
            .order_by(SequenceGap.first_seq)).scalars()]


def run_scenarios(race: Race, ev: dict[int, dict[str, Any]], rng: random.Random,
                  gaps: Callable[[], list[tuple[int, int]]]) -> None:
    def seqs(first: int, last: int) -> list[dict[str, Any]]:
        return [ev[s] for s in range(first, last + 1)]

    # The same batch to both processes at once, three times over.
    for first in (1, 101, 201):
        one, two = race.at_once((0, seqs(first, first + 99)), (1, seqs(first, first + 99)))
        assert sorted((one["accepted"], two["accepted"])) == [0, 100], (one, two)
    # Overlapping ranges, each replica sent both, in opposite orders.
    race.at_once((0, seqs(301, 450)), (1, seqs(376, 525)), (0, seqs(376, 525)),
                 (1, seqs(301, 450)))
    # A gap: the batches on either side race, the middle is held back.
    race.at_once((0, seqs(526, GAP[0] - 1)), (1, seqs(GAP[1] + 1, 900)),
                 (1, seqs(600, GAP[0] - 1)), (0, seqs(850, 950)))
    assert gaps() == [GAP], "the held-back range is the one open gap"
    # The gap filled by both at once, while later batches race in.
    race.at_once((0, seqs(*GAP)), (1, seqs(*GAP)), (0, seqs(951, 1100)),
                 (1, seqs(1001, 1150)))
    # The rest, shuffled, in overlapping windows (each reaches the next), eight at a time.
    windows = [(s, min(s + rng.randrange(40, 120), TOTAL)) for s in range(1101, TOTAL + 1, 40)]
    rng.shuffle(windows)
    for i in range(0, len(windows), 8):
        race.at_once(*[(rng.randrange(2), seqs(*w)) for w in windows[i:i + 8]])


def test_two_api_processes_race_one_device_without_duplicates_or_loss(  # type: ignore[no-untyped-def]
        database: Database, replicas: tuple[ServeProcess, ServeProcess], wall_clock):
    a, b = replicas
    town = seed_town(database)
    admin = httpx.Client(base_url=a.url, timeout=30, headers={
        "Authorization": f"Bearer {make_token(database, 'admin', 'admin')}"})
    with admin:
        signed, _ = enroll(admin, name="race", door_ids=[town.door_id])
    device_id = uuid.UUID(signed.device_id)
    events = make_events(TOTAL, door_id=town.door_id)
    ev = {e["seq"]: e for e in events}
    rng = random.Random()
    seed = rng.randrange(2**32)
    rng.seed(seed)
    pair = (Replica(a, signed.device_id, signed.key), Replica(b, signed.device_id, signed.key))
    try:
        with ThreadPoolExecutor(16) as pool:
            race = Race(*pair, pool)
            run_scenarios(race, ev, rng, gaps=lambda: open_gaps(database, device_id))
    finally:
        for replica in pair:
            replica.close()

    sent = sum(n for n, _ in race.answers)
    accepted = sum(r["accepted"] for _, r in race.answers)
    duplicates = sum(r["duplicates"] for _, r in race.answers)
    assert accepted == TOTAL, f"events accepted {accepted} times, {TOTAL} sent once each"
    assert duplicates == sent - TOTAL
    assert all(r["chain_ok"] for _, r in race.answers), "a race looked like a broken chain"
    with database.session() as s:
        rows = list(s.execute(select(Event.seq, Event.id, Event.hash).where(
            Event.device_id == device_id).order_by(Event.seq)))
        device = s.get(Device, device_id)
        assert device is not None
        queued, queued_events = s.execute(select(
            func.count(), func.count(func.distinct(OutboundEvent.event_id)))).one()
    assert [r.seq for r in rows] == list(range(1, TOTAL + 1)), \
        "every seq once, no service alarm (chain, authority) among them"
    assert {str(r.id) for r in rows} == {e["id"] for e in events}
    assert all(r.hash == ev[r.seq]["hash"] for r in rows)
    assert (device.max_seq, device.contiguous_seq) == (TOTAL, TOTAL)
    assert device.last_event_hash == ev[TOTAL]["hash"]
    assert open_gaps(database, device_id) == []
    # The fan-out queue got each stored event once, not once per replica; the worker's
    # expansion makes each message once.
    assert queued == queued_events == TOTAL
    assert expand_all(database, now=wall_clock()) == TOTAL
    with database.session() as s:
        delivered = s.execute(select(func.count(func.distinct(OutboundDelivery.message_id)))
                              ).scalar_one()
        deliveries = s.execute(select(func.count()).select_from(OutboundDelivery)).scalar_one()
    assert deliveries == delivered >= TOTAL
    print(f"\ntwo replicas (seed {seed}): {len(race.answers)} answers, {sent} events sent, "
          f"{TOTAL} stored once, {duplicates} answered as duplicates")
