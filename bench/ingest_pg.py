"""``ingest_pg`` and ``reconnect_storm``.

``ingest_pg``: N concurrent simulated agents send signed, hash-chained event batches through
the HTTP device API (a real uvicorn process on loopback) into PostgreSQL.

Its baseline is a raw ``COPY`` of the same rows into an identical table (``CREATE TABLE …
(LIKE event INCLUDING ALL)``) in the same run, so ``ratio`` = API rate / COPY rate.

Every batch body is built and chained before the clock starts; the timed part is signing,
sending, and the service's work (authentication, validation, chain, insert, gaps, the
events' row in the outbound queue, commit). The agents are threads of this process; the
service is its own process. The fan-out of the queued events into their MQTT/webhook
deliveries is the worker's job, outside the request: it is timed after the run
(``outbound_expand_s``, ``expand_all`` in this process) and checked to make each message once.

``reconnect_storm``: see ``storm``.

Run alone: ``python -m bench.ingest_pg`` (``MYNAGATE_BENCH_AGENTS``, ``…_EVENTS``).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.db import Database
from api.models.base import utcnow
from api.outbound.deliver import expand_all
from api.settings import Settings
from gate.events import chain_hash
from gate.signing import canonical_json, public_key_b64, request_signing_string
from reader_agent.client import ServiceClient, format_time
from reader_agent.outbox import Outbox
from reader_agent.uploader import Uploader

AGENTS = int(os.environ.get("MYNAGATE_BENCH_AGENTS", "50"))
EVENTS = int(os.environ.get("MYNAGATE_BENCH_EVENTS", "1000"))  # per agent
BATCH = 500
PATH = "/device/v1/events"
COLUMNS = ["id", "device_id", "seq", "kind", "occurred_at", "device_clock_offset_ms",
           "received_at", "door_id", "data", "prev_hash", "hash"]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def seed_devices(url: str, n: int) -> list[tuple[uuid.UUID, Ed25519PrivateKey, int]]:
    """n active devices, each with its Ed25519 key and one bound door."""
    engine = create_engine(url)
    out = []
    with engine.begin() as conn:
        site = conn.execute(text("INSERT INTO site (code, name) VALUES ('ing', '庁舎') "
                                 "RETURNING id")).scalar_one()
        for i in range(n):
            key = Ed25519PrivateKey.generate()
            dev = uuid.uuid4()
            door = conn.execute(text(
                "INSERT INTO door (site_id, code, name, mode, assurance, lockdown, fail_open) "
                "VALUES (:s, :c, :n, 'access', 'card', false, false) RETURNING id"),
                {"s": site, "c": f"ing-{i}", "n": f"扉{i}"}).scalar_one()
            conn.execute(text(
                "INSERT INTO device (id, name, status, public_key, max_seq, contiguous_seq) "
                "VALUES (:id, :n, 'active', :k, 0, 0)"),
                {"id": dev, "n": f"ing-{i}", "k": public_key_b64(key.public_key())})
            conn.execute(text("INSERT INTO device_door (device_id, door_id) VALUES (:d, :o)"),
                         {"d": dev, "o": door})
            out.append((dev, key, door))
    engine.dispose()
    return out


def chained_events(n: int, door_id: int, start: datetime) -> list[dict[str, Any]]:
    """n door events chained like the agent's outbox makes them."""
    out: list[dict[str, Any]] = []
    prev: str | None = None
    for i in range(n):
        ev: dict[str, Any] = {
            "id": str(uuid.uuid4()), "seq": i + 1, "kind": "door_state",
            "occurred_at": _iso(start + timedelta(milliseconds=i)), "clock_offset_ms": 0,
            "door_id": door_id, "credential_ref": None, "staff_id": None, "granted": None,
            "reason": None, "data": {"state": "closed" if i % 2 else "open"},
            "prev_hash": prev}
        ev["hash"] = prev = chain_hash(ev)
        out.append(ev)
    return out


class ServiceProcess:
    """``uvicorn --factory api.app:serving_app`` (the app ``mynagate serve`` runs) on
    loopback, configured by environment."""

    def __init__(self, url: str, data_dir: Path, port: int, workers: int = 1) -> None:
        env = {**os.environ, "MYNAGATE_ENV": "development", "MYNAGATE_DATABASE_URL": url,
               "MYNAGATE_DATA_DIR": str(data_dir),
               "MYNAGATE_ADMIN_TOKEN": secrets.token_hex(24)}
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "api.app:serving_app",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
             "--workers", str(workers)], env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code < 500:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the service did not start")

    def profile(self, out: str) -> subprocess.Popen[bytes]:
        """py-spy on the service process until SIGINT (``MYNAGATE_BENCH_PROFILE``)."""
        return subprocess.Popen(["py-spy", "record", "--pid", str(self.proc.pid), "-o", out,
                                 "-f", "raw", "-r", "50", "--nonblocking"])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _post(http: httpx.Client, device: uuid.UUID, key: Ed25519PrivateKey,
          body: bytes) -> httpx.Response:
    ts = str(int(time.time()))
    nonce = secrets.token_hex(16)
    sig = key.sign(request_signing_string("POST", PATH, ts, nonce, body))
    return http.post(PATH, content=body, headers={
        "Content-Type": "application/json", "X-Mynagate-Device": str(device),
        "X-Mynagate-Timestamp": ts, "X-Mynagate-Nonce": nonce,
        "X-Mynagate-Signature": base64.b64encode(sig).decode()})


def _agent(base_url: str, device: uuid.UUID, key: Ed25519PrivateKey, bodies: list[bytes],
           go: threading.Event) -> dict[str, int]:
    """Send the batches in order; retry a batch on 429/503 after its Retry-After."""
    stats = {"accepted": 0, "retries": 0}
    with httpx.Client(base_url=base_url, timeout=120) as http:
        go.wait()
        for body in bodies:
            while True:
                resp = _post(http, device, key, body)
                if resp.status_code in (429, 503):
                    stats["retries"] += 1
                    time.sleep(float(resp.headers.get("Retry-After", "1")))
                    continue
                resp.raise_for_status()
                stats["accepted"] += int(resp.json()["accepted"])
                break
    return stats


def _copy_baseline(url: str, rows: list[tuple[Any, ...]], table: str = "event_copy") -> float:
    """Seconds to COPY the same rows into a copy of the event table (committed)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {table} (LIKE event INCLUDING ALL)"))
    with engine.begin() as conn:
        raw = conn.connection.dbapi_connection
        t = time.perf_counter()
        with raw.cursor() as cur, cur.copy(
                f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as cp:
            for r in rows:
                cp.write_row(r)
    elapsed = time.perf_counter() - t
    engine.dispose()
    return elapsed


def _expand_outbound(url: str, total: int) -> tuple[float, int]:
    """Seconds for the worker's step that turns the queued events into their deliveries (two
    per door event: its topic and the retained door state); checks each is made once."""
    db = Database(url)
    t = time.perf_counter()
    expanded = expand_all(db, now=utcnow())
    elapsed = time.perf_counter() - t
    with db.session() as s:
        made, distinct = s.execute(text(
            "SELECT count(*), count(DISTINCT message_id) FROM outbound_delivery")).one()
    db.dispose()
    if expanded != total or made != distinct or made != 2 * total:
        raise RuntimeError(f"outbound fan-out lost or doubled messages: {expanded} events, "
                           f"{made} deliveries ({distinct} distinct) for {total}")
    return elapsed, made


def _inflight() -> int:
    """The service's in-flight ingest bound in this run (its settings, from the environment)."""
    return int(os.environ.get("MYNAGATE_INGEST_MAX_INFLIGHT",
                              Settings.model_fields["ingest_max_inflight"].default))


def measure(url: str, port: int) -> dict[str, Any]:
    """Run the API ingest and its COPY baseline on the (migrated, empty) database ``url``."""
    devices = seed_devices(url, AGENTS)
    start = datetime.now(UTC) - timedelta(hours=1)
    plans = []
    copy_rows: list[tuple[Any, ...]] = []
    received = datetime.now(UTC)
    for dev, key, door in devices:
        events = chained_events(EVENTS, door, start)
        plans.append((dev, key, [canonical_json({"events": events[i:i + BATCH]})
                                 for i in range(0, len(events), BATCH)]))
        copy_rows += [(uuid.uuid4(), dev, e["seq"], e["kind"], e["occurred_at"], 0, received,
                       door, json.dumps(e["data"]), e["prev_hash"], e["hash"]) for e in events]
    total = AGENTS * EVENTS
    with tempfile.TemporaryDirectory() as data_dir:
        service = ServiceProcess(url, Path(data_dir), port)
        try:
            go = threading.Event()
            with ThreadPoolExecutor(AGENTS) as pool:
                futures = [pool.submit(_agent, service.url, dev, key, bodies, go)
                           for dev, key, bodies in plans]
                profile = os.environ.get("MYNAGATE_BENCH_PROFILE")
                spy = service.profile(profile) if profile else None
                time.sleep(0.5)  # every agent connected and waiting
                load = os.getloadavg()[0]
                cpu0, own0 = cpu_s(service.proc.pid), time.process_time()
                t = time.perf_counter()
                go.set()
                stats = [f.result() for f in futures]
                api_s = time.perf_counter() - t
                service_cpu = cpu_s(service.proc.pid) - cpu0
                agents_cpu = time.process_time() - own0
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(timeout=60)
        finally:
            service.stop()
    accepted = sum(s["accepted"] for s in stats)
    expand_s, deliveries = _expand_outbound(url, total)
    copy_s = _copy_baseline(url, copy_rows)
    engine = create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM event WHERE seq > 0")).scalar_one()
    engine.dispose()
    api_rate, copy_rate = total / api_s, total / copy_s
    _log(f"ingest_pg: {total} events from {AGENTS} agents in {api_s:.2f} s "
         f"({api_rate:.0f}/s; accepted {accepted}, stored {stored}, "
         f"retries {sum(s['retries'] for s in stats)}); COPY {copy_s:.2f} s "
         f"({copy_rate:.0f}/s); outbound fan-out after the run {expand_s:.2f} s "
         f"({deliveries} deliveries); CPU per event: service {1e3 * service_cpu / total:.4f} ms, "
         f"agents {1e3 * agents_cpu / total:.4f} ms; load {load:.2f}")
    if accepted != total or stored != total:
        raise RuntimeError(f"ingest_pg lost or doubled events: {accepted}/{stored}/{total}")
    return {"name": "ingest_pg", "value": round(api_rate), "unit": "events/s",
            "baseline": "raw COPY of the same rows into an identical table, same run",
            "baseline_value": round(copy_rate), "ratio": round(api_rate / copy_rate, 4),
            "target": ">= 0.25", "target_met": api_rate / copy_rate >= 0.25, "agents": AGENTS, "events": total, "batch": BATCH,
            "api_s": round(api_s, 2), "copy_s": round(copy_s, 3),
            "ingest_max_inflight": _inflight(),
            "outbound_expand_s": round(expand_s, 2), "outbound_deliveries": deliveries,
            "retries": sum(s["retries"] for s in stats), "cpus": os.cpu_count(),
            "service_cpu_ms_per_event": round(1e3 * service_cpu / total, 4),
            "agents_cpu_ms_per_event": round(1e3 * agents_cpu / total, 4),
            "loadavg_1m_before": round(load, 2)}


def storm(url: str, port: int, work: Path) -> dict[str, Any]:
    """``reconnect_storm``: AGENTS agents, each with EVENTS events in its outbox, start their
    real uploaders (10 s timeout) at once; the time until every outbox is drained, and a
    check that the service holds every event exactly once. Baseline: COPY of the same rows."""
    devices = seed_devices(url, AGENTS)
    uploaders = []
    stop = threading.Event()
    when = format_time(datetime.now(UTC) - timedelta(hours=1))
    for i, (dev, key, door) in enumerate(devices):
        outbox = Outbox(work / f"outbox-{i}.db")
        outbox.append_many([{"kind": "door_state", "occurred_at": when, "door_id": door,
                             "data": {"state": "closed"}} for _ in range(EVENTS)])
        client = ServiceClient(f"http://127.0.0.1:{port}", str(dev), key)
        uploaders.append(Uploader(client, outbox, stop, idle_s=0.5))
    rows = [(uuid.uuid4(), dev, e["seq"], e["kind"], e["occurred_at"], 0, datetime.now(UTC),
             door, json.dumps(e["data"]), e["prev_hash"], e["hash"])
            for (dev, _key, door), u in zip(devices, uploaders, strict=True)
            for e in u.outbox.all_events()]
    service = ServiceProcess(url, work, port)
    try:
        load = os.getloadavg()[0]
        t = time.perf_counter()
        for u in uploaders:
            u.start()
        while any(u.outbox.stats()["pending"] for u in uploaders):
            if time.perf_counter() - t > 900:
                raise RuntimeError("reconnect_storm did not drain in 900 s")
            time.sleep(0.2)
        drain_s = time.perf_counter() - t
        stop.set()
    finally:
        stop.set()
        service.stop()
    engine = create_engine(url)
    with engine.connect() as conn:
        stored, distinct = conn.execute(text(
            "SELECT count(*), count(DISTINCT (device_id, seq)) FROM event WHERE seq > 0")).one()
    engine.dispose()
    copy_s = _copy_baseline(url, rows, table="event_copy_storm")
    total = AGENTS * EVENTS
    _log(f"reconnect_storm: {total} events drained in {drain_s:.2f} s (stored {stored}, "
         f"distinct {distinct}, 429s {sum(u.refused for u in uploaders)}, timeouts "
         f"{sum(u.timeouts for u in uploaders)}); COPY {copy_s:.2f} s; load {load:.2f}")
    if stored != total or distinct != total:
        raise RuntimeError(f"reconnect_storm lost or doubled events: {stored}/{distinct}")
    return {"name": "reconnect_storm", "value": round(drain_s, 2), "unit": "s",
            "baseline": "raw COPY of the same rows into an identical table, same run",
            "baseline_value": round(copy_s, 3), "ratio": round(drain_s / copy_s, 2),
            "target": f"< 10 x COPY + 30 s = {10 * copy_s + 30:.1f} s",
            "target_met": drain_s < 10 * copy_s + 30, "agents": AGENTS, "events": total,
            "stored_exactly_once": True, "batches": sum(u.batches for u in uploaders),
            "refused_429": sum(u.refused for u in uploaders),
            "timeouts": sum(u.timeouts for u in uploaders), "cpus": os.cpu_count(),
            "loadavg_1m_before": round(load, 2)}


def run(server: str) -> list[dict[str, Any]]:
    """``ingest_pg`` and ``reconnect_storm``, each on a scratch database of ``server``."""
    return run_ingest(server) + run_storm(server)


def run_ingest(server: str) -> list[dict[str, Any]]:
    return [_scratch(server, lambda url: measure(url, free_port()))]


def run_storm(server: str) -> list[dict[str, Any]]:
    return [_scratch(server, _storm_in_tmp)]


def _storm_in_tmp(url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as work:
        return storm(url, free_port(), Path(work))


def _scratch(server: str, fn: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """Run ``fn`` on a scratch database of ``server`` (created, migrated, dropped)."""
    from api.migrate import upgrade

    scratch = f"mng_bench_ingest_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{scratch}"'))
    url = make_url(server).set(database=scratch).render_as_string(hide_password=False)
    try:
        upgrade(url)
        return fn(url)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    from bench.run import DEFAULT_URL, save

    save(run(os.environ.get("MYNAGATE_BENCH_DATABASE_URL", DEFAULT_URL)))
