"""Consistent database dumps and their restore.

PostgreSQL: ``pg_dump --format=custom`` (one repeatable-read snapshot) and ``pg_restore`` in
one transaction; both must be of the server's major version. Connection settings go to the
tools through ``PG*`` environment variables, so no password shows in the process list.
SQLite: the online backup API, page by page, consistent while the service writes.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, make_url

from . import BackupError, TargetNotEmpty, ToolMismatch

DUMP_TIMEOUT_S = 6 * 3600
VERSION_RE = re.compile(r"\(PostgreSQL\) (\d+)")


def dialect(url: str) -> str:
    return make_url(url).get_backend_name()


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("a SQLite database in memory cannot be backed up")
    return Path(database)


def _pg_env(u: URL) -> dict[str, str]:
    env = {**os.environ, "PGDATABASE": u.database or "", "PGHOST": u.host or "localhost",
           "PGPORT": str(u.port or 5432), "PGUSER": u.username or "postgres",
           "PGAPPNAME": "mynagate-backup"}
    if u.password:
        env["PGPASSWORD"] = u.password
    return env


def server_major(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000
    finally:
        engine.dispose()


def tool_major(tool: str) -> int:
    """The major version of ``pg_dump``/``pg_restore`` on PATH."""
    if shutil.which(tool) is None:
        raise ToolMismatch(f"{tool} not found: install postgresql-client")
    out = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False,
                         timeout=30).stdout
    found = VERSION_RE.search(out)
    if found is None:
        raise ToolMismatch(f"cannot read the version of {tool}: {out.strip()!r}")
    return int(found.group(1))


def check_tool(tool: str, url: str) -> int:
    """Refuse a tool whose major version is not the server's; return that version."""
    server, mine = server_major(url), tool_major(tool)
    if server != mine:
        raise ToolMismatch(f"{tool} is PostgreSQL {mine} but the server is {server}: install "
                           f"postgresql-client-{server} (Debian's pg_wrapper then picks it)")
    return server


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False,
                          timeout=DUMP_TIMEOUT_S)
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip()[-2000:]}")


def _sqlite_copy(source_path: Path, target_path: Path) -> None:
    """SQLite's online backup API: a consistent copy even while the source is written."""
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    target = sqlite3.connect(target_path)
    try:
        with target:
            source.backup(target)
    finally:
        source.close()
        target.close()


def dump(url: str, out: Path) -> dict[str, object]:
    """Write a consistent dump of the database at ``url`` to ``out``; returns its facts."""
    if dialect(url) == "sqlite":
        _sqlite_copy(sqlite_path(url), out)
        return {"dialect": "sqlite", "file": out.name}
    major = check_tool("pg_dump", url)
    _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={out}"],
         _pg_env(make_url(url)), "pg_dump")
    return {"dialect": "postgresql", "file": out.name, "server_major": major}


def is_empty(url: str) -> bool:
    """True if the database has no table (or, for SQLite, no file yet)."""
    if dialect(url) == "sqlite" and not sqlite_path(url).exists():
        return True
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return not inspect(conn).get_table_names()
    finally:
        engine.dispose()


def _wipe_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def restore(url: str, dump_file: Path, facts: dict[str, object], *, overwrite: bool) -> None:
    """Load ``dump_file`` into the database at ``url``; an existing schema needs ``overwrite``."""
    if facts.get("dialect") != dialect(url):
        raise BackupError(f"the backup holds a {facts.get('dialect')} database but "
                          f"MYNAGATE_DATABASE_URL is {dialect(url)}")
    if not is_empty(url):
        if not overwrite:
            raise TargetNotEmpty("the database is not empty: restoring would overwrite it "
                                 "(add --yes to replace it)")
        if dialect(url) == "postgresql":
            _wipe_postgres(url)
    if dialect(url) == "sqlite":
        sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(dump_file, sqlite_path(url))
        return
    check_tool("pg_restore", url)
    _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
          "--single-transaction", f"--dbname={make_url(url).database}", str(dump_file)],
         _pg_env(make_url(url)), "pg_restore")
