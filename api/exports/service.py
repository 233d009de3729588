"""HR exports: 打刻, 日次勤務実績 and 月次時間外 for a month, through a profile.

- The watermark: while an active reader agent has not delivered its events up to the period's
  end, the export is provisional and refused unless ``allow_provisional``.
- A final export freezes the month (its staff-day lines). Later exports of that month show the
  frozen lines unchanged; whatever changed since (a late punch, an approved correction or
  overtime) becomes an amendment, carried with 訂正区分 1 by the next export of a later month.
"""

from __future__ import annotations

import hashlib
import time as _t
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from api.attendance import repository as arepo
from api.attendance.closing import (
    Key,
    detect_amendments,
    freeze_month,
    freeze_month_json,
    frozen_lines,
)
from api.attendance.config import rule_config
from api.attendance.rules import (
    RuleConfig,
    day_start,
)
from api.attendance.service import (
    PeriodResult,
    compute_period,
    get_staff_or_raise,
    month_bounds,
)
from api.audit.service import record
from api.errors import BadRequest, Conflict, NotFound
from api.models import (
    AttendanceAmendment,
    ExportProfile,
    ExportRun,
    StaffCharSubstitute,
)
from api.models.base import utcnow

from . import parallel
from . import repository as xrepo
from .profiles import BUILTIN, DATASETS, FILE_FORMATS, Profile, validate_spec
from .rows import (
    daily_row,
    daily_rows,
    late_punch_rows,
    monthly_amendment_rows,
    monthly_rows,
    punch_rows,
    staff_info,
)
from .writer import ExportEncodingError, render

Progress = Callable[[str, int, int], None]


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
    if any(ch.isdigit() for ch in original + substitute):
        raise BadRequest("a 代替文字 holds characters of a name, never digits",
                         field="substitute")  # and so never an individual number
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
    row = xrepo.profile(session, name, dataset, version)
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
    latest = xrepo.latest_profile_version(session, name)
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
    for r in xrepo.profiles(session):
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
        rows = punch_rows(session, start, end, cfg)
        late = late_punch_rows(session, start, cfg)
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
                         freeze=lambda run: freeze_month_json(session, run, start, lines),
                         step=step, timings=timings, t=t)
        result.substitutions = lossy
        return result
    else:
        res = period if period is not None else compute_period(
            session, start, end, now=now, cfg=cfg,
            progress=lambda done, n: step("compute", done, max(n, 1)))
        timings["compute"] = _t.perf_counter() - t
        fresh = res.records()
        frozen, frozen_rows = frozen_lines(session, start)
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
            rows = daily_rows(res, records)
            for a in carried:
                info = staff_info(session, res, a.staff_id)
                if a.current_line:
                    amendments_rows.append(daily_row(info, a.current_line, True))
            rows.extend(amendments_rows)
        else:
            rows = monthly_rows(session, res, records, start, now, cfg)
            amendments_rows = monthly_amendment_rows(session, res, carried, cfg, now)
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
                     freeze=(lambda run: freeze_month(session, run, start, records, staff_ids))
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
    if (dataset == "punches" or period is not None or file_format == "xlsx"
            or workers is not None and workers <= 1):
        return None
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    if arepo.frozen_months(session, start, staff_ids=None)[:1]:
        return None
    ids = [r[0] for r in arepo.staff_in_period(session, start, end)]
    return ids if len(ids) >= parallel.MIN_STAFF else None


def _export_parallel(session: Session, staff_ids: list[int], *, datasets: Sequence[str],
                     start: date, end: date, now: datetime, profs: Sequence[Profile],
                     file_format: str, cfg: RuleConfig, want_lines: bool, workers: int | None,
                     step: Progress) -> dict[str, tuple[bytes, int, list[tuple[int, str]],
                                                        list[AttendanceAmendment],
                                                        list[dict[str, Any]], dict[str, int]]]:
    """Each dataset's (content, rows, frozen lines, carried amendments, amendment rows, LOSSY
    substitutions per code point)."""
    url = session.get_bind().url.render_as_string(hide_password=False)
    step("compute", 1, 4)
    outs = parallel.run_chunks(url, datasets=datasets, start=start, end=end, now=now,
                      staff_ids=staff_ids, profiles=profs, file_format=file_format, cfg=cfg,
                      want_lines=want_lines, workers=workers or parallel.default_workers())
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
            amendments_rows = [daily_row(staff_info(session, res, a.staff_id), a.current_line,
                                          True) for a in carried if a.current_line]
        else:
            amendments_rows = monthly_amendment_rows(session, res, carried, cfg, now)
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
                freeze_month_json(session, run, start, lines)
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


