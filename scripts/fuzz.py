"""Schemathesis against a live ``mynagate serve`` on PostgreSQL (issue 9; CI step ``schemathesis``).

A fresh database on the PostgreSQL server (``--server``, trust auth), ``mynagate db upgrade``,
``mynagate users create-admin``, the demo town seeded so ids and foreign keys resolve, an API
token for the admin, ``mynagate serve`` (production mode, random secrets, two workers) on a free
loopback port, a reader enrolled through the device API, then ``schemathesis run`` on every
operation of /openapi.json with the admin token and the device signer (scripts/fuzz_hooks.py).

Exit status is schemathesis' own: non-zero on any server error, any error answer that is not
problem details, or any request that failed (timeout, dropped connection). The last line printed
is the summary ``scripts/run-tests.sh`` keeps. Usage:

    .venv/bin/python scripts/fuzz.py [--max-examples N] [--workers N] [--seed N]
        [-- --include-path-regex '^/api/v1/bookings' ...]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ADMIN = "fuzz-admin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _database(server: str, name: str) -> Any:
    """A fresh database on ``server`` (a libpq URL of its maintenance db), dropped after."""
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                         .format(sql.Identifier(name)))


def _cli(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(BIN / "mynagate"), *args], env=env, check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)


def _seed(url: str) -> dict[str, Any]:
    """The demo town, an admin API token and a 課長's one (for /me/*):
    {door_ids, token, staff_token, user_ids, token_ids} (the ids comma-separated)."""
    from api.db import Database
    from api.models import DepartmentSupervisor
    from api.seed import seed_demo_town
    from api.users import repository, service
    from api.users.roles import Role

    db = Database(url)
    try:
        with db.session() as s:
            ids = seed_demo_town(s)
            user = repository.user_by_name(s, ADMIN)
            assert user is not None, "create-admin made no user"
            now = datetime.now(UTC)
            row, token = service.create_token(s, name="fuzz", role=Role.ADMIN, user_id=user.id,
                                              actor="fuzz", now=now)
            head = ids["staff"]["1001"]  # 総務課長 of the demo town
            s.add(DepartmentSupervisor(department_id=ids["departments"]["somu"], staff_id=head,
                                       effective_from=date(2000, 4, 1)))
            boss = service.create_user(s, username="fuzz-kacho", role=Role.SUPERVISOR,
                                       actor="fuzz", now=now, generate_password=True,
                                       staff_id=head)
            staff_row, staff_token = service.create_token(s, name="fuzz-kacho", role=Role.SUPERVISOR,
                                                     user_id=boss.user.id, actor="fuzz", now=now)
            s.commit()
            return {"door_ids": list(ids["doors"].values()), "token": token,
                    "staff_token": staff_token, "user_ids": f"{user.id},{boss.user.id}",
                    "token_ids": f"{row.id},{staff_row.id}"}
    finally:
        db.dispose()


def _wait_up(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"mynagate serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("mynagate serve did not answer /healthz")


def _enroll(base: str, token: str, door_ids: list[int], agent_dir: Path) -> None:
    from reader_agent.agent import enroll_agent

    resp = httpx.post(f"{base}/admin/devices", headers={"Authorization": f"Bearer {token}"},
                      json={"name": "fuzz-reader", "door_ids": door_ids[:2]}, timeout=10)
    resp.raise_for_status()
    enroll_agent(agent_dir, base, resp.json()["enrollment_token"])
    httpx.post(f"{base}/admin/devices/{resp.json()['id']}/confirm",
               headers={"Authorization": f"Bearer {token}"}, timeout=10).raise_for_status()


def _served(serve_log: Path) -> tuple[int, int]:
    """(requests answered, of which 5xx) from the service's own access log."""
    sent = errors = 0
    for line in serve_log.read_text(errors="replace").splitlines():
        if '"http.request"' not in line:
            continue
        try:
            status = int(json.loads(line).get("status", 0))
        except (ValueError, TypeError):
            continue
        sent += 1
        errors += status >= 500
    return sent, errors


def _schemathesis(base: str, token: str, env: dict[str, str], args: argparse.Namespace,
                  report: Path) -> int:
    cmd = [str(BIN / "schemathesis"), "run", f"{base}/openapi.json",
           "--checks", "not_a_server_error,problem_details_on_error",
           "--header", f"Authorization: Bearer {token}",
           "--max-examples", str(args.max_examples), "--workers", str(args.workers),
           "--request-timeout", "20", "--phases", "examples,coverage,fuzzing",
           "--report", "json", "--report-dir", str(report), "--no-color"]
    if args.seed is not None:
        cmd += ["--seed", str(args.seed)]
    cmd += args.schemathesis_args
    # Its cwd is the scratch dir: schemathesis keeps a .schemathesis/ cache in the cwd.
    return subprocess.run(cmd, env=env, cwd=report.parent).returncode


def run(args: argparse.Namespace, work: Path) -> int:
    started = time.monotonic()
    name = f"mynagate_fuzz_{os.getpid()}"
    url = f"postgresql+psycopg://postgres@{args.host}:{args.port}/{name}"
    env = {**os.environ, "MYNAGATE_ENV": "production", "MYNAGATE_DATABASE_URL": url,
           "MYNAGATE_DATA_DIR": str(work / "data"),
           "MYNAGATE_BOOKING_WEBHOOK_SECRET": secrets.token_hex(24),
           "MYNAGATE_ADMIN_PASSWORD": secrets.token_urlsafe(18),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "scripts"), str(ROOT)])}
    with _database(f"postgresql://postgres@{args.host}:{args.port}/postgres", name):
        _cli(env, "db", "upgrade")
        _cli(env, "users", "create-admin", "--username", ADMIN)
        seeded = _seed(url)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        log = (work / "serve.log").open("wb")
        serve = subprocess.Popen([str(BIN / "mynagate"), "serve", "--host", "127.0.0.1",
                                  "--port", str(port), "--workers", str(args.serve_workers),
                                  "--no-migrate"], env=env, cwd=ROOT, stdout=log,
                                 stderr=subprocess.STDOUT)
        try:
            _wait_up(base, serve)
            _enroll(base, seeded["token"], seeded["door_ids"], work / "agent")
            env |= {"SCHEMATHESIS_HOOKS": "fuzz_hooks",
                    "MYNAGATE_FUZZ_AGENT_DIR": str(work / "agent"),
                    "MYNAGATE_FUZZ_STAFF_TOKEN": seeded["staff_token"],
                    "MYNAGATE_FUZZ_USER_IDS": seeded["user_ids"],
                    "MYNAGATE_FUZZ_TOKEN_IDS": seeded["token_ids"]}
            rc = _schemathesis(base, seeded["token"], env, args, work / "report")
        finally:
            serve.terminate()
            serve.wait(timeout=30)
            log.close()
    _report(work, rc, time.monotonic() - started)
    return rc


def _report(work: Path, rc: int, wall_s: float) -> None:
    """Prints the service's tracebacks, then the one summary line run-tests.sh keeps."""
    log = (work / "serve.log").read_text(errors="replace").splitlines()
    for line in [x for x in log if '"api.errors"' in x and "unhandled" in x][:40]:
        print(f"serve: {line[:400]}")
    sent, server_errors = _served(work / "serve.log")
    reports = sorted((work / "report").glob("*.json"))
    doc: dict[str, Any] = json.loads(reports[-1].read_text()) if reports else {}
    found = [f"{f['title']} ×{f['count']}" for f in doc.get("failures", [])]
    found += [f"{e['title']} ×{e['count']}" for e in doc.get("errors", [])]
    cases = doc.get("test_cases", {}).get("generated", 0)
    print(f"schemathesis: {cases} cases, {sent} requests served, {server_errors} answered 5xx, "
          f"failures: {', '.join(found) or 'none'} (exit {rc}, wall {wall_s:.0f} s)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5432)
    p.add_argument("--max-examples", type=int, default=20)
    p.add_argument("--workers", type=int, default=2, help="schemathesis workers")
    p.add_argument("--serve-workers", type=int, default=2, help="uvicorn workers")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--keep", type=Path, default=None, help="keep logs and reports here")
    p.add_argument("schemathesis_args", nargs="*",
                   help="more `schemathesis run` options, after --")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mynagate-fuzz-"))
    try:
        return run(args, work)
    finally:
        if args.keep is not None:
            shutil.copytree(work, args.keep, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
