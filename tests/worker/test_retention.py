"""Retention: old events and audit rows pruned in bulk, a signed summary left in their place,
and the remaining hash chain verifying from that summary onward."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select

from api.db import Database
from api.models import (
    ChainName,
    Device,
    Event,
    OutboundDelivery,
    OutboundStatus,
    RetentionSummary,
)
from api.outbound.deliver import expand_all
from api.worker.jobs import check_heartbeats
from api.worker.retention import (
    prune_all,
    prune_outbound,
    verify_device_chain,
    verify_summary,
)
from api.worker.settings import RetentionSettings

from .helpers import NOW, chained, store, town

KEY = Ed25519PrivateKey.generate()
RULES = RetentionSettings(events_days=366, punches_days=1827, audit_days=1827)


def _days_ago(*days: float, **fields: object) -> list[dict[str, object]]:
    return [{"occurred_at": NOW - timedelta(days=d), **fields} for d in days]


def _seqs(db: Database, device_id: uuid.UUID) -> list[int]:
    with db.session() as s:
        return list(s.execute(select(Event.seq).where(Event.device_id == device_id)
                              .order_by(Event.seq)).scalars())


def _prune(db: Database, now: datetime = NOW,
           rules: RetentionSettings = RULES) -> list[RetentionSummary]:
    with db.session() as s:
        rows = prune_all(s, rules, KEY, now)
        s.commit()
    return rows


def test_prune_leaves_a_signed_summary_and_the_chain_verifies(database: Database) -> None:
    device_id, door_id = town(database)
    events = chained(_days_ago(800, 700, 500, 400, 300, 10, door_id=door_id))
    store(database, device_id, events, NOW)
    with database.session() as s:  # before: the chain verifies from seq 1
        assert verify_device_chain(s, device_id, KEY.public_key()).ok

    [summary] = _prune(database)
    assert _seqs(database, device_id) == [5, 6]
    assert (summary.chain, summary.device_id, summary.removed) == \
        (ChainName.DEVICE_EVENTS, device_id, 4)
    assert (summary.first_seq, summary.last_seq) == (1, 4)
    assert (summary.first_hash, summary.last_hash) == (events[0].hash, events[3].hash)
    assert summary.first_at == NOW - timedelta(days=800)
    assert summary.last_at == NOW - timedelta(days=400)
    assert verify_summary(summary, KEY.public_key())

    with database.session() as s:
        check = verify_device_chain(s, device_id, KEY.public_key())
        assert (check.ok, check.start_seq, check.checked) == (True, 5, 2)
        # a summary signed by another key, or edited, does not verify
        assert not verify_device_chain(s, device_id,
                                       Ed25519PrivateKey.generate().public_key()).ok
        stored = s.get_one(RetentionSummary, summary.id)
        stored.removed = 3
        assert not verify_summary(stored, KEY.public_key())
        s.rollback()

    # nothing more is due today; a later run prunes the next one and links the summaries
    assert _prune(database) == []
    [later] = _prune(database, NOW + timedelta(days=70))
    assert (later.first_seq, later.last_seq, later.previous_summary_id) == (5, 5, summary.id)
    assert later.first_hash == events[4].hash
    with database.session() as s:
        assert verify_device_chain(s, device_id, KEY.public_key()).start_seq == 6
        assert verify_device_chain(s, device_id, KEY.public_key()).ok


def test_a_deleted_event_after_the_summary_breaks_the_chain(database: Database) -> None:
    device_id, _ = town(database)
    store(database, device_id, chained(_days_ago(500, 400, 300, 200, 100)), NOW)
    _prune(database)
    with database.session() as s:
        s.execute(delete(Event).where(Event.device_id == device_id, Event.seq == 4))
        s.commit()
        check = verify_device_chain(s, device_id, KEY.public_key())
    assert not check.ok and "seq 4 missing" in (check.problem or "")


def test_punches_are_kept_five_years_and_hold_back_later_taps(database: Database) -> None:
    device_id, door_id = town(database)
    specs = (_days_ago(2000, kind="clock_punch", data={"punch": "in",
                                                       "business_date": "2021-05-10"})
             + _days_ago(1900, 1000, door_id=door_id)
             + _days_ago(900, kind="clock_punch", data={"punch": "in",
                                                        "business_date": "2024-06-13"})
             + _days_ago(800, door_id=door_id))
    store(database, device_id, chained(specs), NOW)
    [summary] = _prune(database)
    # the 2000-day punch and the taps up to the 900-day punch go; that punch (< 5 years)
    # stays, and so does the tap after it: one chain cannot have holes
    assert (summary.first_seq, summary.last_seq, summary.removed) == (1, 3, 3)
    assert _seqs(database, device_id) == [4, 5]
    with database.session() as s:
        assert verify_device_chain(s, device_id, KEY.public_key()).ok


def test_pruning_stops_at_a_gap(database: Database) -> None:
    device_id, _ = town(database)
    events = chained(_days_ago(900, 800, 700, 600))
    store(database, device_id, events[:2] + events[3:], NOW)  # seq 3 not delivered yet
    [summary] = _prune(database)
    assert (summary.first_seq, summary.last_seq) == (1, 2)
    assert _seqs(database, device_id) == [4]
    store(database, device_id, [events[2]], NOW)  # the late event still links to the summary
    with database.session() as s:
        assert verify_device_chain(s, device_id, KEY.public_key()).ok


def test_service_alarms_are_pruned_by_age_keeping_the_newest(database: Database) -> None:
    device_id, _ = town(database, heartbeat=None)
    for days in (800, 700, 10):  # three silences, each alarmed by the service
        with database.session() as s:
            s.get_one(Device, device_id).last_heartbeat_at = NOW - timedelta(days=days + 1)
            assert check_heartbeats(s, timedelta(minutes=15), NOW - timedelta(days=days))
            s.commit()
    assert _seqs(database, device_id) == [-3, -2, -1]
    summaries = _prune(database)
    assert _seqs(database, device_id) == [-3]
    [alarms] = [r for r in summaries if r.first_seq < 0]
    assert (alarms.removed, alarms.first_seq, alarms.last_seq) == (2, -2, -1)
    assert verify_summary(alarms, KEY.public_key())
    # everything old: still the newest stays, so the next alarm is -4, never -1 again
    _prune(database, NOW + timedelta(days=800))
    assert _seqs(database, device_id) == [-3]


def test_sent_outbound_messages_are_dropped_after_a_week(database: Database) -> None:
    device_id, door_id = town(database)
    store(database, device_id, chained(_days_ago(1, door_id=door_id)), NOW)
    assert expand_all(database, now=NOW) == 1  # the worker makes the event's deliveries
    with database.session() as s:
        rows = s.execute(select(OutboundDelivery)).scalars().all()
        assert len(rows) == 2  # the event and the retained door state (MQTT)
        rows[0].status = OutboundStatus.DELIVERED
        rows[1].status = OutboundStatus.FAILED
        s.commit()
    with database.session() as s:
        assert prune_outbound(s, RULES, NOW + timedelta(days=6)) == 0
        assert prune_outbound(s, RULES, NOW + timedelta(days=8)) == 1  # the delivered one
        assert prune_outbound(s, RULES, NOW + timedelta(days=367)) == 1  # the failed one
        s.commit()
