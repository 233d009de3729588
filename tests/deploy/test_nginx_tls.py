"""docs/deploy-service.md, run: Debian's nginx with TLS (docs/nginx/mynagate.conf) in front of
two ``mynagate serve`` processes (one of them with ``--workers 2``) in production mode on a
scratch PostgreSQL database. An agent enrolls with ``--ca`` and taps through HTTPS; the admin
API answers through it."""

from __future__ import annotations

import re
import secrets
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from api.db import Database
from api.limits import KIB, MIB, limit_for
from reader_agent.agent import AgentConfig, ReaderAgent
from reader_agent.client import tls_verify
from tests.agent.sim_cards import Presenter, new_card
from tests.agent.town import add_credential, confirm_device, seed_town, stored_events
from tests.conftest import free_port
from tests.identities import make_token

from .conftest import cli, serve, stop
from .nginx import Nginx, nginx_body_limit, port_closed, wait_port
from .tls import TlsFiles, make_tls

pytestmark = [
    pytest.mark.deploy,
    pytest.mark.real_clock(reason="nginx and OpenSSL check the certificate against the real "
                                  "clock, which a moved Python clock does not move"),
]
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stack:
    root: Path
    url: str
    admin: httpx.Client
    tls: TlsFiles
    nginx: Nginx
    data_dir: Path
    serve_logs: list[Path]
    upstreams: list[int]


@pytest.fixture
def stack(scratch_database: str, now: datetime) -> Iterator[Stack]:
    root = Path(tempfile.mkdtemp(prefix="mynagate-deploy-"))
    data_dir = root / "var-lib-mynagate"
    data_dir.mkdir(mode=0o700)
    env = {"MYNAGATE_ENV": "production", "MYNAGATE_DATABASE_URL": scratch_database,
           "MYNAGATE_DATA_DIR": str(data_dir),
           "MYNAGATE_BOOKING_WEBHOOK_SECRET": secrets.token_urlsafe(32)}
    tls = make_tls(root, now)
    ports = [free_port(), free_port()]
    procs: list[subprocess.Popen[bytes]] = []
    nginx: Nginx | None = None
    logs = [root / "serve-a.log", root / "serve-b.log"]
    try:
        # The first migrates and makes the keys; the second finds them.
        procs.append(serve(env, logs[0], "--port", str(ports[0]), "--workers", "2"))
        wait_port(ports[0], procs[0], "mynagate serve --workers 2")
        db = Database(scratch_database)  # migrated by the first serve: an admin's API token
        try:
            token = make_token(db, "deploy-admin", "admin")
        finally:
            db.dispose()
        procs.append(serve(env, logs[1], "--port", str(ports[1]), "--no-migrate"))
        wait_port(ports[1], procs[1], "mynagate serve")
        (root / "nginx").mkdir()
        nginx = Nginx.start(root / "nginx", ports, free_port(), free_port(), tls)
        url = f"https://localhost:{nginx.https_port}"
        with httpx.Client(base_url=url, verify=tls_verify(tls.ca), timeout=30,
                          headers={"Authorization": f"Bearer {token}"}) as admin:
            yield Stack(root, url, admin, tls, nginx, data_dir, logs, ports)
    finally:
        for proc in procs:
            stop(proc)
        if nginx is not None:
            nginx.stop()
        shutil.rmtree(root)
    assert nginx.proc.returncode is not None and port_closed(nginx.https_port)
    assert all(port_closed(p) for p in ports) and not root.exists()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_an_agent_enrolls_and_taps_through_nginx_tls(stack: Stack, scratch_database: str,
                                                      tmp_path: Path) -> None:
    # Without the town's CA the certificate is refused: TLS is verified, not just spoken.
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(stack.url + "/healthz", timeout=10)
    assert stack.admin.get("/healthz").status_code == 200

    # Keys made by serve in the 0700 data dir are 0600.
    assert mode(stack.data_dir) == 0o700
    assert mode(stack.data_dir / "service-signing-key.pem") == 0o600
    assert mode(stack.data_dir / "pin-wrap.key") == 0o600

    db = Database(scratch_database)
    try:
        town = seed_town(db)
        card = new_card()
        add_credential(db, town.staff_id, card.credential_ref, card.public_key)
        created = stack.admin.post("/admin/devices", json={"name": "shoko-1",
                                                           "door_ids": [town.door_id]})
        assert created.status_code == 201, created.text

        agent_dir = tmp_path / "agent"
        enrolled = cli({}, "agent", "enroll", "--service", stack.url, "--token",
                       created.json()["enrollment_token"], "--data-dir", str(agent_dir),
                       "--ca", str(stack.tls.ca))
        assert enrolled.returncode == 0, enrolled.stderr
        assert (agent_dir / "service-ca.pem").read_bytes() == stack.tls.ca.read_bytes()
        confirm_device(stack.admin, created.json()["id"])

        agent = ReaderAgent(agent_dir, AgentConfig("sim:deploy", town.door_id), wait_s=2)
        try:
            agent.heartbeat.run_once()
            agent.watcher.sync()
            assert agent.cache.current is not None
            # A long-poll wait passes through nginx unbuffered and returns when it times out.
            version = agent.cache.current.version
            t0 = time.monotonic()
            assert agent.client.snapshot_wait(version, timeout=2) == version
            assert time.monotonic() - t0 >= 1.5
            out = agent.tap(Presenter(card, "deploy"))
            assert out.granted, out.reason
            while agent.outbox.stats()["pending"]:
                agent.uploader.run_once()
        finally:
            agent.close()
        device_id = agent.identity.device_id
        rows = [r for r in stored_events(db, device_id) if r.seq > 0]
        assert [r.reason for r in rows] == ["granted"]
    finally:
        db.dispose()

    dev = stack.admin.get(f"/admin/devices/{device_id}")
    assert dev.status_code == 200 and dev.json()["contiguous_seq"] == 1
    assert dev.json()["last_heartbeat_at"] is not None


def test_body_limits_and_both_service_processes(stack: Stack) -> None:
    # Past a route's limit nginx answers 413 problem details itself, never a 502.
    big = stack.admin.post("/device/v1/events", content=b"x" * (5 * MIB),
                           headers={"Content-Type": "application/json"})
    assert big.status_code == 413, big.text[:300]
    assert big.headers["content-type"].startswith("application/problem+json")
    assert big.json()["status"] == 413
    # Within it the body reaches the service, which refuses the unsigned batch.
    fits = stack.admin.post("/device/v1/events", content=b"x" * (3 * MIB),
                            headers={"Content-Type": "application/json"})
    assert fits.status_code == 401, fits.text[:300]
    # Over a small route's limit but under nginx's 256 KiB: the service's own 413, every time
    # (refusing it unread used to reset the upstream connection, and nginx sometimes answered 502).
    for _ in range(20):
        small = stack.admin.post("/device/v1/heartbeat", content=b"x" * (200 * KIB),
                                 headers={"Content-Type": "application/json"})
        assert small.status_code == 413, small.text[:300]
        assert small.json()["max_bytes"] == 4 * KIB

    for _ in range(8):
        assert stack.admin.get("/healthz").status_code == 200
    assert stack.nginx.upstreams_used() >= {f"127.0.0.1:{p}" for p in stack.upstreams}
    # serve --workers 2 really runs two worker processes.
    started = re.findall(rb"Started server process \[(\d+)\]", stack.serve_logs[0].read_bytes())
    assert len(set(started)) == 2, stack.serve_logs[0].read_text()[-2000:]


@pytest.mark.parametrize("path", [
    "/device/v1/events", "/device/v1/heartbeat", "/api/v1/locks/k1/poll",
    "/api/v1/locks/k1/sync", "/api/v1/bookings/webhook", "/api/v1/bookings/import",
    "/admin/overtime/orders/import", "/admin/enrollments/3", "/admin/staff"])
def test_nginx_body_limits_follow_api_limits(path: str) -> None:
    """nginx takes every body the route allows, and past 256 KiB nothing more."""
    allowed = limit_for(path).max_bytes
    assert allowed <= nginx_body_limit(path) <= max(allowed, 256 * KIB)
