"""Finding 8 of issue 9: lock polls carry a nonce, PINs are sealed to the lock, and a remote
unlock goes only to an authenticated, fresh poll; forged polls never reach the database."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, select

from api.locks.secrets import lock_key
from api.models import LockCommand, SmartLock
from reader_agent.lock_emulator import OnlineLock
from reader_agent.lock_emulator.firmware import sync_key
from reader_agent.lock_emulator.online import sign_body
from tests.locks.helpers import create_site, wire
from tests.locks.test_online import paid

LOCK = "aso-gym-09"


def _setup(admin, app, database, tmp_path):  # type: ignore[no-untyped-def]
    ls = wire(app, tmp_path)
    fid, lock_pk = create_site(admin, kind="online", lock_id=LOCK, slot_limit=4)
    with database.session() as s:
        key = lock_key(s, ls, s.get(SmartLock, lock_pk))
        s.commit()
    return fid, lock_pk, key


def _signed(key: bytes, body: bytes = b"{}", nonce: str | None = None,
            ts: int | None = None) -> dict[str, str]:
    ts_s = str(int(time.time()) if ts is None else ts)
    nonce = nonce or secrets.token_hex(16)
    return {"content-type": "application/json", "X-Lock-Timestamp": ts_s, "X-Lock-Nonce": nonce,
            "X-Lock-Signature": sign_body(sync_key(key), ts_s, nonce, body)}


@contextmanager
def _statements(database) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def _count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(database.engine, "before_cursor_execute", _count)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", _count)


def test_a_replayed_poll_is_refused(admin, app, database, tmp_path):
    _, _, key = _setup(admin, app, database, tmp_path)
    headers = _signed(key)
    first = admin.post(f"/api/v1/locks/{LOCK}/poll", content=b"{}", headers=headers)
    assert first.status_code == 200, first.text
    again = admin.post(f"/api/v1/locks/{LOCK}/poll", content=b"{}", headers=headers)
    assert again.status_code == 401 and "replay" in again.json()["detail"]


def test_a_poll_without_nonce_or_out_of_its_window_is_refused(admin, app, database, tmp_path):
    _, _, key = _setup(admin, app, database, tmp_path)
    headers = _signed(key)
    del headers["X-Lock-Nonce"]
    assert admin.post(f"/api/v1/locks/{LOCK}/poll", content=b"{}",
                      headers=headers).status_code == 401
    old = _signed(key, ts=int(time.time()) - 301)
    r = admin.post(f"/api/v1/locks/{LOCK}/poll", content=b"{}", headers=old)
    assert r.status_code == 401 and r.json()["field"] == "x-lock-timestamp"


def test_the_answer_carries_no_pin_in_clear_and_the_lock_opens(admin, app, database, tmp_path):
    fid, _, key = _setup(admin, app, database, tmp_path)
    booking = paid(admin, fid, datetime.now(UTC) - timedelta(minutes=5))
    pin = admin.get(f"/api/v1/bookings/{booking}/pins").json()[0]["pin"]
    r = admin.post(f"/api/v1/locks/{LOCK}/poll", content=b"{}", headers=_signed(key))
    assert r.status_code == 200
    assert pin not in r.text and "slots" not in r.json() and r.json()["sealed_slots"]
    lock = OnlineLock(LOCK, key, admin, now=time.time, slot_limit=4)
    lock.poll()
    assert lock.enter(pin).opened


def test_a_remote_unlock_is_taken_only_by_an_authenticated_fresh_poll(admin, app, database,
                                                                       tmp_path):
    _, lock_pk, key = _setup(admin, app, database, tmp_path)
    recorded = _signed(key)
    assert admin.post(f"/api/v1/locks/{LOCK}/poll", content=b"{}",
                      headers=recorded).status_code == 200
    assert admin.post(f"/api/v1/locks/{lock_pk}/remote-unlock",
                      json={"reason": "閉じ込め"}).status_code == 202
    # The recorded poll replayed, and a forged one, take nothing.
    assert admin.post(f"/api/v1/locks/{LOCK}/poll", content=b"{}",
                      headers=recorded).status_code == 401
    forged = _signed(b"\x00" * 32)
    assert admin.post(f"/api/v1/locks/{LOCK}/poll", content=b"{}",
                      headers=forged).status_code == 401
    with database.session() as s:
        cmd = s.execute(select(LockCommand).where(LockCommand.kind == "unlock")).scalar_one()
        assert cmd.delivered_at is None
    answer = OnlineLock(LOCK, key, admin, now=time.time).poll()
    assert [c["kind"] for c in answer["commands"]] == ["unlock"]


def test_unsigned_and_forged_polls_never_reach_the_database(admin, app, database, tmp_path):
    _, _, key = _setup(admin, app, database, tmp_path)
    assert admin.post(f"/api/v1/locks/{LOCK}/poll", content=b"{}",
                      headers=_signed(key)).status_code == 200  # the key is now known
    unsigned = {"X-Lock-Timestamp": str(int(time.time()))}
    forged = _signed(b"\x01" * 32, body=json.dumps({"battery": 1}).encode())
    with _statements(database) as seen:
        for headers in (unsigned, forged, forged | {"X-Lock-Nonce": "zz"}):
            r = admin.post(f"/api/v1/locks/{LOCK}/poll", content=b'{"battery": 1}',
                           headers=headers)
            assert r.status_code == 401
    assert seen == []


def test_an_authenticated_poll_with_a_malformed_body_is_a_422_not_a_500(admin, app, database,
                                                                         tmp_path):
    _, _, key = _setup(admin, app, database, tmp_path)
    for body, word in [(b'{"clock": 1e300}', "clock"), (b'{"battery": NaN}', "battery"),
                       (b'{"slot_limit": 1e30}', "slot_limit"), (b'[1]', "dictionary"),
                       (b'{"events": [{"seq": 1}]}', "events[0].at"),
                       (b'{"events": [{"seq": 1, "at": 99999999999999, "kind": "x", '
                        b'"hash": "' + b"0" * 64 + b'"}]}', "events[0].at")]:
        r = admin.post(f"/api/v1/locks/{LOCK}/poll", content=body, headers=_signed(key, body))
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert word in r.text
