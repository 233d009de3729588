"""Overload is never a livelock: past its in-flight bound the service answers 429 with
Retry-After at once (before any work), and the agent's real uploader backs off, shrinks its
batches, and afterwards drains its outbox into the service exactly once."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from api.db import Database
from api.events.admission import get_limiter
from api.models import Event
from reader_agent.client import ServiceBusy, ServiceClient, format_time
from reader_agent.keys import load_or_create_device_key
from reader_agent.outbox import Outbox
from reader_agent.uploader import AdaptiveBatch, Backoff, Uploader

from .town import enroll_confirmed, seed_town

EVENTS = 230


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    """The suite's settings with a bound of one batch in flight."""
    return settings.model_copy(update={"ingest_max_inflight": 1, "ingest_retry_after_s": 2})


def _stored(db: Database, device_id: str) -> tuple[int, int]:
    """(events, distinct seqs) the service holds from the device's own sequence."""
    with db.session() as s:
        n, seqs = s.execute(select(func.count(), func.count(func.distinct(Event.seq))).where(
            Event.device_id == uuid.UUID(device_id), Event.seq > 0)).one()
        return int(n), int(seqs)


def test_past_the_bound_429_then_the_uploader_drains_exactly_once(  # type: ignore[no-untyped-def]
        live_server, admin, app, database: Database, tmp_path: Path, now: datetime):
    town = seed_town(database)
    identity = enroll_confirmed(admin, tmp_path, live_server.url, [town.door_id])
    client = ServiceClient(live_server.url, identity.device_id,
                           load_or_create_device_key(tmp_path))
    outbox = Outbox(tmp_path / "outbox.db")
    outbox.append_many([{"kind": "door_state", "occurred_at": format_time(now),
                         "door_id": town.door_id, "data": {"state": "closed"}}
                        for _ in range(EVENTS)])
    uploader = Uploader(client, outbox, threading.Event(), batch_limit=100)

    limiter = get_limiter(app)
    assert limiter.try_acquire()  # another batch is being processed: the bound is full
    try:
        # At once, before the signature is even checked: 429, Retry-After, problem details.
        raw = httpx.post(f"{live_server.url}/device/v1/events", content=b"{}", timeout=5)
        assert raw.status_code == 429
        assert raw.headers["Retry-After"] == "2"
        assert raw.headers["Content-Type"] == "application/problem+json"
        assert raw.json()["status"] == 429

        with pytest.raises(ServiceBusy) as busy:
            uploader.run_once()
        assert (busy.value.status, busy.value.retry_after) == (429, 2.0)
        assert uploader.adapt.size == 50  # halved
        assert uploader.connectivity.online()  # it answered: busy, not offline
        assert _stored(database, identity.device_id) == (0, 0)
        assert outbox.stats()["pending"] == EVENTS
    finally:
        limiter.release()
    assert limiter.refused == 2

    rounds = 0
    while outbox.stats()["pending"] and rounds < 50:
        uploader.run_once()
        rounds += 1
    assert outbox.stats()["pending"] == 0
    assert uploader.delivered == EVENTS
    assert _stored(database, identity.device_id) == (EVENTS, EVENTS)
    assert uploader.adapt.size > 50  # grew back on success
    client.close()


def test_a_resent_batch_is_stored_once(  # type: ignore[no-untyped-def]
        live_server, admin, database: Database, tmp_path: Path, now: datetime):
    """A batch whose answer was lost (a timeout) is sent again: the service stores nothing
    twice and says so."""
    town = seed_town(database)
    identity = enroll_confirmed(admin, tmp_path, live_server.url, [town.door_id])
    client = ServiceClient(live_server.url, identity.device_id,
                           load_or_create_device_key(tmp_path))
    outbox = Outbox(tmp_path / "outbox.db")
    outbox.append_many([{"kind": "door_state", "occurred_at": format_time(now),
                         "door_id": town.door_id, "data": {"state": "open"}}
                        for _ in range(20)])
    batch = outbox.pending(20)
    first = client.post_events(batch)
    again = client.post_events(batch)
    assert (first["accepted"], first["duplicates"]) == (20, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 20)
    assert _stored(database, identity.device_id) == (20, 20)
    client.close()


def test_adaptive_batch_halves_on_trouble_and_grows_slowly() -> None:
    a = AdaptiveBatch(500, 10.0, min_size=10)
    a.timed_out()
    assert (a.size, a.timeout_s) == (250, 20.0)
    a.busy()
    assert (a.size, a.timeout_s) == (125, 20.0)
    for _ in range(10):
        a.busy()
    assert a.size == 125  # a refusal halves it down to a quarter of the limit, not below
    for _ in range(10):
        a.timed_out()
    assert a.size == 10
    a.busy()
    assert a.size == 10  # nor does a refusal grow it
    a.timeout_s = 20.0
    a.succeeded(elapsed_s=0.5)
    assert a.size == 11 and a.timeout_s == 15.0  # halfway back to the base of 10 s
    for _ in range(100):
        a.succeeded(elapsed_s=4.0)
    assert a.size == 500 and a.timeout_s == pytest.approx(16.0)  # 4 × what a batch takes


def test_backoff_never_comes_back_before_retry_after() -> None:
    b = Backoff(base=0.5, cap=30.0)
    delays = [b.next_delay(at_least=3.0) for _ in range(8)]
    # Retry-After, jittered, and not growing across refusals: the service says when.
    assert all(3.0 <= d <= 4.5 for d in delays), delays
    assert len(set(delays)) == 8  # jittered
    assert 0.25 <= b.next_delay() <= 0.5  # without Retry-After: exponential from its base
