"""``revocation_fanout``: time from a credential revocation until 50 connected agents hold the
snapshot version that carries it.

Setup (not timed): a scratch PostgreSQL database with 20,000 staff, each with an active staff
card credential; 200 doors, every door open to an all-staff group and to 25 of 200 smaller
groups, so every device's snapshot holds all 20,000 staff; 50 devices with 4 doors each. Two
API processes (uvicorn, one worker each) serve the same database; agents 0, 2, 4, … talk to
the first, 1, 3, 5, … to the second. Each agent is the real ``SnapshotWatcher`` (long-poll
``/snapshot/wait``, then a delta fetch, signature check and apply) with its own
``SnapshotCache``; the 50 run as threads of this process. Each agent's first, full snapshot is
fetched one agent at a time before the clock starts.

Timed: the bench process revokes one credential (``api.credentials.service.change_status``,
as the console does; its commit sends ``pg_notify``); both API processes hear it through
LISTEN/NOTIFY and wake their waiting agents, which fetch and apply their delta. The value is
the time until the last of the 50 caches holds the new version.

Baseline, same run: the LISTEN/NOTIFY round trip on the same server (median of 20) plus one
plain read of the 20,000 staff and credential rows — the least any fan-out must do: hear the
change and read the rows once.

Run alone: ``python -m bench.run --only revocation_fanout``. With
``MYNAGATE_BENCH_PROFILE=path``, py-spy samples both API processes during the timed part
(``path.api0``, ``path.api1``, raw folded stacks).
"""

from __future__ import annotations

import base64
import gzip
import logging
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.credentials.service import change_status
from api.db import Database
from api.keys import load_or_create_signing_key
from api.models.base import utcnow
from api.snapshot.service import build_signed
from bench.ingest_pg import ServiceProcess, _scratch, free_port
from gate.signing import canonical_json, public_key_b64
from reader_agent.card_auth import KIND_STAFF_AP
from reader_agent.client import ServiceClient
from reader_agent.snapshot_cache import SnapshotCache
from reader_agent.uploader import SnapshotWatcher

STAFF = int(os.environ.get("MYNAGATE_BENCH_STAFF", "20000"))
AGENTS, DOORS, GROUPS, DOORS_PER_DEVICE = 50, 200, 200, 4
LIMIT_S = 300.0
PLACEHOLDER_KEY = base64.b64encode(b"\x04" + bytes(64)).decode()  # never verified here


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _copy(conn: Any, table: str, columns: list[str], rows: Any) -> None:
    raw = conn.connection.dbapi_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        for r in rows:
            cp.write_row(r)


def seed(url: str, rng: random.Random) -> list[tuple[uuid.UUID, Ed25519PrivateKey]]:
    """The town described in the module docstring; returns the devices and their keys."""
    engine = create_engine(url)
    devices = []
    with engine.begin() as conn:
        site = conn.execute(text("INSERT INTO site (code, name) VALUES ('fan', '庁舎') "
                                 "RETURNING id")).scalar_one()
        dept = conn.execute(text("INSERT INTO department (code, name, overtime_class) VALUES "
                                 "('D00', '総務課', 'ordinary') RETURNING id")).scalar_one()
        _copy(conn, "staff", ["id", "staff_number", "name", "name_kana", "department_id",
                              "employment_type", "work_pattern", "active_from"],
              ((i, f"S{i:06d}", f"職員 {i}", f"ショクイン {i}", dept, "regular", "standard",
                "2020-04-01") for i in range(1, STAFF + 1)))
        _copy(conn, "credential", ["staff_id", "kind", "credential_ref", "public_key", "status",
                                   "snapshot_version"],
              ((i, KIND_STAFF_AP, f"{i:032x}", PLACEHOLDER_KEY, "active", 0)
               for i in range(1, STAFF + 1)))
        _copy(conn, "access_group", ["id", "name"],
              ((g, f"班{g}") for g in range(1, GROUPS + 2)))  # GROUPS + 1: all staff
        _copy(conn, "access_group_member", ["group_id", "staff_id"],
              ((g, i) for i in range(1, STAFF + 1)
               for g in [GROUPS + 1, *rng.sample(range(1, GROUPS + 1), rng.randint(1, 3))]))
        sched = conn.execute(text("INSERT INTO schedule (name, allow_closed_days) VALUES "
                                  "('終日', true) RETURNING id")).scalar_one()
        for w in range(7):
            conn.execute(text("INSERT INTO schedule_window (schedule_id, weekday, start_minute, "
                              "end_minute) VALUES (:s, :w, 0, 1440)"), {"s": sched, "w": w})
        doors = [conn.execute(text(
            "INSERT INTO door (site_id, code, name, mode, assurance, lockdown, fail_open) "
            "VALUES (:s, :c, :n, 'access', 'card', false, false) RETURNING id"),
            {"s": site, "c": f"fan-{d}", "n": f"扉{d}"}).scalar_one() for d in range(DOORS)]
        _copy(conn, "permission", ["group_id", "door_id", "schedule_id"],
              ((g, d, sched) for d in doors
               for g in [GROUPS + 1, *rng.sample(range(1, GROUPS + 1), 25)]))
        conn.execute(text("SELECT setval(pg_get_serial_sequence('staff', 'id'), :n)"),
                     {"n": STAFF})
        conn.execute(text("SELECT setval(pg_get_serial_sequence('access_group', 'id'), :n)"),
                     {"n": GROUPS + 1})
        for i in range(AGENTS):
            key = Ed25519PrivateKey.generate()
            dev = uuid.uuid4()
            conn.execute(text(
                "INSERT INTO device (id, name, status, public_key, max_seq, contiguous_seq) "
                "VALUES (:id, :n, 'active', :k, 0, 0)"),
                {"id": dev, "n": f"fan-{i}", "k": public_key_b64(key.public_key())})
            for d in doors[i * DOORS_PER_DEVICE:(i + 1) * DOORS_PER_DEVICE]:
                conn.execute(text("INSERT INTO device_door (device_id, door_id) "
                                  "VALUES (:d, :o)"), {"d": dev, "o": d})
            devices.append((dev, key))
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return devices


class CountingWatcher(SnapshotWatcher):
    """The agent's SnapshotWatcher, counting the rounds that failed (timeouts, 5xx, 429)."""

    errors = 0

    def run_once(self) -> float:
        try:
            return super().run_once()
        except Exception:
            self.errors += 1
            raise


class TimedClient(ServiceClient):
    """The agent's client, noting when the last snapshot document arrived (the service's part
    of the fan-out ends there; the agent's apply follows)."""

    answered = 0.0

    def snapshot(self, since: int | None = None) -> dict[str, Any]:
        doc = super().snapshot(since)
        self.answered = time.perf_counter()
        return doc


def notify_round_trip(url: str, n: int = 20) -> float:
    """Median seconds from a committed ``pg_notify`` on one connection to its arrival on a
    LISTENing one."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    times = []
    with psycopg.connect(dsn, autocommit=True) as listener, \
            psycopg.connect(dsn, autocommit=True) as sender:
        listener.execute("LISTEN mynagate_bench")
        for i in range(n):
            t = time.perf_counter()
            sender.execute("SELECT pg_notify('mynagate_bench', %s)", (str(i),))
            next(iter(listener.notifies(timeout=10, stop_after=1)))
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def plain_read(url: str) -> float:
    """Seconds to read the 20,000 staff rows with their credentials once."""
    engine = create_engine(url)
    with engine.connect() as conn:
        t = time.perf_counter()
        conn.execute(text("SELECT s.id, s.name, s.active_from, s.active_until, c.credential_ref,"
                          " c.kind, c.status, c.public_key, c.not_after FROM staff s JOIN "
                          "credential c ON c.staff_id = s.id ORDER BY s.id")).all()
        elapsed = time.perf_counter() - t
    engine.dispose()
    return elapsed


def _revoke(db: Database, staff_id: int) -> int:
    """Revoke one staff member's card as the console does; returns the new snapshot version."""
    with db.session() as s:
        cred_id = s.execute(text("SELECT id FROM credential WHERE staff_id = :s"),
                            {"s": staff_id}).scalar_one()
        cred = change_status(s, cred_id, "revoke", reason="紛失届", actor="bench")
        version = cred.snapshot_version
        s.commit()
    return version


def _connect(work: Path, services: list[ServiceProcess],
             devices: list[tuple[uuid.UUID, Ed25519PrivateKey]]) -> list[CountingWatcher]:
    """One cache and watcher per device, alternating between the API processes; each first
    snapshot fetched and applied in turn (a generous timeout: this part is not timed)."""
    service_key = load_or_create_signing_key(work / "service-signing-key.pem").public_key()
    stop = threading.Event()
    watchers = []
    for i, (dev, key) in enumerate(devices):
        base = services[i % len(services)].url
        cache = SnapshotCache(work / f"agent-{i}" / "snapshot.json", service_key, str(dev))
        cache.path.parent.mkdir()
        cache.apply(ServiceClient(base, str(dev), key, timeout=300).snapshot(None))
        watchers.append(CountingWatcher(TimedClient(base, str(dev), key), cache, stop,
                                        wait_s=30.0))
    return watchers


def measure(url: str, work: Path) -> dict[str, Any]:
    t = time.perf_counter()
    devices = seed(url, random.Random(20261129))
    _log(f"revocation_fanout: seeded {STAFF} staff, {AGENTS} devices in "
         f"{time.perf_counter() - t:.1f} s")
    load_or_create_signing_key(work / "service-signing-key.pem")  # both processes share it
    services = [ServiceProcess(url, work, free_port()) for _ in range(2)]
    try:
        t = time.perf_counter()
        watchers = _connect(work, services, devices)
        _log(f"revocation_fanout: {AGENTS} agents hold version {watchers[0].cache.version} "
             f"(cold start one at a time: {time.perf_counter() - t:.1f} s)")
        for w in watchers:
            w.start()
        time.sleep(3.0)  # every watcher is inside its long-poll
        notify_s, read_s = notify_round_trip(url), plain_read(url)
        profile = os.environ.get("MYNAGATE_BENCH_PROFILE")  # py-spy, one file per process
        spies = [s.profile(f"{profile}.api{i}") for i, s in enumerate(services)] \
            if profile else []
        load = os.getloadavg()[0]
        # Connected before the clock starts, as the console's service is; the revoking
        # transaction itself is timed.
        revoker = Database(url)
        with revoker.session() as s:
            s.execute(text("SELECT 1"))
        t0 = time.perf_counter()
        version = _revoke(revoker, 1)
        revoker.dispose()
        reached: dict[int, float] = {}
        while len(reached) < AGENTS and time.perf_counter() - t0 < LIMIT_S:
            for i, w in enumerate(watchers):
                if i not in reached and (w.cache.version or 0) >= version:
                    reached[i] = time.perf_counter() - t0
            time.sleep(0.005)
        # Counted now: stopping the services below fails every watcher's pending long-poll.
        errors = sum(w.errors for w in watchers)
        for spy in spies:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        answers = sorted(a - t0 for w in watchers
                         if (a := getattr(w.client, "answered", 0.0)) > t0)
        watchers[0].stop.set()
        served = served_delta(watchers[0].client, version - 1)
    finally:
        for s in services:
            s.stop()
    entry = _entry(sorted(reached.values()), notify_s, read_s, load, errors, version)
    entry.update(first_answer_s=round(answers[0], 3) if answers else None,
                 last_answer_s=round(answers[-1], 3) if answers else None)
    entry.update(served)
    entry.update(delta_size(url, devices[0][0], version - 1))
    return entry


def served_delta(client: ServiceClient, since: int) -> dict[str, Any]:
    """The compact delta an agent gets for the revocation, fetched again from its API process
    after the run: its size, raw and gzipped, and the time of the request."""
    t = time.perf_counter()
    doc = client.snapshot(since)
    fetch_s = time.perf_counter() - t
    body = canonical_json(doc)
    payload = doc["payload"]
    return {"delta_compact": bool(payload.get("compact")), "delta_bytes": len(body),
            "delta_gzip_bytes": len(gzip.compress(body)),
            "delta_staff_rows": len(payload.get("staff", [])),
            "delta_credentials": len(payload.get("credentials", [])),
            "delta_fetch_s": round(fetch_s, 4)}


def delta_size(url: str, device: uuid.UUID, since: int) -> dict[str, Any]:
    """For comparison, the per-request (not compact) delta an agent that does not ask for
    ``compact`` gets for the revocation: its size, raw and gzipped, and the time to build it in
    process (after the run, on a quiet service)."""
    db = Database(url)
    with db.session() as s:
        t = time.perf_counter()
        doc = build_signed(s, device_id=device, since=since, now=utcnow(),
                           tz=ZoneInfo("Asia/Tokyo"), signing_key=Ed25519PrivateKey.generate())
        build_s = time.perf_counter() - t
    db.dispose()
    body = canonical_json(doc)
    return {"per_request_delta_bytes": len(body),
            "per_request_delta_gzip_bytes": len(gzip.compress(body)),
            "per_request_delta_build_s": round(build_s, 3)}


def _entry(times: list[float], notify_s: float, read_s: float, load: float, errors: int,
           version: int) -> dict[str, Any]:
    base = notify_s + read_s
    reached_all = len(times) == AGENTS
    value = times[-1] if reached_all else LIMIT_S  # not all within the limit: a lower bound
    _log(f"revocation_fanout: {len(times)}/{AGENTS} agents hold version {version}; first "
         f"{times[0] if times else None}, last {value:.2f} s; {errors} failed rounds; "
         f"NOTIFY round trip {notify_s * 1000:.1f} ms, plain read {read_s * 1000:.0f} ms; "
         f"load {load:.2f}")
    return {"name": "revocation_fanout", "value": round(value, 3), "unit": "s",
            "baseline": "LISTEN/NOTIFY round trip + one plain read of the 20,000 staff and "
                        "credential rows, same run",
            "baseline_value": round(base, 4), "ratio": round(value / base, 1),
            "target": "< 1 s", "target_met": reached_all and value < 1.0,
            "agents": AGENTS, "agents_reached": len(times), "reached_all": reached_all,
            "limit_s": LIMIT_S, "api_processes": 2,
            "staff": STAFF, "doors_per_device": DOORS_PER_DEVICE,
            "first_agent_s": round(times[0], 3) if times else None,
            "median_agent_s": round(statistics.median(times), 3) if times else None,
            "failed_rounds": errors, "notify_round_trip_ms": round(notify_s * 1000, 2),
            "plain_read_ms": round(read_s * 1000, 1), "cpus": os.cpu_count(),
            "loadavg_1m_before": round(load, 2)}


def run(server: str) -> list[dict[str, Any]]:
    logging.getLogger("reader_agent").setLevel(logging.ERROR)  # a failed round is counted

    def in_tmp(url: str) -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as work:
            return measure(url, Path(work))

    return [_scratch(server, in_tmp)]
