"""Caps from recorded hours: the cap-counted minutes of every month of a fiscal year."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from api.attendance import repository as arepo
from api.attendance.closing import unpack_lines
from api.attendance.rules import (
    HIGH_EXTERNAL,
    OvertimeDay,
    RuleConfig,
    cap_minutes,
    fiscal_year,
    month_buckets,
    month_cap,
    record_day,
)
from api.attendance.service import (
    compute_period,
    month_bounds,
)
from api.overtime import repository as orepo


def buckets_of(recs: Sequence[dict[str, Any]], cfg: RuleConfig) -> dict[str, int]:
    days = [OvertimeDay(*record_day(r["date"], r["day_type"]), tuple(map(tuple, paid)),
                        tuple(r["schedule"]))
            for r in recs if (paid := r["paid"])]
    return month_buckets(days, cfg)


def fy_months(session: Session, month_start: date, cfg: RuleConfig, now: datetime,
               staff_ids: Sequence[int] | None = None) -> dict[int, dict[tuple[int, int], int]]:
    """Overtime minutes (cap-counted) per staff for the months before ``month_start``: the
    fiscal year so far, and the 5 months before it for the 2–6-month averages (which run across
    a fiscal-year boundary). Split them with :func:`split_fy`.

    Caps come from recorded hours: an exported month is read from its frozen lines, any other
    month is computed from its punches and orders (only for staff with approved overtime in
    it, since no one else has paid overtime there)."""
    fy = fiscal_year(month_start)
    idx = month_start.year * 12 + month_start.month - 1 - 5
    first = min(date(fy, 4, 1), date(idx // 12, idx % 12 + 1, 1))
    rows = arepo.frozen_months_between(session, first, month_start)
    out: dict[int, dict[tuple[int, int], int]] = defaultdict(dict)
    frozen: set[tuple[int, date]] = set()
    for fm in rows:
        frozen.add((fm.staff_id, fm.month_start))
        b = buckets_of(list(unpack_lines(fm.lines).values()), cfg)
        out[fm.staff_id][(fm.month_start.year, fm.month_start.month)] = cap_minutes(b)
    by_month = arepo.months_with_approved_overtime(session, first, month_start, staff_ids)
    for m in sorted(by_month):
        ids = [sid for sid in by_month[m] if (sid, m) not in frozen]
        if ids:
            res = compute_period(session, m, month_bounds(m)[1], staff_ids=ids, now=now,
                                 cfg=cfg)
            for sid in res.staff:
                out[sid][(m.year, m.month)] = cap_minutes(res.buckets(sid))
    return out


def split_fy(months: dict[tuple[int, int], int], month_start: date
             ) -> tuple[dict[tuple[int, int], int], dict[tuple[int, int], int]]:
    """(months of the fiscal year, earlier months) of a staff member's monthly minutes."""
    fy = fiscal_year(month_start)
    inside = {k: v for k, v in months.items() if fiscal_year(date(k[0], k[1], 1)) == fy}
    before = {k: v for k, v in months.items() if k not in inside}
    return inside, before


def month_so_far(session: Session, staff_ids: Sequence[int], now: datetime, cfg: RuleConfig
                 ) -> tuple[date, dict[int, tuple[int, int]]]:
    """(month start, {staff id: (cap-counted overtime minutes so far, monthly cap)}) for the
    business month of ``now``: what a clock point shows on 退勤. Only staff with approved
    overtime this month can have paid overtime, so only they are computed; the others are
    (0, cap)."""
    today = cfg.business_day.date_of(now)
    start = today.replace(day=1)
    ids = arepo.staff_with_approved_overtime(session, start, today, staff_ids) if staff_ids else []
    minutes: dict[int, int] = {}
    if ids:
        res = compute_period(session, start, today, staff_ids=ids, now=now, cfg=cfg)
        minutes = {sid: cap_minutes(res.buckets(sid)) for sid in res.staff}
    high = orepo.high_external_staff(session, staff_ids) if staff_ids else set()
    return start, {sid: (minutes.get(sid, 0),
                         month_cap(HIGH_EXTERNAL if sid in high else "ordinary"))
                   for sid in staff_ids}
