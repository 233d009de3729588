"""Lock rules: anomaly alerts, battery days left, drift (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from gate.pin.rules import (
    BatteryReading,
    BookingWindow,
    LockEvent,
    anomalies,
    battery_days_left,
    estimate_drift_ppm,
)

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


def kinds(alerts):  # type: ignore[no-untyped-def]
    return sorted((a.kind, a.booking_id) for a in alerts)


def test_each_anomaly_and_a_clean_day():
    b = BookingWindow(1, T0, T0 + 2 * H)
    clean = [LockEvent(T0 + M, "open_pin"), LockEvent(T0 + 2 * M, "door_open"),
             LockEvent(T0 + 110 * M, "door_close")]
    assert anomalies(clean, [b], T0 + 5 * H) == []
    # opened outside any booking
    outside = clean + [LockEvent(T0 + 4 * H, "door_open"), LockEvent(T0 + 4 * H + M,
                                                                      "door_close")]
    assert kinds(anomalies(outside, [b], T0 + 5 * H)) == [("opened_outside_booking", None)]
    # left open after the booking ends
    left = clean[:2]
    assert kinds(anomalies(left, [b], T0 + 5 * H)) == [("left_open", 1)]
    assert anomalies(left, [b], T0 + 2 * H + 5 * M) == []  # not yet: within the allowance
    # repeated wrong codes: five within 15 minutes, once per burst
    wrong = clean + [LockEvent(T0 + 30 * M + i * M, "wrong_code") for i in range(7)]
    assert kinds(anomalies(wrong, [b], T0 + 5 * H)) == [("repeated_wrong_codes", None)]
    slow = clean + [LockEvent(T0 + i * 20 * M, "wrong_code") for i in range(6)]
    assert anomalies(slow, [b], T0 + 5 * H) == []
    # a paid booking never opened
    assert kinds(anomalies([], [b], T0 + 5 * H)) == [("no_show", 1)]
    # the lock's log is only known up to its last upload: no conclusion before that
    assert anomalies([], [b], T0 + 5 * H, log_complete_until=T0 + H) == []
    assert anomalies([], [BookingWindow(2, T0, T0 + 2 * H, paid=False)], T0 + 5 * H) == []


def test_battery_days_left_from_usage():
    # idle 0.1 %/day plus 0.05 % per opening; 20 openings a day → 1.1 %/day
    rs, pct, at = [], 80.0, T0
    for i in range(10):
        opens = 20 if i % 2 == 0 else 40
        rs.append(BatteryReading(at, pct, opens if i else 0))
        at += timedelta(days=1) if i % 2 == 0 else timedelta(days=2)
        nxt_days = 1 if i % 2 == 0 else 2
        nxt_opens = 20 if (i + 1) % 2 == 0 else 40
        pct -= 0.1 * nxt_days + 0.05 * nxt_opens
    left = battery_days_left(rs, rs[-1].at, openings_per_day=20)
    assert left is not None
    assert abs(left - rs[-1].percent / 1.1) < 0.5
    # heavier use means fewer days
    busier = battery_days_left(rs, rs[-1].at, openings_per_day=60)
    assert busier is not None and busier < left / 2
    assert battery_days_left(rs[:1], T0) is None


@settings(max_examples=100, deadline=None)
@given(ppm=st.floats(-200, 200), days=st.lists(st.integers(1, 60), min_size=1, max_size=6))
def test_drift_estimate_recovers_ppm(ppm, days):
    at, samples = T0, [(T0, 0.0)]
    for d in days:
        at += timedelta(days=d)
        samples.append((at, d * 86400 * ppm * 1e-6))
    est = estimate_drift_ppm(samples)
    assert est is not None and abs(est - ppm) < 1e-6 * max(1.0, abs(ppm)) + 1e-9
