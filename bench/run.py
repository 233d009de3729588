"""Benchmarks (not timed tests): ``python -m bench.run`` (``make bench``) → bench/results.json.

``attendance_month_20k``: compute and export (日次勤務実績 and 月次時間外, CP932) a month of
attendance for 20,000 staff from their punches on PostgreSQL. Its baseline is a plain SQL
aggregate over the same punches in the same run (first and last punch per staff and business
day), so ``ratio`` says how much the full rules cost over merely reading the punches.

The other figures live next to their setup: ``tap_overhead``, ``decide_throughput``,
``agent_rss`` and ``pin_verify`` in ``bench/agent.py``; ``tap_pcsc`` in ``bench/pcsc.py``;
``ingest_pg`` and ``reconnect_storm`` in ``bench/ingest_pg.py``; ``revocation_fanout`` in
``bench/fanout.py``. One run measures them all; ``--only NAME`` (repeatable, or
``--only a,b``; ``make bench ONLY=a,b``) runs some, and ``python -m bench.run agent`` (or
``attendance``, ``ingest``) a group. Entries measured are merged into bench/results.json by
name; the others are kept.

The database is a scratch database created (and dropped) on the server named by
``MYNAGATE_BENCH_DATABASE_URL`` (default postgresql+psycopg://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import agent, fanout, ingest_pg, pcsc

RESULTS = Path(__file__).parent / "results.json"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
STAFF = int(os.environ.get("MYNAGATE_BENCH_STAFF", "20000"))
MONTH = date(2026, 11, 1)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _copy(conn: Any, table: str, columns: list[str], rows: Any) -> int:
    """COPY rows into a table (tab-separated text) through the raw psycopg connection."""
    raw = conn.connection.dbapi_connection
    n = 0
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        buf = io.StringIO()
        for r in rows:
            buf.write("\t".join("\\N" if v is None else str(v) for v in r))
            buf.write("\n")
            n += 1
            if n % 50000 == 0:
                cp.write(buf.getvalue())
                buf = io.StringIO()
        cp.write(buf.getvalue())
    return n


def seed(url: str, staff: int, rng: random.Random) -> dict[str, int]:
    """Departments, staff, 10 clock devices, a month of punches and some approved overtime."""
    from api.attendance.rules import JST
    from api.calendar.service import closed_days

    engine = create_engine(url)
    end = date(2026, 11, 30)
    holidays = closed_days(None, MONTH, end)
    days = [MONTH + timedelta(days=i) for i in range(30)]
    workdays = [d for d in days if d.weekday() < 5 and d not in holidays]
    counts = {"events": 0, "overtime": 0}
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO site (code, name) VALUES ('main', '本庁舎')"))
        for i in range(20):
            cls = "high_external" if i % 5 == 0 else "ordinary"
            conn.execute(text("INSERT INTO department (code, name, overtime_class) "
                              "VALUES (:c, :n, :k)"), {"c": f"D{i:02d}", "n": f"課{i}", "k": cls})
        _copy(conn, "staff", ["staff_number", "name", "name_kana", "department_id",
                              "employment_type", "work_pattern", "active_from"],
              ((f"S{i:06d}", f"職員 {i}", f"ショクイン {i}", 1 + i % 20, "regular", "standard",
                "2020-04-01") for i in range(staff)))
        devices = []
        through = datetime(2026, 12, 2, tzinfo=UTC).isoformat()
        for i in range(10):
            dev = uuid.uuid4()
            conn.execute(text("INSERT INTO door (site_id, code, name, mode, assurance, lockdown, "
                              "fail_open) VALUES (1, :c, :n, 'clock', 'card', false, false)"),
                         {"c": f"clock-{i}", "n": f"打刻{i}"})
            conn.execute(text("INSERT INTO device (id, name, status, max_seq, contiguous_seq, "
                              "delivered_through) VALUES (:id, :n, 'active', 0, 0, :t)"),
                         {"id": dev, "n": f"clock-{i}", "t": through})
            devices.append(dev)
        seqs = [0] * 10

        def events():  # type: ignore[no-untyped-def]
            for sid in range(1, staff + 1):
                dv = sid % 10
                for d in workdays:
                    base = datetime(d.year, d.month, d.day, tzinfo=JST)
                    t_in = base + timedelta(hours=8, minutes=rng.randint(0, 35),
                                            seconds=rng.randint(0, 59))
                    late = rng.random() < 0.25
                    t_out = base + timedelta(hours=17, minutes=rng.randint(15, 40) + (
                        rng.randint(60, 300) if late else 0), seconds=rng.randint(0, 59))
                    for t, hint in ((t_in, "in"), (t_out, "out")):
                        if rng.random() < 0.005:
                            continue  # a forgotten punch
                        seqs[dv] += 1
                        counts["events"] += 1
                        yield (uuid.uuid4(), devices[dv], seqs[dv], "clock_punch",
                               t.astimezone(UTC).isoformat(), 0, t.astimezone(UTC).isoformat(),
                               dv + 1, sid, json.dumps({"punch": hint}))

        _copy(conn, "event", ["id", "device_id", "seq", "kind", "occurred_at",
                              "device_clock_offset_ms", "received_at", "door_id", "staff_id",
                              "data"], events())

        def overtime():  # type: ignore[no-untyped-def]
            for sid in range(1, staff + 1):
                for d in rng.sample(workdays, 4):
                    base = datetime(d.year, d.month, d.day, tzinfo=JST)
                    s_at = base + timedelta(hours=17, minutes=15)
                    e_at = s_at + timedelta(minutes=rng.choice((30, 60, 90, 120, 240)))
                    counts["overtime"] += 1
                    yield (sid, 1 + (sid - 1) % 20, d.isoformat(), s_at.isoformat(),
                           e_at.isoformat(), "order", "import", "", False, "approved", "bench")

        _copy(conn, "overtime_request", ["staff_id", "department_id", "work_date", "start_at",
                                         "end_at", "kind", "source", "reason", "special",
                                         "status", "requested_by"], overtime())
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return counts


def baseline(url: str) -> tuple[float, int]:
    """The plain SQL aggregate: first and last punch per staff and business day."""
    engine = create_engine(url)
    sql = text("""
        SELECT staff_id,
               ((occurred_at AT TIME ZONE 'Asia/Tokyo') - interval '5 hours')::date AS d,
               min(occurred_at), max(occurred_at), count(*)
        FROM event
        WHERE kind = 'clock_punch' AND staff_id IS NOT NULL
          AND occurred_at >= :a AND occurred_at < :b
        GROUP BY 1, 2""")
    a = datetime(2026, 10, 31, 20, tzinfo=UTC)
    b = datetime(2026, 11, 30, 20, tzinfo=UTC)
    with engine.connect() as conn:
        t = time.perf_counter()
        n = len(conn.execute(sql, {"a": a, "b": b}).all())
        elapsed = time.perf_counter() - t
    engine.dispose()
    return elapsed, n


def attendance_month(url: str, *, record_run: bool) -> tuple[float, dict[str, Any]]:
    """Compute the month and export 日次勤務実績 and 月次時間外 (CP932) for every staff member,
    through the same call the CLI makes (``export_month``; all cores). With ``record_run`` the
    exports are final: the runs are recorded and the month is frozen, as in production."""
    from api.attendance.rules import JST
    from api.db import Database
    from api.exports.service import export_month

    db = Database(url)
    now = datetime(2026, 12, 3, 9, tzinfo=JST)
    with db.session() as s:
        cpu0 = _cpu_s()
        t = time.perf_counter()
        out = export_month(s, datasets=["daily", "monthly"], month="2026-11", now=now,
                           record_run=record_run)
        s.flush()
        elapsed = time.perf_counter() - t
        cpu = _cpu_s() - cpu0
        s.rollback()
    db.dispose()
    # CPU seconds of this process and its export workers: what the machine's load does not
    # stretch (the database server's share is not in it).
    info = {"daily_rows": out["daily"].rows, "daily_bytes": len(out["daily"].content),
            "monthly_rows": out["monthly"].rows, "provisional": out["daily"].provisional,
            "python_cpu_s": round(cpu, 2)}
    return elapsed, info


def _cpu_s() -> float:
    """CPU seconds used so far by this process and its finished child processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def table(results: list[dict[str, Any]]) -> str:
    """The figures as a plain-text table (name, value, baseline, ratio, target)."""
    rows = [("name", "value", "unit", "baseline", "ratio", "target")]
    for r in results:
        met = r.get("target_met")
        rows.append((r["name"], str(r["value"]), r["unit"], str(r["baseline_value"]),
                     str(r["ratio"]), f"{r.get('target', '')}"
                     f"{'' if met is None else ' met' if met else ' MISSED'}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
                     for row in rows)


def attendance_bench() -> list[dict[str, Any]]:
    from api.migrate import upgrade

    server = os.environ.get("MYNAGATE_BENCH_DATABASE_URL", DEFAULT_URL)
    scratch = f"mng_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{scratch}"'))
    url = make_url(server).set(database=scratch).render_as_string(hide_password=False)
    results: list[dict[str, Any]] = []
    try:
        upgrade(url)
        t = time.perf_counter()
        counts = seed(url, STAFF, random.Random(20261127))
        _log(f"seeded {STAFF} staff, {counts['events']} punches, {counts['overtime']} overtime "
             f"orders in {time.perf_counter() - t:.1f} s")
        load = os.getloadavg()[0]  # other processes on the machine skew every figure
        base_s, groups = baseline(url)
        value_s, info = attendance_month(url, record_run=False)
        final_s, final_info = attendance_month(url, record_run=True)
        _log(f"baseline SQL aggregate: {base_s:.3f} s ({groups} staff-days); "
             f"compute+export: {value_s:.3f} s; final export incl. freezing: {final_s:.3f} s "
             f"{info}")
        entry = "attendance_month_20k" if STAFF == 20000 else f"attendance_month_{STAFF}"
        base = "SQL GROUP BY staff_id, business day: min/max/count of the same punches"
        common = {"unit": "s", "baseline": base, "baseline_value": round(base_s, 3),
                  "target": "ratio < 2", "punches": counts["events"], "cpus": os.cpu_count(),
                  "loadavg_1m_before": round(load, 2),
                  **info}
        results.append({"name": entry, "value": round(value_s, 3),
                        "ratio": round(value_s / base_s, 2) if base_s else None,
                        "target_met": bool(base_s) and value_s / base_s < 2, **common})
        results.append({"name": f"{entry}_final", "value": round(final_s, 3),
                        "ratio": round(final_s / base_s, 2) if base_s else None,
                        "note": "also records the runs and freezes the month",
                        **common, "python_cpu_s": final_info["python_cpu_s"]})
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        admin.dispose()
    return results


def _server() -> str:
    return os.environ.get("MYNAGATE_BENCH_DATABASE_URL", DEFAULT_URL)


# Every figure, in the order one run measures them; ``--only NAME`` picks some.
BENCHES: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "attendance_month_20k": attendance_bench,
    "tap_overhead": agent.tap_overhead,
    "tap_pcsc": pcsc.tap_pcsc,
    "decide_throughput": agent.decide_throughput,
    "agent_rss": agent.agent_rss,
    "pin_verify": agent.pin_verify,
    "ingest_pg": lambda: ingest_pg.run_ingest(_server()),
    "reconnect_storm": lambda: ingest_pg.run_storm(_server()),
    "revocation_fanout": lambda: fanout.run(_server()),
}
# The older group names (``python -m bench.run agent``) still work.
GROUPS = {"attendance": ["attendance_month_20k"],
          "agent": ["tap_overhead", "decide_throughput", "agent_rss", "pin_verify"],
          "ingest": ["ingest_pg", "reconnect_storm"]}


def selected(argv: list[str]) -> list[str]:
    """The benchmark names to run: all, a group, or ``--only NAME`` (repeatable, or a
    comma-separated list)."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("group", nargs="?", choices=sorted(GROUPS))
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help=f"run only this figure: {', '.join(BENCHES)}")
    args = parser.parse_args(argv)
    names = [n for arg in args.only for n in arg.split(",") if n]
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; one of {', '.join(BENCHES)}")
    if args.group:
        names += GROUPS[args.group]
    return names or list(BENCHES)


def main() -> None:
    results: list[dict[str, Any]] = []
    for name in selected(sys.argv[1:]):
        load = os.getloadavg()[0]  # other processes on the machine skew every figure
        t = time.perf_counter()
        entries = BENCHES[name]()
        for e in entries:  # entries that took the load at their timed start keep theirs
            e.setdefault("loadavg_1m_before", round(load, 2))
            e.setdefault("cpus", os.cpu_count())
        _log(f"{name}: {time.perf_counter() - t:.1f} s")
        results += entries
    save(results)


def save(results: list[dict[str, Any]]) -> None:
    """Merge ``results`` into bench/results.json: an entry of the same name is replaced where it
    stands (so a partial run changes only its own lines), new names are appended."""
    existing: list[dict[str, Any]] = []
    if RESULTS.exists():
        try:
            existing = json.loads(RESULTS.read_text())
        except (ValueError, TypeError):
            existing = []
    fresh = {r["name"]: r for r in results}
    merged = [fresh.pop(r.get("name"), r) for r in existing]
    merged += [r for r in results if r["name"] in fresh]
    RESULTS.write_text(json.dumps(merged, ensure_ascii=False, indent=2) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
