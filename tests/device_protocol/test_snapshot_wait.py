"""Long-poll /snapshot/wait: immediate answer, timeout, and a wake-up within ~1 s of a bump
made through another database connection (another API process): LISTEN/NOTIFY on PostgreSQL,
polling on SQLite."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from api.db import make_engine
from api.device_protocol.watcher import VersionWatcher
from api.migrate import upgrade
from api.snapshot.service import prefetch_table
from api.snapshot.tables import TABLES
from api.snapshot.versioning import bump

from .signer import enroll


def _bump_elsewhere(db_url: str) -> None:
    """A bump committed through a separate engine, as another API process would."""
    engine = create_engine(db_url) if not db_url.startswith("sqlite") else make_engine(db_url)
    try:
        with Session(engine) as s:
            bump(s)
            s.commit()
    finally:
        engine.dispose()


def test_wait_answers_at_once_when_already_newer(admin, database):
    dev, _ = enroll(admin)
    with database.session() as s:
        bump(s)
        s.commit()
    t0 = time.monotonic()
    r = dev.request("GET", "/snapshot/wait", params={"version": 0, "timeout": 10})
    assert r.status_code == 200 and r.json() == {"version": 1}
    assert time.monotonic() - t0 < 2
    admin.app.state.snapshot_watcher.stop()


def test_wait_times_out_with_the_current_version(admin):
    dev, _ = enroll(admin)
    t0 = time.monotonic()
    r = dev.request("GET", "/snapshot/wait", params={"version": 0, "timeout": 1})
    elapsed = time.monotonic() - t0
    assert r.json() == {"version": 0} and 0.9 <= elapsed < 4
    assert dev.request("GET", "/snapshot/wait",
                       params={"version": 0, "timeout": 31}).status_code == 422
    admin.app.state.snapshot_watcher.stop()


def test_bump_in_another_process_wakes_waiters_quickly(live_server, app, db_url, world,
                                                     admin_token):
    with httpx.Client(base_url=live_server.url, timeout=30,
                      headers={"Authorization": f"Bearer {admin_token}"}) as http:
        devices = [enroll(http, name=f"r{i}")[0] for i in range(3)]
        answers: list[tuple[int, float]] = []

        def wait(dev):  # type: ignore[no-untyped-def]
            with httpx.Client(base_url=live_server.url, timeout=40) as own:
                me = type(dev)(own, dev.device_id, dev.key)
                r = me.request("GET", "/snapshot/wait", params={"version": 0, "timeout": 20})
                answers.append((r.json()["version"], time.monotonic()))

        threads = [threading.Thread(target=wait, args=(d,)) for d in devices]
        started = time.monotonic()
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while getattr(app.state, "snapshot_watcher", None) is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        watcher: VersionWatcher = app.state.snapshot_watcher
        assert watcher.wait_listening(10)
        time.sleep(0.8)  # let every waiter make its first read and go to sleep
        bumped = time.monotonic()
        _bump_elsewhere(db_url)
        for t in threads:
            t.join(30)
    try:
        assert len(answers) == 3
        assert all(v == 1 for v, _ in answers)
        latencies = [at - bumped for _, at in answers]
        assert all(at - started > 0.8 for _, at in answers)  # they really waited
        assert max(latencies) < 2.0, latencies
        if db_url.startswith("postgresql"):
            assert watcher.mode == "listen" and watcher.notifications >= 1
        else:
            assert watcher.mode == "poll"
    finally:
        watcher.stop()


def _sqlite_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'poll.db'}"
    upgrade(url)
    with make_engine(url).begin() as conn:
        conn.execute(text("INSERT INTO snapshot_counter (id, version, changed_at) "
                          "SELECT 1, 0, CURRENT_TIMESTAMP WHERE NOT EXISTS "
                          "(SELECT 1 FROM snapshot_counter WHERE id = 1)"))
    return url


def test_polling_fallback_on_sqlite_wakes_on_a_bump_from_another_connection(tmp_path):
    url = _sqlite_db(tmp_path)
    engine = make_engine(url)
    watcher = VersionWatcher(engine, poll_s=0.2)
    assert watcher.mode == "poll"

    async def scenario() -> tuple[int, float]:
        task = asyncio.create_task(watcher.wait_above(0, 10))
        await asyncio.sleep(0.5)
        assert not task.done()
        t0 = time.monotonic()
        await asyncio.to_thread(_bump_elsewhere, url)
        version = await task
        return version, time.monotonic() - t0

    try:
        version, latency = asyncio.run(scenario())
        assert version == 1 and latency < 1.5
    finally:
        watcher.stop()
        engine.dispose()


def test_watcher_thread_ends_when_idle_and_restarts_for_the_next_waiter(tmp_path):
    url = _sqlite_db(tmp_path)
    engine = make_engine(url)
    watcher = VersionWatcher(engine, poll_s=0.05, idle_exit_s=0.2)
    try:
        assert asyncio.run(watcher.wait_above(0, 0.3)) == 0
        first = watcher._thread
        assert first is not None
        first.join(3)
        assert not first.is_alive() and watcher._thread is None

        async def again() -> int:
            task = asyncio.create_task(watcher.wait_above(0, 10))
            await asyncio.sleep(0.3)
            await asyncio.to_thread(_bump_elsewhere, url)
            return await asyncio.wait_for(task, 3)

        assert asyncio.run(again()) == 1
        assert watcher._thread is not None and watcher._thread is not first
    finally:
        watcher.stop()
        engine.dispose()


def test_app_shutdown_stops_the_watcher(app, admin_token):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        c.headers["Authorization"] = f"Bearer {admin_token}"
        dev, _ = enroll(c)
        assert dev.request("GET", "/snapshot/wait",
                           params={"version": 0, "timeout": 0}).json() == {"version": 0}
        thread = app.state.snapshot_watcher._thread
        assert thread is not None and thread.is_alive()
    thread.join(1)
    assert not thread.is_alive()


def test_a_waiter_whose_client_went_away_does_not_linger(live_server, app, admin_token):
    import socket

    with httpx.Client(base_url=live_server.url, timeout=30,
                      headers={"Authorization": f"Bearer {admin_token}"}) as http:
        dev, _ = enroll(http)
    path = "/device/v1/snapshot/wait?version=0&timeout=30"
    headers = dev.sign("GET", path, b"")
    raw = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    sock = socket.create_connection(("127.0.0.1", live_server.port))
    try:
        sock.sendall(raw.encode())
        deadline = time.monotonic() + 10
        while not getattr(app.state, "snapshot_watcher", None) or \
                not app.state.snapshot_watcher._waiters:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        sock.close()
    t0 = time.monotonic()
    while app.state.snapshot_watcher._waiters:
        assert time.monotonic() - t0 < 5, "the waiter outlived its client"
        time.sleep(0.05)


def test_a_notification_builds_the_shared_table_before_any_request(database, now):
    """The watcher's hook (the app's: ``prefetch_table``) reads the new version's table, so
    the woken agents' requests find it built or being built; a failing hook is only logged."""
    with database.session() as s:
        version = bump(s)
        s.commit()
    tz = ZoneInfo("Asia/Tokyo")
    watcher = VersionWatcher(database.engine, on_version=lambda v: prefetch_table(
        database.engine, v, now, tz))
    watcher._on_notify(str(version))
    table = TABLES.table(database.engine, version)
    assert table is not None and table.day == now.astimezone(tz).date()

    def failing(v: int) -> None:
        raise RuntimeError("database gone")

    VersionWatcher(database.engine, on_version=failing)._on_notify(str(version + 1))
