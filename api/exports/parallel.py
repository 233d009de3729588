"""Computing and rendering a large month on every core.

Staff are split into contiguous chunks (by id); each worker process opens its own connection,
computes its chunk's month with the same rules, and renders its rows as CSV bytes without a
header. The parent concatenates them in chunk order, so the file is byte-identical to the one a
single process writes (a test checks this). Only used on PostgreSQL for unfrozen months."""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from api.attendance.closing import packed_json
from api.attendance.repository import char_substitutes
from api.attendance.rules import RuleConfig
from api.attendance.service import compute_period
from api.db import Database

from .profiles import Profile
from .rows import daily_rows, monthly_rows
from .writer import ExportEncodingError, render

MIN_STAFF = 2000  # below this one process is faster than starting workers


@dataclass(frozen=True)
class ChunkJob:
    url: str
    datasets: tuple[str, ...]
    start: date
    end: date
    now: datetime
    staff_ids: tuple[int, ...]
    profiles: tuple[Profile, ...]
    file_format: str
    cfg: RuleConfig
    want_lines: bool


@dataclass
class ChunkOut:
    bodies: dict[str, bytes]
    rows: dict[str, int]
    lines: list[tuple[int, str]]  # (staff_id, JSON of its day records) when freezing
    error: dict[str, Any] | None = None
    report: dict[str, dict[str, int]] = field(default_factory=dict)  # LOSSY per dataset


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, int(os.environ.get("MYNAGATE_EXPORT_WORKERS", "8"))))


def _work(job: ChunkJob) -> ChunkOut:
    """One chunk in a worker process. The cyclic garbage collector is off for the worker's
    short life: the work allocates millions of small acyclic objects and the collector's
    repeated full passes over them cost about a quarter of the time."""
    gc.disable()
    db = Database(job.url)
    try:
        with db.session() as session:
            res = compute_period(session, job.start, job.end, staff_ids=list(job.staff_ids),
                                 now=job.now, cfg=job.cfg)
            records = res.records()
            rows_by: dict[str, list[dict[str, Any]]] = {}
            for ds in job.datasets:
                if ds == "daily":
                    rows_by[ds] = daily_rows(res, records)
                else:
                    rows_by[ds] = monthly_rows(session, res, records, job.start, job.now,
                                                job.cfg)
            lines = packed_json(records, res.staff) if job.want_lines else []
            substitutes = char_substitutes(session)
            session.rollback()
        bodies: dict[str, bytes] = {}
        reports: dict[str, dict[str, int]] = {}
        for ds, prof in zip(job.datasets, job.profiles, strict=True):
            report: Counter[str] = Counter()
            try:
                body = render(rows_by[ds], replace(prof, header_row=False), job.file_format,
                              substitutes=substitutes, report=report)
            except ExportEncodingError as err:
                return ChunkOut({}, {}, [], {"message": err.message, "field": err.field,
                                             **err.extra})
            bodies[ds] = body[3:] if job.file_format == "utf8bom" else body
            reports[ds] = dict(report)
        return ChunkOut(bodies, {ds: len(r) for ds, r in rows_by.items()}, lines,
                        report=reports)
    finally:
        db.dispose()


def run_chunks(url: str, *, datasets: Sequence[str], start: date, end: date, now: datetime,
               staff_ids: Sequence[int], profiles: Sequence[Profile], file_format: str,
               cfg: RuleConfig, want_lines: bool, workers: int) -> list[ChunkOut]:
    """Every chunk's output, in staff order."""
    ids = sorted(staff_ids)
    # One chunk per process: staff-days with the same punches share one computed day, and a
    # larger chunk shares more (a 10,000-staff chunk took 6-9 % less CPU than two of 5,000).
    # The cost is balance: a worker slowed by other load is not relieved by the other.
    n = max(1, workers)
    size = -(-len(ids) // n)
    jobs = [ChunkJob(url, tuple(datasets), start, end, now, tuple(ids[i:i + size]),
                     tuple(profiles), file_format, cfg, want_lines)
            for i in range(0, len(ids), size)]
    # Forking a process that runs other threads (the API server's thread pool) can copy a
    # held lock into the child; there the workers start from a clean fork server instead.
    method = "fork" if threading.active_count() == 1 else "forkserver"
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(min(len(jobs), max(1, workers))) as pool:
        return pool.map(_work, jobs, chunksize=1)
