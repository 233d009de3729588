"""HR exports: 打刻, 日次勤務実績 and 月次時間外 for a month, through a profile.

- The watermark: while an active reader agent has not delivered its events up to the period's
  end, the export is provisional and refused unless ``allow_provisional``.
- A final export freezes the month (its staff-day lines). Later exports of that month show the
  frozen lines unchanged; whatever changed since (a late punch, an approved correction or
  overtime) becomes an amendment, carried with 訂正区分 1 by the next export of a later month.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.attendance import repository as arepo
from api.attendance.config import rule_config
from api.attendance.rules import (
    DAY_TYPE_JA,
    FLAG_JA,
    SCHEDULED_WORK_DAYS,
    Bucket,
    CapInput,
    DayType,
    OvertimeDay,
    RuleConfig,
    business_date,
    cap_minutes,
    check_caps,
    day_start,
    fiscal_year,
    month_buckets,
    moved_weekly_off_minutes,
    reconcile,
    round_30,
    round_buckets,
)
from api.attendance.service import (
    PeriodResult,
    StaffInfo,
    compute_period,
    get_staff_or_raise,
    hhmm,
    month_bounds,
)
from api.audit.service import record
from api.errors import BadRequest, Conflict, NotFound
from api.models import (
    AttendanceAmendment,
    AttendanceFrozenMonth,
    ExportProfile,
    ExportRun,
    StaffCharSubstitute,
)
from api.models.base import utcnow

from .profiles import BUILTIN, DATASETS, FILE_FORMATS, Profile, validate_spec
from .writer import render

Progress = Callable[[str, int, int], None]
Key = tuple[int, date]


@dataclass
class ExportResult:
    content: bytes
    filename: str
    media_type: str
    provisional: bool
    lagging_devices: list[str]
    rows: int
    amendments: int
    run_id: int | None
    timings: dict[str, float] = field(default_factory=dict)
    # LOSSY look-alikes written in a CP932 file, per code point (writer.LOSSY)
    substitutions: dict[str, int] = field(default_factory=dict)


# --- 代替文字 -------------------------------------------------------------------------------

def create_substitute(session: Session, *, actor: str, staff_id: int, original: str,
                      substitute: str) -> StaffCharSubstitute:
    """A staff member's 代替文字: ``original`` (a character CP932 lacks, or an IVS sequence)
    goes out in CP932 files as ``substitute``."""
    get_staff_or_raise(session, staff_id)
    try:
        original.encode("cp932")
    except UnicodeEncodeError:
        pass
    else:
        raise BadRequest(f"{original!r} is already in CP932; nothing to substitute",
                         field="original")
    try:
        substitute.encode("cp932")
    except UnicodeEncodeError as err:
        raise BadRequest(f"the substitute {substitute!r} must be in CP932",
                         field="substitute") from err
    if arepo.char_substitutes(session).get(_number_of(session, staff_id), {}).get(original):
        raise Conflict(f"a substitute for {original!r} is already registered", field="original")
    row = StaffCharSubstitute(staff_id=staff_id, original=original, substitute=substitute)
    session.add(row)
    session.flush()
    record(session, actor=actor, action="exports.substitute.create",
           entity="staff_char_substitute", entity_id=row.id,
           after={"staff_id": staff_id, "original": original, "substitute": substitute})
    return row


def _number_of(session: Session, staff_id: int) -> str:
    return get_staff_or_raise(session, staff_id).staff_number


# --- profiles ----------------------------------------------------------------------------------

def get_profile(session: Session, dataset: str, name: str = "standard",
                version: int | None = None) -> Profile:
    if dataset not in DATASETS:
        raise BadRequest(f"dataset must be one of {', '.join(DATASETS)}", field="dataset")
    q = select(ExportProfile).where(ExportProfile.name == name,
                                    ExportProfile.dataset == dataset)
    if version is not None:
        q = q.where(ExportProfile.version == version)
    row = session.execute(q.order_by(ExportProfile.version.desc()).limit(1)).scalar_one_or_none()
    if row is not None:
        p = validate_spec(dataset, row.spec)
        return Profile(row.name, row.version, dataset, p.columns, p.header_row)
    if name == "standard" and version in (None, 1):
        return BUILTIN[dataset]
    raise NotFound(f"export profile {name!r} (version {version or 'latest'}) for {dataset} "
                   "not found", field="profile")


def create_profile(session: Session, *, name: str, dataset: str, spec: dict[str, Any],
                   actor: str) -> ExportProfile:
    """A new version of a named profile (versions are never edited)."""
    validate_spec(dataset, spec)
    latest = session.execute(select(func.max(ExportProfile.version)).where(
        ExportProfile.name == name)).scalar()
    if name == "standard" and latest is None:
        latest = 1  # the built-in standard is version 1
    row = ExportProfile(name=name, version=(latest or 0) + 1, dataset=dataset, spec=spec,
                        created_by=actor)
    session.add(row)
    session.flush()
    record(session, actor=actor, action="exports.profile.create", entity="export_profile",
           entity_id=row.id, after={"name": name, "version": row.version, "dataset": dataset})
    return row


def list_profiles(session: Session) -> list[dict[str, Any]]:
    out = [{"name": p.name, "version": p.version, "dataset": p.dataset, "builtin": True,
            "spec": p.spec()} for p in BUILTIN.values()]
    for r in session.execute(select(ExportProfile).order_by(ExportProfile.name,
                                                            ExportProfile.version)).scalars():
        out.append({"name": r.name, "version": r.version, "dataset": r.dataset,
                    "builtin": False, "spec": r.spec})
    return out


# --- watermark ---------------------------------------------------------------------------------

def lagging_devices(session: Session, end: date, cfg: RuleConfig) -> list[str]:
    """Active devices that have not delivered their events up to the period's end, or that
    have an open sequence gap (events known to be missing)."""
    end_at = day_start(end + timedelta(days=1), cfg)
    gaps = arepo.devices_with_open_gaps(session)
    return sorted(name for dev_id, name, through in arepo.active_devices_watermarks(session)
                  if through is None or through < end_at or dev_id in gaps)


# --- freezing and amendments -------------------------------------------------------------------

_PACKED = ("day_type", "in", "out", "in_source", "out_source", "premises", "break", "scheduled",
           "worked", "unscheduled", "approved", "overtime", "divergence", "paid", "schedule",
           "flags", "holiday_work", "leave")


def pack_lines(per_day: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A staff-month's records in the compact stored form: one value list per day."""
    return {"v": 2, "keys": list(_PACKED),
            "days": {iso: [rec[k] for k in _PACKED] for iso, rec in per_day.items()}}


def unpack_lines(stored: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The records (keyed by ISO date) from the stored form."""
    if stored.get("v") != 2:
        return stored
    keys = stored["keys"]
    # Months frozen before 休日勤務 and 休暇 had their own keys show them as 0.
    return {iso: {"date": iso, "holiday_work": 0, "leave": 0,
                  **dict(zip(keys, vals, strict=True))}
            for iso, vals in stored["days"].items()}


def _records(res: PeriodResult, cfg: RuleConfig) -> dict[Key, dict[str, Any]]:
    return res.records()


def _frozen(session: Session, month_start: date,
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
        fresh = _records(compute_period(session, start, end, staff_ids=ids, now=now, cfg=cfg),
                         cfg)
        frozen, _ = _frozen(session, month_start, ids)
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


def _freeze(session: Session, run: ExportRun, month_start: date,
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


# --- rows --------------------------------------------------------------------------------------

def _staff_cols(s: StaffInfo) -> dict[str, Any]:
    return {"staff_number": s.number, "name": s.name, "name_kana": s.kana,
            "dept_code": s.dept_code, "dept_name": s.dept_name}


def _daily_part(rec: dict[str, Any]) -> dict[str, Any]:
    flags = rec["flags"]
    return {"date": rec["date"],
            "day_type": DAY_TYPE_JA[DayType(rec["day_type"])], "in": rec["in"],
            "out": rec["out"], "premises": rec["premises"], "break": rec["break"],
            "scheduled": rec["scheduled"], "worked": rec["worked"],
            "approved": rec["approved"], "overtime": rec["overtime"],
            "holiday_work": rec["holiday_work"], "leave": rec["leave"],
            "divergence": rec["divergence"], "late": "late" in flags, "early": "early" in flags,
            "missing": "missing_in" in flags or "missing_out" in flags,
            "corrected": "corrected" in flags,
            "flags": "・".join(FLAG_JA[f] for f in flags) if flags else ""}


def _daily_row(s: StaffInfo, rec: dict[str, Any], amendment: bool) -> dict[str, Any]:
    return {**_staff_cols(s), **_daily_part(rec), "amendment": "1" if amendment else "0"}


def _buckets_of(recs: Sequence[dict[str, Any]], cfg: RuleConfig) -> dict[str, int]:
    days = [OvertimeDay(date.fromisoformat(r["date"]), DayType(r["day_type"]),
                        tuple((a, b) for a, b in r["paid"]),
                        (r["schedule"][0], r["schedule"][1]))
            for r in recs if r["paid"]]
    return month_buckets(days, cfg)


def _week25(recs: Sequence[dict[str, Any]]) -> int:
    """+25 minutes of a staff-month: weeks are counted from the month's own days only."""
    return moved_weekly_off_minutes(
        (date.fromisoformat(r["date"]), r["worked"]) for r in recs
        if DayType(r["day_type"]) in SCHEDULED_WORK_DAYS and r["worked"])


def _monthly_row(s: StaffInfo, month_start: date, buckets: dict[str, int], alerts: str,
                 amendment: bool, week25: int = 0) -> dict[str, Any]:
    hours = round_buckets(buckets)
    row = {**_staff_cols(s), "month": f"{month_start.year}{month_start.month:02d}",
           "total": cap_minutes(buckets),
           "overtime_class": "他律" if s.overtime_class == "high_external" else "一般",
           "alerts": alerts, "amendment": "1" if amendment else "0"}
    for b in Bucket:
        row[f"m{b.value}"] = buckets[b.value]
        row[f"h{b.value}"] = hours[b.value]
    row["m25"], row["h25"] = week25, round_30(week25)
    return row


def _fy_months(session: Session, month_start: date, cfg: RuleConfig, now: datetime,
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
    rows = session.execute(select(AttendanceFrozenMonth).where(
        AttendanceFrozenMonth.month_start >= first,
        AttendanceFrozenMonth.month_start < month_start)).scalars()
    out: dict[int, dict[tuple[int, int], int]] = defaultdict(dict)
    frozen: set[tuple[int, date]] = set()
    for fm in rows:
        frozen.add((fm.staff_id, fm.month_start))
        b = _buckets_of(list(unpack_lines(fm.lines).values()), cfg)
        out[fm.staff_id][(fm.month_start.year, fm.month_start.month)] = cap_minutes(b)
    m = first
    while m < month_start:
        m_end = month_bounds(m)[1]
        ids = [sid for sid in arepo.staff_with_approved_overtime(session, m, m_end, staff_ids)
               if (sid, m) not in frozen]
        if ids:
            res = compute_period(session, m, m_end, staff_ids=ids, now=now, cfg=cfg)
            for sid in res.staff:
                out[sid][(m.year, m.month)] = cap_minutes(res.buckets(sid))
        m = m_end + timedelta(days=1)
    return out


def split_fy(months: dict[tuple[int, int], int], month_start: date
             ) -> tuple[dict[tuple[int, int], int], dict[tuple[int, int], int]]:
    """(months of the fiscal year, earlier months) of a staff member's monthly minutes."""
    fy = fiscal_year(month_start)
    inside = {k: v for k, v in months.items() if fiscal_year(date(k[0], k[1], 1)) == fy}
    before = {k: v for k, v in months.items() if k not in inside}
    return inside, before


# --- the export --------------------------------------------------------------------------------

def export_dataset(session: Session, *, dataset: str, month: str | date,
                   file_format: str = "cp932", profile: str = "standard",
                   profile_version: int | None = None, allow_provisional: bool = False,
                   actor: str = "admin", now: datetime | None = None,
                   progress: Progress | None = None, record_run: bool = True,
                   period: PeriodResult | None = None,
                   workers: int | None = None) -> ExportResult:
    """Compute and render one dataset for one month; a final run freezes the month.

    ``period`` reuses a computation of the same month (several datasets from one pass);
    ``workers`` (default: the CPU count) splits a large unfrozen month over processes."""
    import time as _t

    timings: dict[str, float] = {}
    t = _t.perf_counter()
    cfg = rule_config()
    now = now or utcnow()
    if file_format not in FILE_FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FILE_FORMATS)}", field="format")
    prof = get_profile(session, dataset, profile, profile_version)
    start, end = month_bounds(month)
    step = progress or (lambda _stage, _done, _total: None)
    lagging = lagging_devices(session, end, cfg)
    provisional = bool(lagging)
    if provisional and not allow_provisional:
        raise Conflict(
            f"{start:%Y-%m} はまだ確定できません: {len(lagging)} 台の端末が期間末までの打刻を"
            f"送信していません ({', '.join(lagging[:5])}{' …' if len(lagging) > 5 else ''}). "
            "--allow-provisional で暫定出力できます",
            field="allow_provisional", lagging_devices=lagging)
    step("amendments", 0, 4)
    if record_run:
        detect_amendments(session, before=start, now=now, cfg=cfg)
    step("compute", 1, 4)
    amendments_rows: list[dict[str, Any]] = []
    carried: list[AttendanceAmendment] = []
    if dataset == "punches":
        rows = _punch_rows(session, start, end, cfg)
        late = _late_punch_rows(session, start, cfg)
        amendments_rows = late
        rows.extend(late)
        records: dict[Key, dict[str, Any]] = {}
        staff_ids: list[int] = []
    elif (parallel := _parallel_plan(session, dataset, start, end, file_format, period,
                                     workers)) is not None:
        outs = _export_parallel(
            session, parallel, datasets=[dataset], start=start, end=end, now=now, profs=[prof],
            file_format=file_format, cfg=cfg, want_lines=record_run and not provisional,
            workers=workers, step=step)
        content, rows_n, lines, carried, amendments_rows, lossy = outs[dataset]
        timings["render"] = _t.perf_counter() - t
        result = _finish(session, dataset=dataset, start=start, end=end, prof=prof,
                         file_format=file_format, provisional=provisional, lagging=lagging,
                         content=content, rows=rows_n, amendments_rows=amendments_rows,
                         carried=carried, record_run=record_run, actor=actor, now=now,
                         freeze=lambda run: _freeze_json(session, run, start, lines),
                         step=step, timings=timings, t=t)
        result.substitutions = lossy
        return result
    else:
        res = period if period is not None else compute_period(
            session, start, end, now=now, cfg=cfg,
            progress=lambda done, n: step("compute", done, max(n, 1)))
        timings["compute"] = _t.perf_counter() - t
        fresh = res.records()
        frozen, frozen_rows = _frozen(session, start)
        if frozen_rows:
            frozen_staff = {fm.staff_id for fm in frozen_rows}
            records = {k: (frozen.get(k) if k[0] in frozen_staff else v)
                       for k, v in fresh.items()}
            records = {k: v for k, v in records.items() if v is not None}
            for k, v in frozen.items():
                records.setdefault(k, v)
        else:
            records = fresh
        staff_ids = sorted(res.staff)
        carried = [a for a in arepo.open_amendments(session) if a.business_date < start]
        step("rows", 2, 4)
        if dataset == "daily":
            rows = _daily_rows(res, records)
            for a in carried:
                info = _staff_info(session, res, a.staff_id)
                if a.current_line:
                    amendments_rows.append(_daily_row(info, a.current_line, True))
            rows.extend(amendments_rows)
        else:
            rows = _monthly_rows(session, res, records, start, now, cfg)
            amendments_rows = _monthly_amendment_rows(session, res, carried, cfg, now)
            rows.extend(amendments_rows)
    timings["rows"] = _t.perf_counter() - t
    step("render", 3, 4)
    report: Counter[str] = Counter()
    content = render(rows, prof, file_format, substitutes=arepo.char_substitutes(session),
                     report=report)
    timings["render"] = _t.perf_counter() - t
    result = _finish(session, dataset=dataset, start=start, end=end, prof=prof,
                     file_format=file_format, provisional=provisional, lagging=lagging,
                     content=content, rows=len(rows), amendments_rows=amendments_rows,
                     carried=carried, record_run=record_run, actor=actor, now=now,
                     freeze=(lambda run: _freeze(session, run, start, records, staff_ids))
                     if dataset != "punches" else None, step=step, timings=timings, t=t)
    result.substitutions = dict(sorted(report.items()))
    return result


def _finish(session: Session, *, dataset: str, start: date, end: date, prof: Profile,
            file_format: str, provisional: bool, lagging: list[str], content: bytes, rows: int,
            amendments_rows: Sequence[Any], carried: Sequence[AttendanceAmendment],
            record_run: bool, actor: str, now: datetime,
            freeze: Callable[[ExportRun], None] | None, step: Progress,
            timings: dict[str, float], t: float) -> ExportResult:
    """Record the run (and, when final, freeze the month and mark carried amendments)."""
    import time as _t

    ext = "xlsx" if file_format == "xlsx" else "csv"
    filename = (f"{dataset}_{start:%Y%m}_{prof.name}v{prof.version}"
                f"{'_provisional' if provisional else ''}.{ext}")
    media = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
             if ext == "xlsx" else
             # Windows-31J (CP932), not shift_jis: strict Shift_JIS decoders misread 髙 and 﨑.
             f"text/csv; charset={'Windows-31J' if file_format == 'cp932' else 'utf-8'}")
    run_id = None
    if record_run:
        run = ExportRun(dataset=dataset, profile=prof.name, profile_version=prof.version,
                        period_start=start, period_end=end, file_format=file_format,
                        provisional=provisional, row_count=rows,
                        amendment_count=len(amendments_rows),
                        sha256=hashlib.sha256(content).hexdigest(), actor=actor, created_at=now)
        session.add(run)
        session.flush()
        run_id = run.id
        if not provisional:
            if freeze is not None:
                freeze(run)
                if dataset == "daily":
                    for a in carried:
                        a.carried_by_run_id = run.id
            session.flush()
        record(session, actor=actor, action="exports.run", entity="export_run", entity_id=run.id,
               after={"dataset": dataset, "month": f"{start:%Y-%m}", "format": file_format,
                      "profile": f"{prof.name}v{prof.version}", "provisional": provisional,
                      "rows": rows, "sha256": run.sha256})
    step("done", 4, 4)
    timings["total"] = _t.perf_counter() - t
    return ExportResult(content, filename, media, provisional, lagging, rows,
                        len(amendments_rows), run_id, timings)


def _parallel_plan(session: Session, dataset: str, start: date, end: date, file_format: str,
                   period: PeriodResult | None, workers: int | None) -> list[int] | None:
    """The staff ids to split over workers, or None when one process should do it."""
    from .parallel import MIN_STAFF

    if (dataset == "punches" or period is not None or file_format == "xlsx"
            or workers is not None and workers <= 1):
        return None
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    if arepo.frozen_months(session, start, staff_ids=None)[:1]:
        return None
    ids = [r[0] for r in arepo.staff_in_period(session, start, end)]
    return ids if len(ids) >= MIN_STAFF else None


def _export_parallel(session: Session, staff_ids: list[int], *, datasets: Sequence[str],
                     start: date, end: date, now: datetime, profs: Sequence[Profile],
                     file_format: str, cfg: RuleConfig, want_lines: bool, workers: int | None,
                     step: Progress) -> dict[str, tuple[bytes, int, list[tuple[int, str]],
                                                        list[AttendanceAmendment],
                                                        list[dict[str, Any]], dict[str, int]]]:
    """Each dataset's (content, rows, frozen lines, carried amendments, amendment rows, LOSSY
    substitutions per code point)."""
    from dataclasses import replace

    from .parallel import default_workers, run_chunks
    from .writer import ExportEncodingError

    url = session.get_bind().url.render_as_string(hide_password=False)
    step("compute", 1, 4)
    outs = run_chunks(url, datasets=datasets, start=start, end=end, now=now,
                      staff_ids=staff_ids, profiles=profs, file_format=file_format, cfg=cfg,
                      want_lines=want_lines, workers=workers or default_workers())
    for o in outs:
        if o.error is not None:
            err = dict(o.error)
            raise ExportEncodingError(err.pop("message"), field=err.pop("field", None), **err)
    step("rows", 2, 4)
    res = PeriodResult(start, end, cfg, {})
    carried = [a for a in arepo.open_amendments(session) if a.business_date < start]
    lines = [x for o in outs for x in o.lines]
    substitutes = arepo.char_substitutes(session)
    step("render", 3, 4)
    result = {}
    for ds, prof in zip(datasets, profs, strict=True):
        if ds == "daily":
            amendments_rows = [_daily_row(_staff_info(session, res, a.staff_id), a.current_line,
                                          True) for a in carried if a.current_line]
        else:
            amendments_rows = _monthly_amendment_rows(session, res, carried, cfg, now)
        lossy: Counter[str] = Counter()
        for o in outs:
            lossy.update(o.report.get(ds, {}))
        header = render([], prof, file_format)
        tail = render(amendments_rows, replace(prof, header_row=False), file_format,
                      substitutes=substitutes, report=lossy)
        if file_format == "utf8bom":
            tail = tail[3:]
        content = b"".join([header, *(o.bodies[ds] for o in outs), tail])
        result[ds] = (content, sum(o.rows[ds] for o in outs) + len(amendments_rows), lines,
                      carried, amendments_rows, dict(sorted(lossy.items())))
    return result


def export_month(session: Session, *, datasets: Sequence[str], month: str | date,
                 file_format: str = "cp932", allow_provisional: bool = False,
                 actor: str = "admin", now: datetime | None = None,
                 progress: Progress | None = None, record_run: bool = True,
                 workers: int | None = None) -> dict[str, ExportResult]:
    """Several datasets of one month (standard profiles) from a single computation."""
    import time as _t

    cfg = rule_config()
    now = now or utcnow()
    datasets = list(dict.fromkeys(datasets))
    start, end = month_bounds(month)
    step = progress or (lambda _stage, _done, _total: None)
    rest = [d for d in datasets if d == "punches"]
    month_sets = [d for d in datasets if d != "punches"]
    out: dict[str, ExportResult] = {}
    plan = (_parallel_plan(session, "daily", start, end, file_format, None, workers)
            if month_sets else None)
    if plan is None or len(month_sets) < 2:
        period = None
        if len(month_sets) >= 2:
            period = compute_period(session, start, end, now=now, cfg=cfg,
                                    progress=lambda done, n: step("compute", done, max(n, 1)))
        for d in month_sets + rest:
            out[d] = export_dataset(session, dataset=d, month=month, file_format=file_format,
                                    allow_provisional=allow_provisional, actor=actor, now=now,
                                    progress=progress, record_run=record_run,
                                    period=period if d != "punches" else None, workers=workers)
        return out
    t = _t.perf_counter()
    lagging = lagging_devices(session, end, cfg)
    provisional = bool(lagging)
    if provisional and not allow_provisional:
        raise Conflict(f"{start:%Y-%m} はまだ確定できません: {len(lagging)} 台の端末が未送信です "
                       f"({', '.join(lagging[:5])})", field="allow_provisional",
                       lagging_devices=lagging)
    if record_run:
        detect_amendments(session, before=start, now=now, cfg=cfg)
    profs = [get_profile(session, d) for d in month_sets]
    outs = _export_parallel(session, plan, datasets=month_sets, start=start, end=end, now=now,
                            profs=profs, file_format=file_format, cfg=cfg,
                            want_lines=record_run and not provisional, workers=workers,
                            step=step)
    frozen_done = False
    for d, prof in zip(month_sets, profs, strict=True):
        content, rows_n, lines, carried, amendments_rows, lossy = outs[d]

        def freeze(run: ExportRun, lines: list[tuple[int, str]] = lines) -> None:
            nonlocal frozen_done
            if not frozen_done:
                _freeze_json(session, run, start, lines)
                frozen_done = True

        out[d] = _finish(session, dataset=d, start=start, end=end, prof=prof,
                         file_format=file_format, provisional=provisional, lagging=lagging,
                         content=content, rows=rows_n, amendments_rows=amendments_rows,
                         carried=carried, record_run=record_run, actor=actor, now=now,
                         freeze=freeze, step=step, timings={}, t=t)
        out[d].substitutions = lossy
    for d in rest:
        out[d] = export_dataset(session, dataset=d, month=month, file_format=file_format,
                                allow_provisional=allow_provisional, actor=actor, now=now,
                                progress=progress, record_run=record_run)
    return out


def _freeze_json(session: Session, run: ExportRun, month_start: date,
                 lines: list[tuple[int, str]]) -> None:
    """Freeze a month from the workers' JSON (PostgreSQL only, like the parallel path)."""
    from sqlalchemy import text

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


def _staff_info(session: Session, res: PeriodResult, staff_id: int) -> StaffInfo:
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
        self.items = sorted(records.items(), key=lambda kv: kv[0])
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
        return _daily_row(self.res.staff[sid], rec, False)

    def extend(self, rows: Sequence[dict[str, Any]]) -> None:
        self.extra.extend(rows)

    def cells(self, profile: Profile) -> list[list[str]]:
        from .profiles import FIELDS
        from .writer import _formatter, table

        catalogue = FIELDS[profile.dataset]
        cols = list(profile.columns)
        fns = [_formatter(catalogue[c.field][0], c.format) for c in cols]
        memos: list[dict[Any, str]] = [{} for _ in cols]
        is_staff = [c.field in self._STAFF for c in cols]
        n_staff = sum(is_staff)
        prefix = is_staff == [True] * n_staff + [False] * (len(cols) - n_staff)
        day_cols = [(i, c.field, fns[i], memos[i]) for i, c in enumerate(cols)
                    if not is_staff[i]]

        staff_cells: dict[int, list[str]] = {}
        day_cells: dict[int, list[str]] = {}
        out: list[list[str]] = []
        append = out.append
        for (sid, _d), rec in self.items:
            sc = staff_cells.get(sid)
            if sc is None:
                row = _staff_cols(self.res.staff[sid])
                full = [fns[i](row.get(c.field, "")) if is_staff[i] else ""
                        for i, c in enumerate(cols)]
                sc = staff_cells[sid] = full[:n_staff] if prefix else full
            dc = day_cells.get(id(rec))
            if dc is None:
                part = _daily_part(rec)
                part["amendment"] = "0"
                dc = []
                for _i, field, fn, memo in day_cols:
                    v = part.get(field, "")
                    cell = memo.get(v)
                    if cell is None:
                        cell = memo[v] = fn(v)
                    dc.append(cell)
                day_cells[id(rec)] = dc
            if prefix:
                append(sc + dc)
            else:
                it = iter(dc)
                append([sc[i] if is_staff[i] else next(it) for i in range(len(cols))])
        if self.extra:
            out.extend(table(self.extra, profile))
        return out


def _daily_rows(res: PeriodResult, records: dict[Key, dict[str, Any]]) -> DailyRows:
    return DailyRows(res, records)


def _monthly_rows(session: Session, res: PeriodResult, records: dict[Key, dict[str, Any]],
                  month_start: date, now: datetime, cfg: RuleConfig) -> list[dict[str, Any]]:
    per: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for (sid, _d), rec in records.items():
        per[sid].append(rec)
    fy = _fy_months(session, month_start, cfg, now, list(res.staff))
    ym = (month_start.year, month_start.month)
    rows = []
    for sid in sorted(per):
        s = res.staff[sid]
        b = _buckets_of(per[sid], cfg)
        months, before = split_fy(fy.get(sid, {}), month_start)
        months[ym] = cap_minutes(b)
        alerts = check_caps(CapInput(s.overtime_class, months, ym, months_before=before))
        rows.append(_monthly_row(s, month_start, b, "・".join(a.code for a in alerts), False,
                                 _week25(per[sid])))
    return rows


def _monthly_amendment_rows(session: Session, res: PeriodResult,
                            carried: Sequence[AttendanceAmendment],
                            cfg: RuleConfig, now: datetime) -> list[dict[str, Any]]:
    """One corrected row per staff-month touched by carried amendments: the month recomputed
    from its frozen lines with the amended days replaced."""
    touched = sorted({(a.staff_id, a.business_date.replace(day=1)) for a in carried})
    rows = []
    for sid, ms in touched:
        frozen, _ = _frozen(session, ms, [sid])
        recs = {k: v for k, v in frozen.items()}
        for a in carried:
            if a.staff_id == sid and a.business_date.replace(day=1) == ms:
                key = (sid, a.business_date)
                if a.current_line:
                    recs[key] = a.current_line
                else:
                    recs.pop(key, None)
        b = _buckets_of(list(recs.values()), cfg)
        info = _staff_info(session, res, sid)
        # The 警告 column shows the alerts recomputed for the corrected month.
        months, before = split_fy(_fy_months(session, ms, cfg, now, [sid]).get(sid, {}), ms)
        months[(ms.year, ms.month)] = cap_minutes(b)
        alerts = check_caps(CapInput(info.overtime_class, months, (ms.year, ms.month),
                                     months_before=before))
        rows.append(_monthly_row(info, ms, b, "・".join(a.code for a in alerts), True,
                                 _week25(list(recs.values()))))
    return rows


def _punch_row(info: StaffInfo, at: datetime, kind_code: str, device: str, cfg: RuleConfig,
               amendment: bool) -> dict[str, Any]:
    d = business_date(at, cfg)
    local = at.astimezone(cfg.tz)
    return {**_staff_cols(info), "date": d.isoformat(), "time": hhmm(at, d, cfg),
            "calendar_date": local.date().isoformat(), "clock_time": f"{local:%H:%M}",
            "next_day": "1" if local.date() != d else "0", "kind_code": kind_code,
            "kind_name": {"01": "出勤", "02": "退勤"}.get(kind_code, "その他"),
            "device": device, "amendment": "1" if amendment else "0"}


def _punch_rows(session: Session, start: date, end: date, cfg: RuleConfig,
                *, received_by: datetime | None = None) -> list[dict[str, Any]]:
    s_at, e_at = day_start(start, cfg), day_start(end + timedelta(days=1), cfg)
    frozen_at = {ms: at for ms, at in arepo.frozen_month_starts(session)}.get(start)
    events = arepo.punch_events(session, s_at, e_at)
    if frozen_at is not None:
        events = [e for e in events if e.received_at <= frozen_at]
    return _label_punches(session, events, start, end, cfg, amendment=False)


def _label_punches(session: Session, events: Sequence[Any], start: date, end: date,
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
                rows.append(_punch_row(staff[sid], at, code, devices.get(e.device_id, ""), cfg,
                                       amendment))
    return rows


def _late_punch_rows(session: Session, start: date, cfg: RuleConfig) -> list[dict[str, Any]]:
    """Punches of earlier frozen months received after the freeze and not yet carried by a
    final punches export of a later month."""
    rows: list[dict[str, Any]] = []
    for ms, frozen_at in sorted(arepo.frozen_month_starts(session)):
        if ms >= start:
            continue
        prev = session.execute(select(func.max(ExportRun.created_at)).where(
            ExportRun.dataset == "punches", ExportRun.provisional.is_(False),
            ExportRun.period_start > ms)).scalar()
        since = max(frozen_at, prev) if prev is not None else frozen_at
        m_start, m_end = month_bounds(ms)
        events = arepo.punch_events(session, day_start(m_start, cfg),
                                    day_start(m_end + timedelta(days=1), cfg),
                                    received_after=since)
        rows.extend(_label_punches(session, events, m_start, m_end, cfg, amendment=True))
    return rows
