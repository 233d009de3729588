"""A scratch PostgreSQL database and ``mynagate serve`` as a real process."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import _server_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """An empty database owned by a role of its own without superuser, createdb or createrole
    rights, as docs/deploy-service.md makes them: ``mynagate`` must migrate and serve as it."""
    server = _server_url()
    assert server and server.startswith("postgresql"), "this test needs PostgreSQL"
    name = f"mng_deploy_{uuid.uuid4().hex[:10]}"
    password = secrets.token_hex(16)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE \"{name}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                          f"PASSWORD '{password}'"))
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER "{name}" ENCODING \'UTF8\' '
                          "TEMPLATE template0"))
    try:
        yield make_url(server).set(database=name, username=name, password=password) \
            .render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
        admin.dispose()


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from mynagate_cli import main; main()", *args],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
                          capture_output=True, text=True, timeout=300)


def serve(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", "from mynagate_cli import main; main()", "serve", *args],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            stdout=out, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
