"""``pip install 'mynagate[agent]'``: a fresh venv gets the reader agent without the server's
stack, and that agent enrolls with the real service and reports its status."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agent.town import confirm_device, device_token, seed_town

ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY = ("fastapi", "sqlalchemy", "psycopg", "openpyxl", "uvicorn", "alembic", "aiosmtpd")
SOURCE_IGNORE = shutil.ignore_patterns(".venv", ".git", "var", "build", "dist", "*.egg-info",
                                       "__pycache__", ".*_cache", "tests", "bench", ".hypothesis")


def run(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    # The venv's own programs only: no PYTHONPATH leading back to the worktree.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd="/")


@pytest.fixture(scope="module")
def agent_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with ``pip install '<copy of the worktree>[agent]'`` (a copy, so the build
    leaves nothing in the worktree)."""
    base = tmp_path_factory.mktemp("agent-install")
    source = base / "src"
    shutil.copytree(ROOT, source, ignore=SOURCE_IGNORE)
    venv = base / "venv"
    made = run(sys.executable, "-m", "venv", venv)
    assert made.returncode == 0, made.stderr
    installed = run(venv / "bin/python", "-m", "pip", "install", "-q", f"{source}[agent]")
    assert installed.returncode == 0, installed.stderr[-3000:]
    return venv


@pytest.mark.slow
def test_agent_extra_leaves_the_server_stack_out(agent_venv: Path) -> None:
    probe = ("import importlib.util, json, sys; "
             "print(json.dumps({m: importlib.util.find_spec(m) is not None for m in sys.argv[1:]}))")
    found = run(agent_venv / "bin/python", "-c", probe, *SERVER_ONLY, "reader_agent", "gate",
                "firmware_config", "mynagate_cli")
    assert found.returncode == 0, found.stderr
    present = json.loads(found.stdout)
    assert {m for m in SERVER_ONLY if present[m]} == set()
    assert all(present[m] for m in ("reader_agent", "gate", "firmware_config", "mynagate_cli"))

    helped = run(agent_venv / "bin/mynagate", "agent", "--help")
    assert helped.returncode == 0, helped.stderr
    assert all(cmd in helped.stdout for cmd in ("enroll", "run", "status"))
    # Every module the agent runs with imports without the server's packages.
    # A server command is listed, and says what to install instead of a traceback.
    server_only = run(agent_venv / "bin/mynagate", "backup", "create", "--output", "/tmp/x")
    assert server_only.returncode == 2
    assert "mynagate[server]" in server_only.stderr and "Traceback" not in server_only.stderr
    # A failure is explained without the server's packages (sqlalchemy is not there).
    unreachable = run(agent_venv / "bin/mynagate", "card", "enroll", "--reader", "sim:desk",
                      "--service", "http://127.0.0.1:9", "--token", "mng_x", "--staff-number",
                      "S0001", "--yes")
    assert unreachable.returncode == 78, unreachable.stderr
    assert "cannot reach the service (--service)" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr
    imported = run(agent_venv / "bin/python", "-c",
                   "import reader_agent.agent, reader_agent.uploader, reader_agent.lock_emulator, "
                   "firmware_config.bundle, firmware_config.validate, mynagate_cli")
    assert imported.returncode == 0, imported.stderr


@pytest.mark.slow
def test_small_install_enrolls_with_the_real_service(agent_venv: Path, live_server, admin,  # type: ignore[no-untyped-def]
                                                     database, tmp_path: Path) -> None:
    town = seed_town(database)
    data = tmp_path / "agent"
    enrolled = run(agent_venv / "bin/mynagate", "agent", "enroll", "--service", live_server.url,
                   "--token", device_token(admin, [town.door_id]), "--data-dir", data)
    assert enrolled.returncode == 0, enrolled.stderr
    device_id = json.loads((data / "identity.json").read_text())["device_id"]
    confirm_device(admin, device_id)
    status = run(agent_venv / "bin/mynagate", "agent", "status", "--data-dir", data)
    assert status.returncode == 0, status.stderr
    assert device_id in status.stdout
