"""The operations pages: the dashboard's live events over SSE (a real uvicorn, read as a
stream), its alarms, taps per hour per door, the locks page (battery, predicted days left,
trend) and its remote unlock (reason required, audited, security only), and the forbidden
notice linking to the pages a role opens."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from api.console import ops
from api.console.rendering import jst
from api.models import (
    AuditLog,
    Device,
    Event,
    Facility,
    LockAlert,
    LockCommand,
    LockTelemetry,
    SmartLock,
)
from api.users.auth import CSRF_COOKIE
from tests.console.conftest import (
    BDAY,
    DEVICE_ID,
    DOOR_IDS,
    STAFF_IDS,
    assert_no_internal_ids,
    log_in,
)
from tests.identities import make_token

pytestmark = pytest.mark.postgres
LOCKS = "/console/locks"


def _sse(lines: list[str]) -> list[dict]:
    return [json.loads(line[len("data: "):]) for line in lines
            if line.startswith("data: ") and line != "data: {}"]


def test_the_stream_sends_a_new_event_keeps_alive_and_ends(live_server, world, database,
                                                            wall_clock, monkeypatch) -> None:
    monkeypatch.setattr(ops, "KEEPALIVE_S", 1.0)
    token = make_token(database, "watcher", "security")
    lines: list[str] = []
    started = time.monotonic()
    with httpx.stream("GET", f"{live_server.url}/console/stream/events", params={"seconds": 4},
                      headers={"Authorization": f"Bearer {token}"}, timeout=10) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            lines.append(line)
            if line == ": connected":  # the stream is open: a reader now sends a tap
                at = wall_clock()
                with database.session() as s:
                    s.add(Event(id=uuid.uuid4(), device_id=DEVICE_ID, seq=100, kind="tap",
                                occurred_at=at, received_at=at, staff_id=STAFF_IDS[1],
                                door_id=DOOR_IDS[1], granted=True))
                    s.commit()
    elapsed = time.monotonic() - started
    sent = _sse(lines)
    assert not any(e["kind"] == "警報" for e in sent)  # received a minute before: not live
    new = [e for e in sent if e["door"] == "通用口"]
    assert len(new) == 1, lines
    assert new[0]["number"] == "1002" and new[0]["name"] == "佐藤花子"
    assert new[0]["result"] == "許可"
    assert new[0]["at"] == jst(at) and new[0]["kind"] == "カード認証"
    assert_no_internal_ids("\n".join(lines))
    assert any(line.startswith("id: ") for line in lines)  # to resume from after a reconnect
    assert ": keepalive" in lines
    assert [line for line in lines if line][-2:] == ["event: end", "data: {}"]
    assert 3.5 < elapsed < 8  # it ended by itself after its 4 s


def test_a_reconnect_resumes_from_the_last_event_id(live_server, world, database,
                                                    wall_clock) -> None:
    """Events received after the Last-Event-ID (less the commit lag) come again; older ones
    do not."""
    token = make_token(database, "watcher", "auditor")
    t = wall_clock()
    with database.session() as s:
        for seq, ago in ((200, 20), (201, 5)):
            at = t - timedelta(minutes=ago)
            s.add(Event(id=uuid.uuid4(), device_id=DEVICE_ID, seq=seq, kind="alarm",
                        occurred_at=at, received_at=at, staff_id=STAFF_IDS[2],
                        door_id=DOOR_IDS[0], data={"alarm": "forced_open"}))
        s.commit()
    r = httpx.get(f"{live_server.url}/console/stream/events", params={"seconds": 1},
                  headers={"Authorization": f"Bearer {token}", "Last-Event-ID":
                           (t - timedelta(minutes=6)).isoformat()}, timeout=10)
    mine = [e for e in _sse(r.text.splitlines()) if e["number"] == "1003"]
    assert [e["at"] for e in mine] == [jst(t - timedelta(minutes=5))]
    assert mine[0]["alarm"] is True and "扉のこじ開け" in mine[0]["result"]
    assert mine[0]["name"] == "=1+2"  # text, as it is (the page puts it in with textContent)


def test_where_a_stream_starts(now) -> None:
    assert ops._start(None, None, now) == now
    assert ops._start(None, "not a time", now) == now
    assert ops._start(now + timedelta(hours=1), None, now) == now  # never in the future
    old = now - timedelta(days=3)
    assert ops._start(None, old.isoformat(), now) == now - ops.LIVE_WINDOW
    recent = now - timedelta(minutes=5)
    assert ops._start(now - timedelta(minutes=9), recent.isoformat(), now) == recent


def test_the_stream_is_not_for_a_facility_clerk(app, admin, world) -> None:
    clerk = log_in(app, admin, "shisetsu", "facility")
    r = clerk.get("/console/stream/events", params={"seconds": 1})
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]


def test_the_dashboard_shows_backlog_and_low_battery_alarms(console, world, database) -> None:
    assert "リーダーに未送信のイベント" not in console.get("/console").text
    with database.session() as s:
        device = s.get(Device, DEVICE_ID)
        device.outbox_pending, device.oldest_pending_at = 37, world.now - timedelta(minutes=30)
        f = Facility(code="hall", name="公民館")
        s.add(f)
        s.flush()
        lock = SmartLock(facility_id=f.id, lock_id="hall-1", name="公民館 正面", kind="online",
                         battery_percent=12.0, battery_at=world.now)
        s.add(lock)
        s.flush()
        s.add_all([LockAlert(lock_id=lock.id, kind="left_open", at=world.now, detail="20 分",
                             dedupe_key="a"),
                   LockAlert(lock_id=lock.id, kind="left_open", detail="昨日より前",
                             at=world.now - timedelta(days=2), dedupe_key="b")])
        s.commit()
    html = console.get("/console").text
    assert "リーダーに未送信のイベント" in html and "37" in html
    assert "電池残量低下" in html and "公民館 正面" in html and "12%" in html
    assert html.count("錠の開けっ放し") == 1 and "20 分" in html  # the last day's only
    assert 'data-stream="/console/stream/events?since=' in html
    assert "/console/static/live-events.js" in html


def test_taps_per_hour_per_door(console, world) -> None:
    hour = jst(world.times["in1"], "%H")
    today = BDAY.date_of(world.now)  # the next workday's tap may be today, at 正面玄関 too
    taps = sum(1 for k in ("in1", "work") if BDAY.date_of(world.times[k]) == today
               and jst(world.times[k], "%H") == hour)
    html = console.get("/console/taps").text
    assert f"<title>正面玄関 {int(hour)}:00 — {taps}</title>" in html
    assert_no_internal_ids(html)
    sat = console.get("/console/taps", params={"day": world.saturday.isoformat()}).text
    totals = dict(re.findall(r'<tr><td>([^<]+)</td><td class="num">(\d+)</td>', sat))
    assert totals == {"正面玄関": "2", "通用口": "1"}
    assert sat.count('class="bar"') == 3  # 正面玄関 at two hours, 通用口 at one
    in_hour = int(jst(world.times["sat_in"], "%H"))
    assert f"<title>正面玄関 {in_hour}:00 — 1</title>" in sat


def _lock_with_history(database, now, *, kind: str = "online") -> int:  # type: ignore[no-untyped-def]
    """A lock whose battery fell 10 points a day for four days, to 50 %."""
    with database.session() as s:
        f = Facility(code="gym", name="中央体育館")
        s.add(f)
        s.flush()
        lock = SmartLock(facility_id=f.id, lock_id="gym-1", name="体育館 入口", kind=kind,
                         battery_percent=50.0, battery_at=now, last_contact_at=now,
                         clock_offset_s=1.5, drift_ppm=3.2)
        s.add(lock)
        s.flush()
        for days in range(5):
            s.add(LockTelemetry(lock_id=lock.id, at=now - timedelta(days=4 - days),
                                battery_percent=90.0 - 10 * days, openings=0))
        s.commit()
        return lock.id


def test_locks_page_battery_prediction_and_trend(app, admin, database, now) -> None:
    _lock_with_history(database, now)
    clerk = log_in(app, admin, "shisetsu", "facility")
    html = clerk.get(LOCKS).text
    assert "体育館 入口" in html and "中央体育館" in html and "50%" in html
    assert "約 5 日" in html  # 50 % at 10 points a day
    assert re.search(r'<polyline points="4\.0,11\.2 [^"]+ 296\.0,40\.0"', html)
    assert "ドリフト 3.2 ppm" in html and "ずれ 1.5 秒" in html
    assert "遠隔解錠" not in html  # a facility clerk reads, never unlocks
    assert 'href="/console/locks"' in html  # in the menu


def _commands(database) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with database.session() as s:
        return (s.scalar(select(func.count()).select_from(LockCommand)),
                s.scalar(select(func.count()).select_from(AuditLog).where(
                    AuditLog.action == "lock.remote_unlock")))


def test_remote_unlock_needs_a_reason_and_is_audited(console, database, now) -> None:
    lock = _lock_with_history(database, now)
    url = f"{LOCKS}/{lock}/remote-unlock"
    csrf = console.cookies[CSRF_COOKIE]
    assert "遠隔解錠" in console.get(LOCKS).text
    assert console.post(url, data={"reason": "x"}, follow_redirects=False).status_code == 403
    no_reason = console.post(url, data={"csrf_token": csrf, "reason": " "},
                             follow_redirects=False)
    assert no_reason.status_code == 422 and "理由を書いてください" in no_reason.text
    digits = console.post(url, data={"csrf_token": csrf, "reason": "番号 123456789012"},
                          follow_redirects=False)
    assert digits.status_code == 422 and _commands(database) == (0, 0)
    ok = console.post(url, data={"csrf_token": csrf, "reason": "利用者が閉じ込められた"},
                      follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == f"{LOCKS}?done=unlock"
    assert "次の通信で解錠" in console.get(ok.headers["location"]).text
    assert _commands(database) == (1, 1)
    with database.session() as s:
        cmd = s.execute(select(LockCommand)).scalar_one()
        audit = s.execute(select(AuditLog).where(
            AuditLog.action == "lock.remote_unlock")).scalar_one()
    assert (cmd.actor, cmd.reason, cmd.kind) == ("console-admin", "利用者が閉じ込められた",
                                                 "unlock")
    assert audit.actor == "console-admin" and audit.after["reason"] == "利用者が閉じ込められた"


def test_a_key_box_is_not_unlocked_remotely(console, database, now) -> None:
    lock = _lock_with_history(database, now, kind="offline")
    r = console.post(f"{LOCKS}/{lock}/remote-unlock",
                     data={"csrf_token": console.cookies[CSRF_COOKIE], "reason": "閉じ込め"},
                     follow_redirects=False)
    assert r.status_code == 409 and _commands(database) == (0, 0)


@pytest.mark.parametrize("role", ["facility", "auditor"])
def test_remote_unlock_is_refused_to_readers_and_changes_nothing(app, admin, database, now,
                                                                 role: str) -> None:
    lock = _lock_with_history(database, now)
    user = log_in(app, admin, f"u-{role}", role)
    r = user.post(f"{LOCKS}/{lock}/remote-unlock",
                  data={"csrf_token": user.cookies[CSRF_COOKIE], "reason": "閉じ込め"},
                  follow_redirects=False)
    assert r.status_code == 403 and _commands(database) == (0, 0)


def _listed(html: str) -> list[str]:
    block = html.split('<ul class="pages">', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'href="([^"]+)"', block)


def test_the_forbidden_notice_links_to_the_pages_of_the_role(app, admin, world) -> None:
    clerk = log_in(app, admin, "shisetsu", "facility")
    r = clerk.get("/console")
    assert r.status_code == 403 and "この役割ではこの画面を開けません" in r.text
    assert _listed(r.text) == ["/console/locks", "/console/facility/bookings"]
    auditor = log_in(app, admin, "kansa", "auditor")
    listed = _listed(auditor.get("/console/me/timesheet").text)  # an auditor is no staff member
    assert "/console" in listed and "/console/locks" in listed
    assert not any(p.startswith("/console/me") for p in listed)
