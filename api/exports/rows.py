"""Export rows: 打刻, 日次勤務実績 and 月次時間外, built from computed or frozen staff-days.
Shared by the single-process export (``service``) and the parallel chunks (``parallel``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy.orm import Session

from api.attendance import repository as arepo
from api.attendance.closing import Key, frozen_lines
from api.attendance.rules import (
    DAY_TYPE_JA,
    FLAG_JA,
    SCHEDULED_WORK_DAYS,
    Bucket,
    CapInput,
    RuleConfig,
    business_date,
    cap_minutes,
    check_caps,
    day_start,
    moved_weekly_off_minutes,
    record_day,
    round_30,
    round_buckets,
)
from api.attendance.service import (
    PeriodResult,
    StaffInfo,
    hhmm,
    month_bounds,
)
from api.models import (
    AttendanceAmendment,
)
from api.overtime.caps import buckets_of, fy_months, split_fy

from . import repository as xrepo
from .profiles import FIELDS, Profile
from .writer import _formatter, csv_record, csv_records, table, text_columns


def staff_cols(s: StaffInfo) -> dict[str, Any]:
    return {"staff_number": s.number, "name": s.name, "name_kana": s.kana,
            "dept_code": s.dept_code, "dept_name": s.dept_name}


def _flag(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda rec: name in rec["flags"]


# How each day column of the daily dataset is read from a staff-day record: ``daily_part``
# builds them all, ``DailyRows.cells`` reads only the columns the profile shows.
DAY_FIELDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "date": itemgetter("date"),
    "day_type": lambda rec: _DAY_TYPE_JA[rec["day_type"]],
    "in": itemgetter("in"), "out": itemgetter("out"), "premises": itemgetter("premises"),
    "break": itemgetter("break"), "scheduled": itemgetter("scheduled"),
    "worked": itemgetter("worked"), "approved": itemgetter("approved"),
    "overtime": itemgetter("overtime"), "holiday_work": itemgetter("holiday_work"),
    "leave": itemgetter("leave"), "divergence": itemgetter("divergence"),
    "late": _flag("late"), "early": _flag("early"),
    "missing": lambda rec: "missing_in" in rec["flags"] or "missing_out" in rec["flags"],
    "corrected": _flag("corrected"),
    "flags": lambda rec: "・".join(FLAG_JA[f] for f in rec["flags"]) if rec["flags"] else "",
}
_DAY_TYPE_JA = {t.value: ja for t, ja in DAY_TYPE_JA.items()}


def _not_amended(_rec: dict[str, Any]) -> str:
    return "0"


def daily_part(rec: dict[str, Any]) -> dict[str, Any]:
    return {f: get(rec) for f, get in DAY_FIELDS.items()}


def daily_row(s: StaffInfo, rec: dict[str, Any], amendment: bool) -> dict[str, Any]:
    return {**staff_cols(s), **daily_part(rec), "amendment": "1" if amendment else "0"}


def week25(recs: Sequence[dict[str, Any]]) -> int:
    """+25 minutes of a staff-month: weeks are counted from the month's own days only."""
    return moved_weekly_off_minutes((record_day(r["date"], r["day_type"])[0], worked)
                                    for r in recs
                                    if (worked := r["worked"]) and r["day_type"] in _SCHEDULED)


_SCHEDULED = frozenset(t.value for t in SCHEDULED_WORK_DAYS)
_BUCKET_COLUMNS = tuple((b.value, f"m{b.value}", f"h{b.value}") for b in Bucket)


def monthly_row(s: StaffInfo, month_start: date, buckets: dict[str, int], alerts: str,
                 amendment: bool, week25: int = 0) -> dict[str, Any]:
    hours = round_buckets(buckets)
    row = {**staff_cols(s), "month": f"{month_start.year}{month_start.month:02d}",
           "total": cap_minutes(buckets),
           "overtime_class": "他律" if s.overtime_class == "high_external" else "一般",
           "alerts": alerts, "amendment": "1" if amendment else "0"}
    for b, m_col, h_col in _BUCKET_COLUMNS:
        row[m_col] = buckets[b]
        row[h_col] = hours[b]
    row["m25"], row["h25"] = week25, round_30(week25)
    return row


def staff_info(session: Session, res: PeriodResult, staff_id: int) -> StaffInfo:
    if staff_id in res.staff:
        return res.staff[staff_id]
    r = arepo.staff_in_period(session, date(1900, 1, 1), date(9999, 12, 31), [staff_id])[0]
    return StaffInfo(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[10])


class DailyRows(Sequence[dict[str, Any]]):
    """The daily dataset's rows, built lazily: the writer asks for ``cells`` directly (one
    formatting per distinct staff member and per distinct day record), and only an error
    report or a caller indexing it builds the row dicts."""

    _STAFF = ("staff_number", "name", "name_kana", "dept_code", "dept_name")

    def __init__(self, res: PeriodResult, records: dict[Key, dict[str, Any]]) -> None:
        self.res = res
        self.items = sorted(records.items(), key=itemgetter(0))
        self.extra: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.items) + len(self.extra)

    def __getitem__(self, i):  # type: ignore[no-untyped-def, override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if i >= len(self.items):
            return self.extra[i - len(self.items)]
        (sid, _d), rec = self.items[i]
        return daily_row(self.res.staff[sid], rec, False)

    def extend(self, rows: Sequence[dict[str, Any]]) -> None:
        self.extra.extend(rows)

    def _layout(self, profile: Profile) -> tuple[list[Any], list[bool], int, list[Any]]:
        """(column formatters, which columns are staff columns, how many, and per day column
        its getter, formatter and memo of formatted values)."""
        catalogue = FIELDS[profile.dataset]
        cols = list(profile.columns)
        fns = [_formatter(catalogue[c.field][0], c.format) for c in cols]
        is_staff = [c.field in self._STAFF for c in cols]
        # Every day field but 訂正区分, which is "0" here (amendments are the extra rows).
        day_cols = [(DAY_FIELDS.get(c.field, _not_amended), fns[i], {})
                    for i, c in enumerate(cols) if not is_staff[i]]
        return fns, is_staff, sum(is_staff), day_cols

    def _staff_cells(self, sid: int, profile: Profile, fns: list[Any],
                     is_staff: list[bool]) -> list[str]:
        """A staff member's cells, with "" in the day columns."""
        row = staff_cols(self.res.staff[sid])
        return [fns[i](row.get(c.field, "")) if is_staff[i] else ""
                for i, c in enumerate(profile.columns)]

    @staticmethod
    def _day_cells(rec: dict[str, Any], day_cols: list[Any]) -> list[str]:
        out = []
        for get, fn, memo in day_cols:
            v = get(rec)
            cell = memo.get(v)
            if cell is None:
                cell = memo[v] = fn(v)
            out.append(cell)
        return out

    def cells(self, profile: Profile) -> list[list[str]]:
        fns, is_staff, n_staff, day_cols = self._layout(profile)
        n = len(is_staff)
        prefix = is_staff == [True] * n_staff + [False] * (n - n_staff)
        staff_cells: dict[int, list[str]] = {}
        day_cells: dict[int, list[str]] = {}
        out: list[list[str]] = []
        append = out.append
        for (sid, _d), rec in self.items:
            sc = staff_cells.get(sid)
            if sc is None:
                full = self._staff_cells(sid, profile, fns, is_staff)
                sc = staff_cells[sid] = full[:n_staff] if prefix else full
            dc = day_cells.get(id(rec))
            if dc is None:
                dc = day_cells[id(rec)] = self._day_cells(rec, day_cols)
            if prefix:
                append(sc + dc)
            else:
                it = iter(dc)
                append([sc[i] if is_staff[i] else next(it) for i in range(n)])
        if self.extra:
            out.extend(table(self.extra, profile))
        return out

    def csv_text(self, profile: Profile) -> str | None:
        """The CSV records ``render`` writes for ``cells``, joined from each staff member's
        part and each distinct day record's part, each written once. None unless the staff
        columns come first, then at least one day column."""
        fns, is_staff, n_staff, day_cols = self._layout(profile)
        if not 0 < n_staff < len(is_staff) or any(is_staff[n_staff:]):
            return None
        text_cols = text_columns(profile)
        staff_text = [i for i in text_cols if i < n_staff]
        day_text = [i - n_staff for i in text_cols if i >= n_staff]
        staff_parts: dict[int, str] = {}
        day_parts: dict[int, str] = {}
        out: list[str] = []
        append = out.append
        for (sid, _d), rec in self.items:
            sp = staff_parts.get(sid)
            if sp is None:
                cells = self._staff_cells(sid, profile, fns, is_staff)[:n_staff]
                sp = staff_parts[sid] = csv_record(cells, staff_text) + ","
            dp = day_parts.get(id(rec))
            if dp is None:
                cells = self._day_cells(rec, day_cols)
                dp = day_parts[id(rec)] = csv_record(cells, day_text) + "\r\n"
            append(sp)
            append(dp)
        if self.extra:
            append(csv_records(table(self.extra, profile), profile))
        return "".join(out)


def daily_rows(res: PeriodResult, records: dict[Key, dict[str, Any]]) -> DailyRows:
    return DailyRows(res, records)


def monthly_rows(session: Session, res: PeriodResult, records: dict[Key, dict[str, Any]],
                  month_start: date, now: datetime, cfg: RuleConfig) -> list[dict[str, Any]]:
    per: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for (sid, _d), rec in records.items():
        per[sid].append(rec)
    fy = fy_months(session, month_start, cfg, now, list(res.staff))
    ym = (month_start.year, month_start.month)
    rows = []
    for sid in sorted(per):
        s = res.staff[sid]
        b = buckets_of(per[sid], cfg)
        months, before = split_fy(fy.get(sid, {}), month_start)
        months[ym] = cap_minutes(b)
        alerts = check_caps(CapInput(s.overtime_class, months, ym, months_before=before))
        rows.append(monthly_row(s, month_start, b, "・".join(a.code for a in alerts), False,
                                 week25(per[sid])))
    return rows


def monthly_amendment_rows(session: Session, res: PeriodResult,
                            carried: Sequence[AttendanceAmendment],
                            cfg: RuleConfig, now: datetime) -> list[dict[str, Any]]:
    """One corrected row per staff-month touched by carried amendments: the month recomputed
    from its frozen lines with the amended days replaced."""
    touched = sorted({(a.staff_id, a.business_date.replace(day=1)) for a in carried})
    rows = []
    for sid, ms in touched:
        frozen, _ = frozen_lines(session, ms, [sid])
        recs = {k: v for k, v in frozen.items()}
        for a in carried:
            if a.staff_id == sid and a.business_date.replace(day=1) == ms:
                key = (sid, a.business_date)
                if a.current_line:
                    recs[key] = a.current_line
                else:
                    recs.pop(key, None)
        b = buckets_of(list(recs.values()), cfg)
        info = staff_info(session, res, sid)
        # The 警告 column shows the alerts recomputed for the corrected month.
        months, before = split_fy(fy_months(session, ms, cfg, now, [sid]).get(sid, {}), ms)
        months[(ms.year, ms.month)] = cap_minutes(b)
        alerts = check_caps(CapInput(info.overtime_class, months, (ms.year, ms.month),
                                     months_before=before))
        rows.append(monthly_row(info, ms, b, "・".join(a.code for a in alerts), True,
                                 week25(list(recs.values()))))
    return rows


def punch_row(info: StaffInfo, at: datetime, kind_code: str, device: str, cfg: RuleConfig,
               amendment: bool) -> dict[str, Any]:
    d = business_date(at, cfg)
    local = at.astimezone(cfg.tz)
    return {**staff_cols(info), "date": d.isoformat(), "time": hhmm(at, d, cfg),
            "calendar_date": local.date().isoformat(), "clock_time": f"{local:%H:%M}",
            "next_day": "1" if local.date() != d else "0", "kind_code": kind_code,
            "kind_name": {"01": "出勤", "02": "退勤"}.get(kind_code, "その他"),
            "device": device, "amendment": "1" if amendment else "0"}


def punch_rows(session: Session, start: date, end: date, cfg: RuleConfig,
                *, received_by: datetime | None = None) -> list[dict[str, Any]]:
    s_at, e_at = day_start(start, cfg), day_start(end + timedelta(days=1), cfg)
    frozen_at = {ms: at for ms, at in arepo.frozen_month_starts(session)}.get(start)
    events = arepo.punch_events(session, s_at, e_at)
    if frozen_at is not None:
        events = [e for e in events if e.received_at <= frozen_at]
    return label_punches(session, events, start, end, cfg, amendment=False)


def label_punches(session: Session, events: Sequence[Any], start: date, end: date,
                   cfg: RuleConfig, *, amendment: bool) -> list[dict[str, Any]]:
    devices = arepo.device_names(session)
    staff = {r[0]: StaffInfo(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[10])
             for r in arepo.staff_in_period(session, start, end,
                                            sorted({e.staff_id for e in events}))}
    by_day: dict[Key, list[Any]] = defaultdict(list)
    for e in events:
        at = e.occurred_at + timedelta(milliseconds=e.device_clock_offset_ms or 0)
        by_day[(e.staff_id, business_date(at, cfg))].append((at, e))
    rows = []
    for (sid, _d), items in sorted(by_day.items(), key=lambda kv: kv[0]):
        items.sort(key=lambda t: t[0])
        counted = [i for i, x in enumerate(items) if (x[1].data or {}).get("punch") != "repeat"]
        for i, (at, e) in enumerate(items):
            if len(counted) >= 2 and i == counted[0]:
                code = "01"
            elif len(counted) >= 2 and i == counted[-1]:
                code = "02"
            elif len(counted) == 1 and i == counted[0]:
                code = "02" if (e.data or {}).get("punch") == "out" else "01"
            else:
                code = "00"
            if sid in staff:
                rows.append(punch_row(staff[sid], at, code, devices.get(e.device_id, ""), cfg,
                                       amendment))
    return rows


def late_punch_rows(session: Session, start: date, cfg: RuleConfig) -> list[dict[str, Any]]:
    """Punches of earlier frozen months received after the freeze and not yet carried by a
    final punches export of a later month."""
    rows: list[dict[str, Any]] = []
    for ms, frozen_at in sorted(arepo.frozen_month_starts(session)):
        if ms >= start:
            continue
        prev = xrepo.last_final_punch_export_after(session, ms)
        since = max(frozen_at, prev) if prev is not None else frozen_at
        m_start, m_end = month_bounds(ms)
        events = arepo.punch_events(session, day_start(m_start, cfg),
                                    day_start(m_end + timedelta(days=1), cfg),
                                    received_after=since)
        rows.extend(label_punches(session, events, m_start, m_end, cfg, amendment=True))
    return rows
