"""Pure lock rules: anomaly alerts, battery days left, clock drift. ``now`` is passed in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "Alert",
    "BatteryReading",
    "BookingWindow",
    "LockEvent",
    "anomalies",
    "battery_days_left",
    "estimate_drift_ppm",
]

OPEN_KINDS = ("open_pin", "open_emergency", "open_remote", "open_staff", "door_open")
GUEST_OPEN_KINDS = ("open_pin", "door_open")


@dataclass(frozen=True, slots=True)
class BookingWindow:
    booking_id: int
    start: datetime
    end: datetime
    paid: bool = True


@dataclass(frozen=True, slots=True)
class LockEvent:
    at: datetime
    kind: str  # open_pin, wrong_code, door_open, door_close, open_emergency, open_remote, ...


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # opened_outside_booking, left_open, repeated_wrong_codes, no_show
    at: datetime
    booking_id: int | None = None
    detail: str = ""


def _in_any(at: datetime, bookings: Sequence[BookingWindow], grace: timedelta) -> bool:
    return any(b.start - grace <= at < b.end + grace for b in bookings)


def anomalies(events: Sequence[LockEvent], bookings: Sequence[BookingWindow], now: datetime,
              *, grace: timedelta = timedelta(minutes=15),
              left_open_after: timedelta = timedelta(minutes=15),
              wrong_burst: int = 5, wrong_window: timedelta = timedelta(minutes=15),
              log_complete_until: datetime | None = None) -> list[Alert]:
    """Alerts over one lock's events and bookings (a pure function; idempotent by content).

    ``log_complete_until``: the lock's log is known complete up to here (its last upload);
    a no-show is only concluded for bookings over by then (default ``now``)."""
    complete = now if log_complete_until is None else min(now, log_complete_until)
    events = sorted(events, key=lambda e: e.at)
    alerts: list[Alert] = []
    for e in events:
        if e.kind in GUEST_OPEN_KINDS and not _in_any(e.at, bookings, grace):
            alerts.append(Alert("opened_outside_booking", e.at, None, e.kind))
    for b in bookings:
        deadline = b.end + left_open_after
        if deadline > now:
            continue
        state_open = False
        opened_at: datetime | None = None
        for e in events:
            if e.at >= deadline:
                break
            if e.kind == "door_open":
                state_open, opened_at = True, e.at
            elif e.kind == "door_close":
                state_open = False
        if state_open and opened_at is not None and opened_at >= b.start - grace:
            alerts.append(Alert("left_open", deadline, b.booking_id, "door still open"))
    wrong = [e.at for e in events if e.kind == "wrong_code"]
    i = 0
    last_alert: datetime | None = None
    for j, at in enumerate(wrong):
        while at - wrong[i] > wrong_window:
            i += 1
        if j - i + 1 >= wrong_burst and (last_alert is None or at - last_alert > wrong_window):
            alerts.append(Alert("repeated_wrong_codes", at, None, f"{j - i + 1} wrong codes"))
            last_alert = at
    for b in bookings:
        if not b.paid or b.end + grace > complete:
            continue
        opened = any(e.kind in OPEN_KINDS and b.start - grace <= e.at < b.end + grace
                     for e in events)
        if not opened:
            alerts.append(Alert("no_show", b.end, b.booking_id, "paid booking never opened"))
    return alerts


@dataclass(frozen=True, slots=True)
class BatteryReading:
    at: datetime
    percent: float
    openings_since_previous: int = 0


def battery_days_left(readings: Sequence[BatteryReading], now: datetime,
                      openings_per_day: float | None = None) -> float | None:
    """Days until 0 % from the usage: least squares of each interval's drop on its length (days)
    and its openings, then the current level over (idle rate + per-opening cost × recent
    openings a day). None without at least two readings with a measurable drop."""
    rs = sorted(readings, key=lambda r: r.at)
    if len(rs) < 2:
        return None
    rows: list[tuple[float, float, float]] = []
    for a, b in zip(rs, rs[1:], strict=False):
        days = (b.at - a.at).total_seconds() / 86400
        if days <= 0 or b.percent > a.percent:  # battery change resets the history
            rows = [] if b.percent > a.percent else rows
            continue
        rows.append((days, float(b.openings_since_previous), a.percent - b.percent))
    if not rows:
        return None
    # normal equations for drop = i*days + p*opens, both >= 0
    sdd = sum(d * d for d, _, _ in rows)
    soo = sum(o * o for _, o, _ in rows)
    sdo = sum(d * o for d, o, _ in rows)
    sdy = sum(d * y for d, _, y in rows)
    soy = sum(o * y for _, o, y in rows)
    det = sdd * soo - sdo * sdo
    if det > 1e-9:
        idle = (sdy * soo - soy * sdo) / det
        per_open = (sdd * soy - sdo * sdy) / det
        if idle < 0 or per_open < 0:
            idle, per_open = sdy / sdd, 0.0
    else:
        idle, per_open = sdy / sdd, 0.0
    total_days = sum(d for d, _, _ in rows)
    if openings_per_day is None:
        openings_per_day = sum(o for _, o, _ in rows) / total_days if total_days else 0.0
    rate = idle + per_open * openings_per_day
    if rate <= 0:
        return None
    return rs[-1].percent / rate - (now - rs[-1].at).total_seconds() / 86400


def estimate_drift_ppm(samples: Sequence[tuple[datetime, float]]) -> float | None:
    """Clock drift in ppm from (service time, lock clock minus service time in seconds) pairs
    measured at syncs, each taken just before the clock is set right: after a sync the offset
    restarts from zero, so each sample's offset accrued since the previous sync."""
    if len(samples) < 2:
        return None
    s = sorted(samples, key=lambda x: x[0])
    accrued = sum(off for _, off in s[1:])
    elapsed = (s[-1][0] - s[0][0]).total_seconds()
    if elapsed <= 0:
        return None
    return accrued / elapsed * 1e6
