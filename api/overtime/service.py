"""Overtime: applications and orders (時間外勤務命令), their import from 庶務事務 CSV, the 乖離
check with reasons confirmed by the 所属長, and the caps with their alerts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import IO, Any

from sqlalchemy.orm import Session

from api.attendance import repository as arepo
from api.attendance.config import rule_config
from api.attendance.rules import (
    DIVERGENCE_REASON_JA,
    MAX_SHIFT_MIN,
    SCHEDULED_WORK_DAYS,
    CapInput,
    DayType,
    DivergenceReason,
    axis_bounds,
    cap_minutes,
    check_caps,
    classify_day,
    day_start,
    intersect,
    normalize,
    project_month,
    subtract,
)
from api.attendance.service import compute_period, get_staff_or_raise, month_bounds
from api.audit.service import record
from api.calendar.service import closed_days
from api.csv_import import FORMULA_MESSAGE, RowErrors, csv_rows, formula_columns
from api.errors import BadRequest, Conflict, Forbidden, NotFound
from api.models import Divergence, OvertimeRequest, Staff
from api.models.base import utcnow
from api.text import INDIVIDUAL_NUMBER_MESSAGE
from gate.individual_number import holds_individual_number

from . import repository as repo
from .caps import fy_months, split_fy


def _check_window(work_date: date, start_at: datetime, end_at: datetime) -> None:
    if start_at.tzinfo is None or end_at.tzinfo is None:
        raise BadRequest("start_at and end_at need a timezone", field="start_at")
    if end_at <= start_at:
        raise BadRequest("end_at must be after start_at", field="end_at")
    cfg = rule_config()
    s0 = day_start(work_date, cfg)
    lo, hi = axis_bounds(cfg)
    # A shift belongs to its 始業日, so an order may start before the day change on its own
    # day (a call-in at 04:30) and run past the next one.
    if start_at < s0 + timedelta(minutes=lo) or end_at > s0 + timedelta(minutes=hi) \
            or end_at - start_at > timedelta(minutes=MAX_SHIFT_MIN):
        raise BadRequest("the overtime must start on its work day (from 00:00) and last at "
                         "most 24 h", field="start_at")


def _refuse_overlap(session: Session, staff_id: int, start_at: datetime,
                    end_at: datetime) -> None:
    """Overlapping overtime of one person is refused (409), never merged silently."""
    other = repo.overlapping(session, staff_id, start_at, end_at)
    if other is not None:
        raise Conflict(f"overlaps overtime request {other.id} ({other.status}) of the same "
                       f"staff member", field="start_at", overlapping_id=other.id)


def _as_dict(r: OvertimeRequest) -> dict[str, Any]:
    return {"staff_id": r.staff_id, "work_date": r.work_date.isoformat(),
            "start_at": r.start_at.isoformat(), "end_at": r.end_at.isoformat(),
            "kind": r.kind, "status": r.status, "special": r.special, "source": r.source}


def apply(session: Session, *, staff: Staff, work_date: date, start_at: datetime,
          end_at: datetime, reason: str, special: bool = False) -> OvertimeRequest:
    """A staff member's application; the supervisor of their 課 decides."""
    _check_window(work_date, start_at, end_at)
    if not reason.strip():
        raise BadRequest("a reason (業務内容) is required", field="reason")
    _refuse_overlap(session, staff.id, start_at, end_at)
    row = OvertimeRequest(staff_id=staff.id, department_id=staff.department_id,
                          work_date=work_date, start_at=start_at, end_at=end_at,
                          kind="application", source="api", reason=reason, special=special,
                          requested_by=staff.staff_number)
    session.add(row)
    session.flush()
    record(session, actor=staff.staff_number, action="overtime.apply",
           entity="overtime_request", entity_id=row.id, after=_as_dict(row))
    return row


def order(session: Session, *, actor: str, staff_id: int, work_date: date, start_at: datetime,
          end_at: datetime, reason: str, special: bool = False, source: str = "api",
          external_ref: str | None = None) -> OvertimeRequest:
    """An order (命令): approved when issued."""
    person = get_staff_or_raise(session, staff_id)
    _check_window(work_date, start_at, end_at)
    if source != "divergence":  # a 事後命令 covers only time no approved overtime covers
        _refuse_overlap(session, staff_id, start_at, end_at)
    row = OvertimeRequest(staff_id=staff_id, department_id=person.department_id,
                          work_date=work_date, start_at=start_at, end_at=end_at, kind="order",
                          source=source, reason=reason, special=special, status="approved",
                          requested_by=actor, decided_by=actor, decided_at=utcnow(),
                          external_ref=external_ref)
    session.add(row)
    session.flush()
    record(session, actor=actor, action="overtime.order", entity="overtime_request",
           entity_id=row.id, after=_as_dict(row))
    return row


def is_supervisor(session: Session, staff: Staff, department_id: int, day: date) -> bool:
    return staff.id in arepo.supervisor_of(session, department_id, day)


def decide(session: Session, request_id: int, *, approver: Staff,
           approve: bool) -> OvertimeRequest:
    """The supervisor of the applicant's 課 approves or rejects an application."""
    row = repo.get_for_update(session, request_id)
    if row is None:
        raise NotFound(f"overtime request {request_id} not found", field="request_id")
    if not is_supervisor(session, approver, row.department_id, row.work_date):
        raise Forbidden("only the supervisor of the applicant's department may decide")
    if row.staff_id == approver.id:
        raise Forbidden("a supervisor cannot approve their own application")
    if row.status != "pending":
        raise Conflict(f"overtime request {request_id} is already {row.status}")
    before = _as_dict(row)
    row.status = "approved" if approve else "rejected"
    row.decided_by = approver.staff_number
    row.decided_at = utcnow()
    session.flush()
    record(session, actor=approver.staff_number, action=f"overtime.{row.status}",
           entity="overtime_request", entity_id=row.id, before=before, after=_as_dict(row))
    return row


# --- import of orders from 庶務事務 CSV ---------------------------------------------------------

IMPORT_COLUMNS = ("職員番号", "勤務日", "開始時刻", "終了時刻", "業務内容", "特例", "命令番号")


def _parse_hm(value: str, day: date, field: str, line: int) -> datetime:
    try:
        h, m = (int(x) for x in value.strip().split(":"))
        if not (0 <= m < 60 and 0 <= h < 30):
            raise ValueError
    except ValueError:
        raise _line_error(line, field, f"時刻は HH:MM (翌日は 25:30 のように) で書いてください: "
                                       f"{value!r}") from None
    return datetime.combine(day, datetime.min.time(), tzinfo=rule_config().tz) + timedelta(
        hours=h, minutes=m)


class ImportLineError(BadRequest):
    pass


def _line_error(line: int, field: str, message: str) -> ImportLineError:
    return ImportLineError(f"{line}行目 {field}: {message}", field=field, line=line)


def import_orders(session: Session, file: IO[bytes], *, actor: str,
                  encoding: str = "cp932") -> dict[str, Any]:
    """Import orders (all or nothing), read and parsed one line at a time from ``file``. Each
    bad line is reported with its number and column (the first 100, with their count)."""
    utf8 = encoding in ("utf-8", "utf8bom")
    lines = csv_rows(file, encoding="utf-8-sig" if utf8 else "cp932",
                     label="UTF-8" if utf8 else "CP932")
    _n, header = next(lines, (1, None))
    if header is None or [h.strip() for h in header[:len(IMPORT_COLUMNS)]] != list(IMPORT_COLUMNS):
        raise BadRequest(f"1行目は見出し {','.join(IMPORT_COLUMNS)} が必要です", field="header",
                         line=1)
    errors = RowErrors()
    parsed: list[dict[str, Any]] = []
    line_numbers: list[int] = []
    seen: set[str] = set()
    for n, row in lines:
        try:
            if len(row) < len(IMPORT_COLUMNS):
                raise _line_error(n, "列数", f"{len(IMPORT_COLUMNS)} 列が必要です ({len(row)} 列)")
            if formulas := formula_columns(row, IMPORT_COLUMNS):
                raise _line_error(n, formulas[0], FORMULA_MESSAGE)
            number, day_s, st, en, reason, special, ref = (c.strip() for c in row[:7])
            for column, text in (("業務内容", reason), ("命令番号", ref)):
                if holds_individual_number(text):
                    raise _line_error(n, column, INDIVIDUAL_NUMBER_MESSAGE)
            person = arepo.staff_by_number(session, number)
            if person is None:
                raise _line_error(n, "職員番号", f"職員 {number!r} は登録されていません")
            try:
                day = datetime.strptime(day_s, "%Y/%m/%d").date()
            except ValueError:
                raise _line_error(n, "勤務日", f"YYYY/MM/DD で書いてください: {day_s!r}") from None
            s_at = _parse_hm(st, day, "開始時刻", n)
            e_at = _parse_hm(en, day, "終了時刻", n)
            if e_at <= s_at:
                raise _line_error(n, "終了時刻", "開始時刻より後にしてください")
            if special not in ("", "0", "1"):
                raise _line_error(n, "特例", f"0 か 1 です: {special!r}")
            if ref and ref in seen:
                raise _line_error(n, "命令番号", f"ファイル内で重複しています: {ref}")
            if ref:
                seen.add(ref)
            try:
                _check_window(day, s_at, e_at)
            except BadRequest as err:
                raise _line_error(n, "開始時刻", err.message) from None
            line_numbers.append(n)
            parsed.append({"staff_id": person.id, "work_date": day, "start_at": s_at,
                           "end_at": e_at, "reason": reason, "special": special == "1",
                           "external_ref": ref or None})
        except ImportLineError as err:
            errors.add(err.extra["line"], err.field or "file", err.message)
    if errors:
        raise errors.rejected(f"{errors.count} 行に誤りがあります。何も取り込んでいません。"
                              f"最初: {errors.first[0]['message']}")
    created = skipped = 0
    for line, p in zip(line_numbers, parsed, strict=True):
        if p["external_ref"] and repo.by_external_ref(session, p["external_ref"]) is not None:
            skipped += 1
            continue
        try:
            order(session, actor=actor, source="import", **p)
        except Conflict as err:  # the request's transaction drops the lines already added
            raise BadRequest(f"{line}行目 開始時刻: {err.message}。何も取り込んでいません。",
                             field="file", errors=[{"line": line, "field": "開始時刻",
                                                    "message": err.message}]) from err
        created += 1
    return {"created": created, "skipped_existing": skipped}


# --- 乖離 ----------------------------------------------------------------------------------------

def divergence_report(session: Session, *, month: str, department_id: int | None = None,
                      staff_ids: list[int] | None = None, now: datetime | None = None,
                      only_open: bool = True) -> list[dict[str, Any]]:
    """Days whose 乖離 exceeds the threshold, with the reason given and its state."""
    cfg = rule_config()
    start, end = month_bounds(month)
    if department_id is not None:
        staff_ids = repo.staff_ids_of_department(session, department_id)
    res = compute_period(session, start, end, staff_ids=staff_ids, now=now, cfg=cfg)
    reasons = {(d.staff_id, d.business_date): d
               for d in repo.divergences(session, start, end, list(res.staff))}
    out = []
    for sid, days in res.days.items():
        info = res.staff[sid]
        for r in days:
            if r.divergence <= cfg.divergence_threshold_min:
                continue
            reason = reasons.get((sid, r.line.business_date))
            state = reason.status if reason else "open"
            if only_open and state == "confirmed":
                continue
            out.append({"staff_id": sid, "staff_number": info.number, "name": info.name,
                        "department": info.dept_code, "date": r.line.business_date,
                        "divergence_minutes": r.divergence,
                        "premises_minutes": r.line.premises_minutes,
                        "approved_minutes": sum(b - a for a, b in r.approved),
                        "state": state, "reason_code": reason.reason_code if reason else None,
                        "reason": DIVERGENCE_REASON_JA[DivergenceReason(reason.reason_code)]
                        if reason else None,
                        "divergence_id": reason.id if reason else None})
    out.sort(key=lambda x: (x["department"], x["staff_number"], x["date"]))
    return out


def submit_reason(session: Session, *, staff: Staff, business_date: date, reason_code: str,
                  note: str = "", now: datetime | None = None) -> Divergence:
    """The staff member's reason for a day's 乖離."""
    try:
        code = DivergenceReason(reason_code)
    except ValueError as err:
        raise BadRequest(f"reason_code must be one of {', '.join(r.value for r in DivergenceReason)}",
                         field="reason_code") from err
    cfg = rule_config()
    res = compute_period(session, business_date, business_date, staff_ids=[staff.id], now=now)
    days = res.days.get(staff.id) or []
    if not days or days[0].divergence <= cfg.divergence_threshold_min:
        raise Conflict(f"{business_date} has no 乖離 above {cfg.divergence_threshold_min} min",
                       field="business_date")
    row = repo.divergence_for(session, staff.id, business_date)
    if row is not None and row.status == "confirmed":
        raise Conflict("this 乖離 reason is already confirmed", field="business_date")
    if row is None:
        row = Divergence(staff_id=staff.id, business_date=business_date,
                         minutes=days[0].divergence, reason_code=code.value, note=note,
                         submitted_by=staff.staff_number)
        session.add(row)
    else:
        row.reason_code, row.note, row.status = code.value, note, "submitted"
        row.minutes = days[0].divergence
    session.flush()
    record(session, actor=staff.staff_number, action="overtime.divergence.submit",
           entity="divergence", entity_id=row.id,
           after={"date": business_date.isoformat(), "reason": code.value,
                  "minutes": row.minutes})
    return row


def confirm_reason(session: Session, divergence_id: int, *, supervisor: Staff,
                   confirm: bool = True, now: datetime | None = None) -> Divergence:
    """The 所属長 confirms (or returns) a reason; 業務(事後命令) issues the order after the fact
    for the time on the premises that no approved overtime covered."""
    row = repo.divergence_get(session, divergence_id)
    if row is None:
        raise NotFound(f"乖離 {divergence_id} not found", field="divergence_id")
    person = get_staff_or_raise(session, row.staff_id)
    if not is_supervisor(session, supervisor, person.department_id, row.business_date):
        raise Forbidden("only the supervisor of the staff member's department may confirm")
    if row.status == "confirmed":
        raise Conflict("already confirmed")
    row.status = "confirmed" if confirm else "returned"
    row.confirmed_by = supervisor.staff_number
    row.confirmed_at = utcnow()
    if confirm and row.reason_code == DivergenceReason.POST_ORDER:
        res = compute_period(session, row.business_date, row.business_date,
                             staff_ids=[person.id], now=now)
        day = res.days[person.id][0]
        cfg = rule_config()
        s0 = day_start(row.business_date, cfg)
        uncovered = subtract(day.line.unscheduled, normalize(day.approved))
        if day.line.day_type in SCHEDULED_WORK_DAYS:
            # Only the time after the scheduled end: arriving early is not overtime.
            uncovered = intersect(uncovered, ((day.schedule[1], axis_bounds(cfg)[1]),))
        for a, b in uncovered:
            order(session, actor=supervisor.staff_number, staff_id=person.id,
                  work_date=row.business_date, start_at=s0 + timedelta(minutes=a),
                  end_at=s0 + timedelta(minutes=b), reason="事後命令 (乖離の確認)",
                  source="divergence")
    session.flush()
    record(session, actor=supervisor.staff_number, action=f"overtime.divergence.{row.status}",
           entity="divergence", entity_id=row.id, after={"reason": row.reason_code})
    return row


# --- caps ---------------------------------------------------------------------------------------

def caps_report(session: Session, *, month: str, department_id: int | None = None,
                now: datetime | None = None) -> list[dict[str, Any]]:
    """Per staff member: this month's overtime, the fiscal year so far, alerts and projection.

    Hours are per person across departments, so a transfer adds before and after together."""
    cfg = rule_config()
    now = now or utcnow()
    start, end = month_bounds(month)
    staff_ids = (repo.staff_ids_of_department(session, department_id)
                 if department_id is not None else None)
    res = compute_period(session, start, end, staff_ids=staff_ids, now=now, cfg=cfg)
    fy = fy_months(session, start, cfg, now, list(res.staff))
    # 特例 months over the whole look-back (fiscal year and the 2–6-month windows).
    special = repo.special_months(session, start - timedelta(days=400), end)
    ym = (start.year, start.month)
    today = min(end, cfg.business_day.date_of(now))
    # The month's workdays from the calendar: days not yet computed count too, so the
    # projection reaches the month end.
    holidays = closed_days(session, start, end)
    month_days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    workdays = [d for d in month_days
                if classify_day(d, holidays=holidays, cfg=cfg) is DayType.WORKDAY]
    elapsed = sum(1 for d in workdays if d <= today)
    out = []
    for sid, info in res.staff.items():
        b = res.buckets(sid)
        minutes = cap_minutes(b)
        proj = project_month(minutes, elapsed, len(workdays)) if today < end else None
        months, before = split_fy(fy.get(sid, {}), start)
        months[ym] = minutes
        alerts = check_caps(CapInput(info.overtime_class, months, ym,
                                     special_months=special.get(sid, frozenset()),
                                     projected_month_minutes=proj, months_before=before))
        out.append({"staff_id": sid, "staff_number": info.number, "name": info.name,
                    "department": info.dept_code, "overtime_class": info.overtime_class,
                    "month_minutes": minutes, "fiscal_year_minutes": sum(months.values()),
                    "projected_minutes": proj,
                    "alerts": [a.__dict__ for a in alerts]})
    return out
