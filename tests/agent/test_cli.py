"""``mynagate agent``: enroll, run and status as real processes against the real service;
signed config bundles accepted, tampered ones refused with the last good one kept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from firmware_config.bundle import bundle_payload, load_private_key
from firmware_config.models import SiteConfig
from gate.signing import public_key_b64, sign_document
from tests.clock import python

from .town import confirm_device, device_token, seed_town

ROOT = Path(__file__).resolve().parents[2]
CLI = ("-c", "from mynagate_cli import main; main()")


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(python(*CLI, *args), capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def start(*args: str, out: Path) -> subprocess.Popen[bytes]:
    with out.open("wb") as f:
        return subprocess.Popen(python(*CLI, *args), stdout=f, stderr=subprocess.STDOUT, cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})


def wait_for(pred, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def make_bundle(settings, live_url: str, door_id: int, path: Path, now: datetime,  # type: ignore[no-untyped-def]
                version: int = 1) -> None:
    key = load_private_key(settings.signing_key_file)
    site = SiteConfig.model_validate({
        "municipality_code": "373222", "name": "土庄町", "config_version": version,
        "service_url": live_url, "trust": {"service_public_key": public_key_b64(key.public_key())},
        "offline": {"max_offline_age_hours": 48},
        "readers": [{"name": "shoko-reader", "driver": "sim:shoko-cli",
                     "doors": [{"door_id": door_id, "name": "書庫", "unlock_seconds": 4}]}]})
    doc = sign_document(bundle_payload(site, site.reader_config("shoko-reader"),
                                       issued_at=now), key)
    path.write_text(json.dumps(doc, ensure_ascii=False))


@pytest.mark.slow
def test_enroll_run_status_and_bundles(live_server, admin, database, settings, tmp_path: Path,
                                       now: datetime):  # type: ignore[no-untyped-def]
    town = seed_town(database)
    data = tmp_path / "agent"
    bad = cli("agent", "enroll", "--service", live_server.url, "--token", "x" * 32,
              "--data-dir", str(data))
    assert bad.returncode == 1 and "enrollment failed" in bad.stderr
    token = device_token(admin, [town.door_id])
    r = cli("agent", "enroll", "--service", live_server.url, "--token", token,
            "--data-dir", str(data))
    assert r.returncode == 0, r.stderr
    assert "enrolled: device" in r.stdout
    device_id = json.loads((data / "identity.json").read_text())["device_id"]
    assert admin.get(f"/admin/devices/{device_id}").json()["status"] == "pending"
    confirm_device(admin, device_id)  # as the admin does on the console's devices page

    # Flags only: the agent syncs its snapshot, heartbeats, and stops cleanly on SIGTERM.
    out = tmp_path / "run1.out"
    proc = start("agent", "run", "--data-dir", str(data), "--reader", "sim:cli",
                 "--door", str(town.door_id), "--heartbeat-s", "1", out=out)
    try:
        wait_for(lambda: "agent.run.started" in out.read_text())
        wait_for(lambda: (data / "snapshot.json").exists())
        wait_for(lambda: admin.get(f"/admin/devices/{device_id}").json()["last_heartbeat_at"])
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, out.read_text()
    st = cli("agent", "status", "--data-dir", str(data))
    assert st.returncode == 0 and "snapshot: version" in st.stdout, st.stdout

    # A tampered bundle with nothing installed yet: refused, the agent does not start.
    bundle = tmp_path / "shoko-reader.bundle.json"
    make_bundle(settings, live_server.url, town.door_id, bundle, now)
    tampered = tmp_path / "tampered.bundle.json"
    doc = json.loads(bundle.read_text())
    doc["payload"]["config"]["offline"]["max_offline_age_hours"] = 700
    tampered.write_text(json.dumps(doc))
    r = cli("agent", "run", "--data-dir", str(data), "--bundle", str(tampered))
    assert r.returncode == 2
    assert "config bundle refused" in r.stderr and "signature" in r.stderr

    # The signed bundle is accepted and installed.
    out = tmp_path / "run2.out"
    proc = start("agent", "run", "--data-dir", str(data), "--bundle", str(bundle), out=out)
    try:
        wait_for(lambda: "agent.run.started" in out.read_text())
        assert "設定バンドル version 1" in out.read_text()
        assert (data / "config.bundle.json").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, out.read_text()

    # Now a tampered bundle is refused and the last good one stays in force.
    out = tmp_path / "run3.out"
    proc = start("agent", "run", "--data-dir", str(data), "--bundle", str(tampered), out=out)
    try:
        wait_for(lambda: "agent.run.started" in out.read_text())
        assert "keeping the last good bundle" in out.read_text()
        assert "設定バンドル version 1" in out.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, out.read_text()
