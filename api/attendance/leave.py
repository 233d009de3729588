"""Leave (休暇): 年次休暇 by the day, half-day and hour, 特別休暇 and 病気休暇.

The 庶務事務 system owns leave; mynagate imports it from that system's CSV (all or nothing,
every bad line reported with its number and column, like the order import) and lets HR enter
it. Attendance uses it to shorten the expected presence (``rules.compute_day_minutes``)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import IO, Any

from sqlalchemy.orm import Session

from api.audit.service import record
from api.csv_import import FORMULA_MESSAGE, RowErrors, formula_columns, headed_rows
from api.errors import BadRequest, Conflict
from api.models import Leave
from api.text import INDIVIDUAL_NUMBER_MESSAGE
from gate.individual_number import holds_individual_number

from . import repository as repo
from .rules import LEAVE_KIND_JA, LEAVE_UNIT_JA, LeaveKind, LeaveUnit
from .service import get_staff_or_raise

IMPORT_COLUMNS = ("職員番号", "休暇日", "種別", "単位", "開始時刻", "終了時刻", "休暇番号")
_KIND_BY_JA = {**{v: k for k, v in LEAVE_KIND_JA.items()},
               **{v.removesuffix("休暇"): k for k, v in LEAVE_KIND_JA.items()}}
_UNIT_BY_JA = {v: k for k, v in LEAVE_UNIT_JA.items()} | {"1日": LeaveUnit.DAY}


class LeaveLineError(BadRequest):
    pass


def _overlaps(a: Leave, unit: LeaveUnit, start: time | None, end: time | None) -> bool:
    if LeaveUnit.DAY in (unit, LeaveUnit(a.unit)):
        return True
    if unit is LeaveUnit.HOURS and a.unit == LeaveUnit.HOURS and None not in (
            start, end, a.start_time, a.end_time):
        return start < a.end_time and a.start_time < end  # type: ignore[operator]
    return a.unit == unit.value  # 午前 and 午後 twice; hours beside a half day are allowed


def _check(unit: LeaveUnit, start: time | None, end: time | None) -> None:
    if unit is LeaveUnit.HOURS:
        if start is None or end is None:
            raise BadRequest("hour leave needs start_time and end_time", field="start_time")
        if end <= start:
            raise BadRequest("end_time must be after start_time", field="end_time")
        if start.second or end.second or start.microsecond or end.microsecond:
            raise BadRequest("leave is recorded in whole minutes", field="start_time")
    elif start is not None or end is not None:
        raise BadRequest("only hour leave has start_time and end_time", field="start_time")


def create_leave(session: Session, *, actor: str, staff_id: int, day: date, kind: str,
                 unit: str, start_time: time | None = None, end_time: time | None = None,
                 source: str = "hr", external_ref: str | None = None) -> Leave:
    """Record one leave. Overlapping leave of the same staff-day is refused (409)."""
    get_staff_or_raise(session, staff_id)
    try:
        k, u = LeaveKind(kind), LeaveUnit(unit)
    except ValueError as err:
        raise BadRequest(f"unknown leave kind or unit: {err}", field="kind") from err
    _check(u, start_time, end_time)
    for other in repo.leaves(session, day, day, [staff_id]):
        if _overlaps(other, u, start_time, end_time):
            raise Conflict(f"leave on {day} overlaps leave {other.id}", field="day")
    row = Leave(staff_id=staff_id, day=day, kind=k.value, unit=u.value, start_time=start_time,
                end_time=end_time, source=source, external_ref=external_ref, created_by=actor)
    session.add(row)
    session.flush()
    record(session, actor=actor, action="attendance.leave.create", entity="attendance_leave",
           entity_id=row.id, after=leave_dict(row))
    return row


def leave_dict(row: Leave) -> dict[str, Any]:
    return {"id": row.id, "staff_id": row.staff_id, "day": row.day.isoformat(),
            "kind": row.kind, "unit": row.unit,
            "start_time": row.start_time.strftime("%H:%M") if row.start_time else None,
            "end_time": row.end_time.strftime("%H:%M") if row.end_time else None,
            "source": row.source, "external_ref": row.external_ref}


def _line_error(line: int, column: str, message: str) -> LeaveLineError:
    return LeaveLineError(f"{line}行目 {column}: {message}", field=column, line=line)


def _parse_line(session: Session, n: int, row: list[str]) -> dict[str, Any]:
    if len(row) < len(IMPORT_COLUMNS):
        raise _line_error(n, "列数", f"{len(IMPORT_COLUMNS)} 列が必要です ({len(row)} 列)")
    if formulas := formula_columns(row, IMPORT_COLUMNS):
        raise _line_error(n, formulas[0], FORMULA_MESSAGE)
    number, day_s, kind_s, unit_s, st, en, ref = (c.strip() for c in row[:7])
    if holds_individual_number(ref):
        raise _line_error(n, "休暇番号", INDIVIDUAL_NUMBER_MESSAGE)
    person = repo.staff_by_number(session, number)
    if person is None:
        raise _line_error(n, "職員番号", f"職員 {number!r} は登録されていません")
    try:
        day = datetime.strptime(day_s, "%Y/%m/%d").date()
    except ValueError:
        raise _line_error(n, "休暇日", f"YYYY/MM/DD で書いてください: {day_s!r}") from None
    kind = _KIND_BY_JA.get(kind_s)
    if kind is None:
        raise _line_error(n, "種別", f"年次・特別・病気のいずれかです: {kind_s!r}")
    unit = _UNIT_BY_JA.get(unit_s)
    if unit is None:
        raise _line_error(n, "単位", f"日・午前・午後・時間のいずれかです: {unit_s!r}")
    times: list[time | None] = []
    for column, value in (("開始時刻", st), ("終了時刻", en)):
        try:
            times.append(time.fromisoformat(value) if value else None)
        except ValueError:
            raise _line_error(n, column, f"HH:MM で書いてください: {value!r}") from None
    try:
        _check(unit, times[0], times[1])
    except BadRequest as err:
        raise _line_error(n, "開始時刻", err.message) from None
    return {"staff_id": person.id, "day": day, "kind": kind.value, "unit": unit.value,
            "start_time": times[0], "end_time": times[1], "external_ref": ref or None}


def import_leave(session: Session, file: IO[bytes], *, actor: str,
                 encoding: str = "cp932") -> dict[str, Any]:
    """Import leave from a 庶務事務 CSV, read and parsed one line at a time from ``file``: all
    or nothing, bad lines reported with their number and column (the first 100, with their
    count), at most 20,000 rows. A 休暇番号 already imported is skipped."""
    utf8 = encoding == "utf8bom"
    lines = headed_rows(file, IMPORT_COLUMNS, encoding="utf-8-sig" if utf8 else "cp932",
                        label="UTF-8" if utf8 else "CP932")
    errors = RowErrors()
    parsed: list[tuple[int, dict[str, Any]]] = []
    refs: set[str] = set()
    for n, row in lines:
        try:
            item = _parse_line(session, n, row)
            ref = item["external_ref"]
            if ref in refs:
                raise _line_error(n, "休暇番号", f"ファイル内で重複しています: {ref}")
            if ref:
                refs.add(ref)
            parsed.append((n, item))
        except LeaveLineError as err:
            errors.add(n, err.field or "file", err.message)
    created = skipped = 0
    if not errors:
        for n, item in parsed:
            if item["external_ref"] and repo.leave_by_ref(session, item["external_ref"]):
                skipped += 1
                continue
            try:
                create_leave(session, actor=actor, source="import", **item)
            except (BadRequest, Conflict) as err:
                errors.add(n, "休暇日", f"{n}行目: {err.message}")
            created += 1
    if errors:  # the request's transaction rolls back what was added
        raise errors.rejected(f"{errors.count} 行に誤りがあります。何も取り込んでいません。"
                              f"最初: {errors.first[0]['message']}")
    return {"created": created, "skipped_existing": skipped}
