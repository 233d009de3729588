"""Property: whatever order and batching the events arrive in (resends included), the service
reports exactly the missing ranges, acks the contiguous prefix, and stores each event once."""

from __future__ import annotations

import uuid
from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from api.events.ingest import IncomingEvent, ingest
from api.models import Device, Event, SequenceGap

from .signer import make_events


def _incoming(e: dict) -> IncomingEvent:
    return IncomingEvent(
        id=uuid.UUID(e["id"]), seq=e["seq"], kind=e["kind"],
        occurred_at=datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00")),
        clock_offset_ms=0, door_id=None, credential_ref=None, staff_id=None, granted=None,
        reason=None, data=e["data"], prev_hash=e["prev_hash"], hash=e["hash"], raw=e)


def _expected(received: set[int]) -> tuple[int, list[tuple[int, int]]]:
    top = max(received, default=0)
    contiguous = 0
    while contiguous + 1 in received:
        contiguous += 1
    gaps: list[tuple[int, int]] = []
    s = contiguous + 1
    while s <= top:
        if s not in received:
            start = s
            while s + 1 <= top and s + 1 not in received:
                s += 1
            gaps.append((start, s))
        s += 1
    return contiguous, gaps


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_arrival_order_gives_exact_gaps(database, now, data):
    n = data.draw(st.integers(min_value=1, max_value=25))
    events = make_events(n)
    order = data.draw(st.permutations(list(range(n))))
    # Batches of the permutation, some resent.
    cuts = sorted(data.draw(st.sets(st.integers(min_value=1, max_value=max(1, n - 1)),
                                    max_size=6)))
    batches = [order[a:b] for a, b in zip([0, *cuts], [*cuts, n], strict=True) if a < b]
    resend = data.draw(st.lists(st.integers(min_value=0, max_value=len(batches) - 1),
                                max_size=3))
    plan = batches + [batches[i] for i in resend]
    device_id = uuid.uuid4()
    with database.session() as s:
        s.add(Device(id=device_id, name=f"p-{device_id.hex[:8]}", status="active",
                     max_seq=0, contiguous_seq=0))
        s.commit()
    received: set[int] = set()
    for batch in plan:
        with database.session() as s:
            res = ingest(s, device_id=device_id, events=[_incoming(events[i]) for i in batch],
                         now=now)
            s.commit()
        fresh = {events[i]["seq"] for i in batch} - received
        received |= {events[i]["seq"] for i in batch}
        contiguous, gaps = _expected(received)
        assert res.accepted == len(fresh) and res.duplicates == len(batch) - len(fresh)
        assert res.acked_through_seq == contiguous
        assert sorted(res.gaps) == gaps
        assert res.chain_ok
    with database.session() as s:
        stored = s.execute(select(func.count()).select_from(Event)
                           .where(Event.device_id == device_id)).scalar_one()
        open_gaps = s.execute(select(func.count()).select_from(SequenceGap).where(
            SequenceGap.device_id == device_id, SequenceGap.closed_at.is_(None))).scalar_one()
        dev = s.get(Device, device_id)
    assert stored == n and open_gaps == 0
    assert dev is not None and dev.contiguous_seq == n == dev.max_seq
    assert dev.last_event_hash == events[-1]["hash"]
