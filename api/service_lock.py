"""Which version of the service is serving: a PostgreSQL advisory lock held by ``serve``.

``serve`` takes a *shared* advisory lock ``(LOCK_SPACE, key of its version)`` on a connection
of its own and keeps it while it runs (every process of the same version can hold it at once).
``mynagate db upgrade`` looks in ``pg_locks`` for a holder of another version and refuses to
migrate under it. The version is the package version plus the Alembic heads the code expects,
so two builds that need different schemas never count as the same. The connection's
``application_name`` names the version, for the refusal message and ``pg_stat_activity``.

SQLite has no advisory locks: there the check finds nothing; stop the service before
upgrading (docs/upgrade.md).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from importlib.metadata import version as package_version

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

from .migrate import alembic_config

LOCK_SPACE = 0x6D796E61  # "myna": the first key of every mynagate advisory lock

_HOLDERS = text("""
    SELECT a.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid::bigint = :space AND l.objid::bigint <> :key
    ORDER BY a.pid""")


class OtherVersionServing(RuntimeError):
    """A service of another version holds the serving lock; ``holders`` names them."""

    def __init__(self, holders: list[str]) -> None:
        super().__init__("a service of another version is serving: " + "; ".join(holders))
        self.holders = holders


def code_version() -> str:
    heads = ScriptDirectory.from_config(alembic_config("")).get_heads()
    return f"{package_version('mynagate')} schema {'+'.join(sorted(heads))}"


def version_key(version: str) -> int:
    return zlib.crc32(version.encode()) & 0x7FFFFFFF


def _is_postgresql(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def _connect(url: str, version: str) -> Connection:
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT",
                           connect_args={"application_name": f"mynagate {version}"[:63]})
    return engine.connect()


def other_versions_serving(url: str, version: str) -> list[str]:
    """``pid N: application_name`` of each holder of another version (none on SQLite)."""
    if not _is_postgresql(url):
        return []
    with _connect(url, version) as conn:
        rows = conn.execute(_HOLDERS, {"space": LOCK_SPACE, "key": version_key(version)})
        return [f"pid {pid}: {name or '?'}" for pid, name in rows]


def check_no_other_version(url: str, version: str) -> None:
    holders = other_versions_serving(url, version)
    if holders:
        raise OtherVersionServing(holders)


@dataclass
class ServingLock:
    """The shared lock of a running service; ``release`` (or process exit) drops it."""

    connection: Connection | None

    @classmethod
    def hold(cls, url: str, version: str) -> ServingLock:
        if not _is_postgresql(url):
            return cls(None)
        conn = _connect(url, version)
        conn.execute(text("SELECT pg_advisory_lock_shared(:space, :key)"),
                     {"space": LOCK_SPACE, "key": version_key(version)})
        return cls(conn)

    def release(self) -> None:
        if self.connection is not None:
            self.connection.close()  # a session lock ends with its session
            self.connection = None
