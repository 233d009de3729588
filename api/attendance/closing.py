"""Closing a month: a final export freezes its staff-day lines; whatever changes afterwards
(a late punch, a correction or overtime decided later) is found as an amendment."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from api.attendance.rules import (
    RuleConfig,
    day_start,
    reconcile,
)
from api.attendance.service import (
    PeriodResult,
    compute_period,
    month_bounds,
)
from api.models import (
    AttendanceAmendment,
    AttendanceFrozenMonth,
    ExportRun,
)

from . import repository as arepo

Key = tuple[int, date]


PACKED = ("day_type", "in", "out", "in_source", "out_source", "premises", "break", "scheduled",
           "worked", "unscheduled", "approved", "overtime", "divergence", "paid", "schedule",
           "flags", "holiday_work", "leave")


def pack_lines(per_day: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A staff-month's records in the compact stored form: one value list per day."""
    return {"v": 2, "keys": list(PACKED),
            "days": {iso: [rec[k] for k in PACKED] for iso, rec in per_day.items()}}


_PACKED_HEAD = '{"v":2,"keys":' + json.dumps(list(PACKED), separators=(",", ":")) + ',"days":{'


def packed_json(records: Mapping[Key, dict[str, Any]],
                staff: Iterable[int]) -> list[tuple[int, str]]:
    """(staff id, its records in the stored form as compact JSON) for each staff member: the
    text of ``json.dumps(pack_lines(...), ensure_ascii=False, separators=(",", ":"))``, with
    each day record that several staff members share encoded once."""
    parts: dict[int, list[str]] = {sid: [] for sid in staff}
    encoded: dict[int, str] = {}
    for (sid, d), rec in records.items():
        js = encoded.get(id(rec))
        if js is None:
            js = encoded[id(rec)] = json.dumps([rec[k] for k in PACKED], ensure_ascii=False,
                                               separators=(",", ":"))
        parts[sid].append(f'"{d.isoformat()}":{js}')
    return [(sid, _PACKED_HEAD + ",".join(p) + "}}") for sid, p in parts.items()]


def unpack_lines(stored: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The records (keyed by ISO date) from the stored form."""
    if stored.get("v") != 2:
        return stored
    keys = stored["keys"]
    # Months frozen before 休日勤務 and 休暇 had their own keys show them as 0.
    return {iso: {"date": iso, "holiday_work": 0, "leave": 0,
                  **dict(zip(keys, vals, strict=True))}
            for iso, vals in stored["days"].items()}


def records_of(res: PeriodResult, cfg: RuleConfig) -> dict[Key, dict[str, Any]]:
    return res.records()


def frozen_lines(session: Session, month_start: date,
            staff_ids: Sequence[int] | None = None) -> tuple[dict[Key, Any], list[AttendanceFrozenMonth]]:
    rows = arepo.frozen_months(session, month_start, staff_ids)
    out: dict[Key, Any] = {}
    for fm in rows:
        for iso, rec in unpack_lines(fm.lines).items():
            out[(fm.staff_id, date.fromisoformat(iso))] = rec
    return out, rows


def find_amendments(session: Session, *, before: date, now: datetime,
                    cfg: RuleConfig) -> list[AttendanceAmendment]:
    """Recompute frozen months (before ``before``) for staff whose inputs changed after the
    freeze: the differences no stored amendment records yet, as unsaved rows (reads only)."""
    found: list[AttendanceAmendment] = []
    for month_start, frozen_at in arepo.frozen_month_starts(session):
        if month_start >= before:
            continue
        start, end = month_bounds(month_start)
        changed = arepo.staff_changed_since(session, day_start(start, cfg),
                                            day_start(end + timedelta(days=1), cfg), frozen_at)
        if not changed:
            continue
        ids = sorted(changed)
        fresh = records_of(compute_period(session, start, end, staff_ids=ids, now=now, cfg=cfg),
                         cfg)
        frozen, _ = frozen_lines(session, month_start, ids)
        _eff, amendments = reconcile(fresh, frozen, [(start, end)])
        for a in amendments:
            sid, day = a.key
            known = arepo.amendments_for(session, sid, day)
            if known and known[-1].current_line == a.current:
                continue
            found.append(AttendanceAmendment(staff_id=sid, business_date=day, detected_at=now,
                                             exported_line=dict(a.exported or {}) or None,
                                             current_line=dict(a.current or {}) or None))
    return found


def detect_amendments(session: Session, *, before: date, now: datetime,
                      cfg: RuleConfig) -> int:
    """Store every new difference :func:`find_amendments` sees. Returns how many were added."""
    found = find_amendments(session, before=before, now=now, cfg=cfg)
    session.add_all(found)
    session.flush()
    return len(found)


def freeze_month(session: Session, run: ExportRun, month_start: date,
            records: dict[Key, dict[str, Any]], staff: Sequence[int]) -> None:
    per: dict[int, dict[str, Any]] = defaultdict(dict)
    for (sid, d), rec in records.items():
        per[sid][d.isoformat()] = rec
    existing = {fm.staff_id for fm in arepo.frozen_months(session, month_start)}
    now = run.created_at  # the export's moment: later arrivals are amendments
    params = [{"staff_id": sid, "month_start": month_start, "export_run_id": run.id,
               "frozen_at": now, "lines": pack_lines(per.get(sid, {}))}
              for sid in staff if sid not in existing]
    if params:
        session.execute(AttendanceFrozenMonth.__table__.insert(), params)


def freeze_month_json(session: Session, run: ExportRun, month_start: date,
                 lines: list[tuple[int, str]]) -> None:
    """Freeze a month from the workers' JSON (PostgreSQL only, like the parallel path)."""
    if not lines:
        return
    now = run.created_at
    conn = session.connection()
    if conn.dialect.name == "postgresql":  # COPY: a month of 20,000 staff in one stream
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cur, cur.copy(  # type: ignore[union-attr]
                "COPY attendance_frozen_month (staff_id, month_start, export_run_id, frozen_at, "
                "lines) FROM STDIN") as cp:
            for sid, js in lines:
                cp.write_row((sid, month_start, run.id, now, js))
        return
    session.execute(text(
        "INSERT INTO attendance_frozen_month (staff_id, month_start, export_run_id, frozen_at, "
        "lines) VALUES (:sid, :ms, :run, :at, CAST(:lines AS JSON))"),
        [{"sid": sid, "ms": month_start, "run": run.id, "at": now, "lines": js}
         for sid, js in lines])
