"""Shared fixtures: a real database migrated with Alembic, the app, an admin client.

The database is PostgreSQL when ``MYNAGATE_TEST_DATABASE_URL`` names one (CI always does) or
when the local server on 127.0.0.1:5432 answers; otherwise a temporary SQLite file. Each test
session gets its own fresh database, built by ``alembic upgrade heads``; tables are emptied
after every test that used it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.db import Database
from api.migrate import upgrade
from api.models import Base
from api.settings import get_settings
from tests.clock import (
    READERS_ENV,
    ClockProbe,
    moved_to,
    read_clock_readers,
    travel_from_env,
    write_clock_readers,
)

from .identities import make_token

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Fixtures whose value is the wall clock: a test using one, directly or through another fixture,
# places what it makes at the date, so it is marked ``clock``. Other tests are marked when the
# probe sees their body read the clock (a fixture such as ``app`` or ``admin`` does not make a
# test depend on the date; the service code its body calls does, when it reads the clock).
CLOCK_FIXTURES = frozenset({"now", "wall_clock"})
_probe = ClockProbe()
_clock_readers: set[str] = set()
# No hypothesis deadlines: speed is measured by the benchmarks, not by timed tests, and a
# deadline fails at random on a shared two-core machine.
hypothesis_settings.register_profile("mynagate", deadline=None)
hypothesis_settings.load_profile("mynagate")


def pytest_configure(config: pytest.Config) -> None:
    # MYNAGATE_TEST_MOVED_CLOCK: the whole session on a moved clock. Otherwise, with
    # MYNAGATE_TEST_CLOCK_READERS set, note the tests that read the clock into that file.
    if travel_from_env() is None and os.environ.get(READERS_ENV):
        _probe.install()


def pytest_report_header(config: pytest.Config) -> str:
    when = moved_to()
    return f"clock: moved to {when.isoformat()}" if when else "clock: real"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``clock`` the tests that read the wall clock: those the real-clock run saw reading
    it (moved runs, with MYNAGATE_TEST_CLOCK_READERS) and those using a clock fixture.
    A ``real_clock`` marker must say why the test cannot run under a moved clock; with
    ``--dist loadgroup`` the pcsc tests share one worker."""
    readers = read_clock_readers() if moved_to() else set()
    for item in items:
        if item.nodeid in readers or CLOCK_FIXTURES.intersection(
                getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.clock)
        if item.get_closest_marker("pcsc"):  # the machine's one pcscd: all on one xdist worker
            item.add_marker(pytest.mark.xdist_group("pcscd"))
        real = item.get_closest_marker("real_clock")
        if real is not None and not real.kwargs.get("reason"):
            raise pytest.UsageError(f"{item.nodeid}: real_clock(reason=...) must say why")


@contextlib.contextmanager
def _probing(item: pytest.Item, *, body: bool) -> Iterator[None]:
    """Clock reads count in the test body only (not in pytest's timing around it, nor in the
    fixtures' setup and teardown); a subprocess started at setup counts too (ClockProbe)."""
    _probe.current, _probe.in_body = item.nodeid, body
    try:
        yield
    finally:
        _probe.current, _probe.in_body = None, False


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item):  # type: ignore[no-untyped-def]
    with _probing(item, body=False):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):  # type: ignore[no-untyped-def]
    with _probing(item, body=True):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    if item.nodeid in _probe.readers and ("reads_clock", True) not in item.user_properties:
        item.user_properties.append(("reads_clock", True))  # reaches the xdist controller
    yield


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if any(name == "reads_clock" for name, _ in report.user_properties):
        _clock_readers.add(report.nodeid)


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """The CLI reads the service settings once per process (``get_settings`` is cached); a
    test that sets MYNAGATE_* must not see another test's cached settings."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def now() -> datetime:
    """The one "now" of a test: the wall clock (moved or not) when the test starts, in UTC.
    Everything the test makes (certificates, snapshots, punches, signed requests) is placed
    relative to it, never to a pinned date beside the real clock."""
    return datetime.now(UTC)


@pytest.fixture
def wall_clock() -> Callable[[], datetime]:
    """The wall clock (moved or not) as a callable, for clocks that must tick during a test,
    like a reader host's device clock."""
    return lambda: datetime.now(UTC)

# Hypothesis's per-example deadline measures wall time, which a loaded 2-core CI machine
# stretches several-fold: correctness is checked by the properties, speed by `make bench`.
hypothesis_settings.register_profile("mynagate", deadline=None)
hypothesis_settings.load_profile("mynagate")
WEBHOOK_SECRET = "test-webhook-secret"


def _pg_reachable(url: str) -> bool:
    u = make_url(url)
    try:
        with socket.create_connection((u.host or "127.0.0.1", u.port or 5432), timeout=1):
            return True
    except OSError:
        return False


def _server_url() -> str | None:
    url = os.environ.get("MYNAGATE_TEST_DATABASE_URL")
    if url:
        return url
    return PG_DEFAULT if _pg_reachable(PG_DEFAULT) else None


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated database for this test session (and this xdist worker)."""
    server = _server_url()
    if server is None or server.startswith("sqlite"):
        if IN_CI:
            pytest.fail("CI must run against PostgreSQL: set MYNAGATE_TEST_DATABASE_URL")
        url = server or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        upgrade(url)
        yield url
        return
    name = f"mng_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# DELETE rather than TRUNCATE: a TRUNCATE of the ~55 tables gives each a new file on disk and
# took ~1 s per test on the 2-core CI machine (the bulk of the moved-clock runs), the DELETEs
# ~20 ms. As the superuser, ``replica`` switches off the triggers for this transaction: the
# foreign keys' (every table is emptied) and audit_log's append-only guard. The sequences a
# test advanced go back to their start, as RESTART IDENTITY did.
_EMPTY_PG = """
SET LOCAL session_replication_role = replica;
{deletes}
SELECT setval((quote_ident(schemaname) || '.' || quote_ident(sequencename))::regclass,
              start_value, false)
  FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL;
"""


def empty_all_tables(database: Database) -> None:
    tables = [t.name for t in Base.metadata.sorted_tables]
    with database.engine.begin() as conn:
        if database.engine.dialect.name != "postgresql":
            for name in reversed(tables):
                conn.execute(text(f"DELETE FROM {name}"))
        elif conn.execute(text("SELECT current_setting('is_superuser') = 'on'")).scalar():
            deletes = "".join(f"DELETE FROM {name};\n" for name in reversed(tables))
            conn.exec_driver_sql(_EMPTY_PG.format(deletes=deletes))
        else:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        conn.execute(text(
            "INSERT INTO snapshot_counter (id, version, changed_at) "
            "VALUES (1, 0, CURRENT_TIMESTAMP)"))


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    db = Database(db_url)
    empty_all_tables(db)
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def settings(tmp_path: Path, db_url: str):  # type: ignore[no-untyped-def]
    from api.settings import Settings

    return Settings(env="test", database_url=db_url, data_dir=tmp_path,
                    signing_key_file=tmp_path / "signing-key.pem")


@pytest.fixture
def app(settings, database):  # type: ignore[no-untyped-def]
    from api.app import create_app
    from api.locks.settings import LockSettings

    return create_app(settings, db=database, lock_settings=LockSettings(
        data_dir=settings.data_dir, booking_webhook_secret=WEBHOOK_SECRET))


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture
def admin_token(database: Database) -> str:
    """An API token of the admin user ``admin``, made in the test database."""
    return make_token(database, "admin", "admin")


@pytest.fixture
def admin(client, admin_token):  # type: ignore[no-untyped-def]
    """The test client with the admin's API token."""
    client.headers["Authorization"] = f"Bearer {admin_token}"
    return client


@pytest.fixture
def login_as(app):  # type: ignore[no-untyped-def]
    """``login_as(username, role, staff_id=None)``: a new client holding that user's API token."""
    from fastapi.testclient import TestClient

    def _client(username: str, role: str, staff_id: int | None = None) -> TestClient:
        token = make_token(app.state.db, username, role, staff_id=staff_id)
        return TestClient(app, headers={"Authorization": f"Bearer {token}"})

    return _client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The app served by a real uvicorn on loopback, in a thread."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    server = LiveServer(app).start()
    try:
        yield server
    finally:
        server.stop()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI=true a skipped test fails the run: the real stacks are never silently skipped."""
    if _clock_readers and not hasattr(session.config, "workerinput"):
        write_clock_readers(_clock_readers)
    if not IN_CI:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped:
        reporter.write_line(f"CI=true: {skipped} test(s) skipped; failing the run", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    """Count the real card stacks in the summary, so a run shows they were exercised."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for rep in terminalreporter.stats.get(outcome, []):
            keywords = getattr(rep, "keywords", {})
            for marker in ("pcsc", "nfc", "postgres", "slow"):
                if marker in keywords:
                    counts.setdefault(marker, {}).setdefault(outcome, 0)
                    counts[marker][outcome] += 1
    for marker in ("pcsc", "nfc", "slow"):
        c = counts.get(marker, {})
        parts = ", ".join(f"{n} {o}" for o, n in sorted(c.items())) or "none ran"
        terminalreporter.write_line(f"real stack [{marker}]: {parts}")
