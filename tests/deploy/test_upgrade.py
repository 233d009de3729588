"""``mynagate db upgrade``: shows each revision it applies, and refuses to run while a service
of another version holds the serving lock (PostgreSQL advisory lock held by ``serve``)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from alembic.script import ScriptDirectory

from api.migrate import alembic_config
from api.service_lock import ServingLock, code_version, other_versions_serving
from tests.conftest import free_port

from .conftest import cli, serve, stop
from .nginx import port_closed, wait_port

APPLYING = re.compile(r"applying: ([^\n]*?) -> (\w+), ")


def all_revisions() -> set[str]:
    return {r.revision for r in ScriptDirectory.from_config(alembic_config("")).walk_revisions()}


def test_db_upgrade_shows_every_revision_it_applies(scratch_database: str) -> None:
    first = cli({"MYNAGATE_DATABASE_URL": scratch_database}, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    applied = {new for _, new in APPLYING.findall(first.stdout)}
    assert applied == all_revisions() and len(applied) > 10
    # At the newest schema there is nothing left to apply.
    again = cli({"MYNAGATE_DATABASE_URL": scratch_database}, "db", "upgrade")
    assert again.returncode == 0 and APPLYING.findall(again.stdout) == []
    assert "newest schema" in again.stdout


def test_db_upgrade_refuses_while_another_version_serves(scratch_database: str) -> None:
    env = {"MYNAGATE_DATABASE_URL": scratch_database}
    old = ServingLock.hold(scratch_database, "0.0.9 schema 0100")
    same = ServingLock.hold(scratch_database, code_version())
    try:
        refused = cli(env, "db", "upgrade")
        assert refused.returncode == 1
        assert "another version is serving" in refused.stderr
        assert "mynagate 0.0.9 schema 0100" in refused.stderr
        assert APPLYING.findall(refused.stdout) == []
    finally:
        old.release()
    try:  # the same version serving does not block
        assert cli(env, "db", "upgrade").returncode == 0
    finally:
        same.release()


def test_serve_holds_the_lock_while_it_runs(scratch_database: str) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        env = {"MYNAGATE_ENV": "development", "MYNAGATE_DATABASE_URL": scratch_database,
               "MYNAGATE_DATA_DIR": str(data)}
        proc = serve(env, Path(tmp) / "serve.log", "--port", str(port))
        try:
            wait_port(port, proc, "mynagate serve")
            # To another version's `db upgrade`, this service is in the way, by name.
            holders = other_versions_serving(scratch_database, "0.0.9 schema 0100")
            assert len(holders) == 1 and f"mynagate {code_version()}" in holders[0]
            assert other_versions_serving(scratch_database, code_version()) == []
        finally:
            stop(proc)
    assert port_closed(port)
    assert other_versions_serving(scratch_database, "0.0.9 schema 0100") == []


def test_sqlite_has_no_lock_and_upgrades(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mynagate.db'}"
    assert other_versions_serving(url, "0.0.9 schema 0100") == []
    assert ServingLock.hold(url, code_version()).connection is None
    done = cli({"MYNAGATE_DATABASE_URL": url}, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    assert {new for _, new in APPLYING.findall(done.stdout)} == all_revisions()
