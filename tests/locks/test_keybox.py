"""The offline key box against the service: cancel → pending revocation → carried by the next
visitor → confirmed by a staff sync; sync sets the clock (backwards only when authentic);
drift; throttle across power cuts; RTC loss fails closed; one-time emergency codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.locks.secrets import lock_key
from api.models import AuditLog, IssuedPin, SmartLock
from gate.pin import ThrottleState
from reader_agent.lock_emulator import DriftingClock, KeyBox

from .helpers import FIRST_RE, PIN_RE, SmtpServer, create_site, text_of, wire


def book(admin, fid: int, start: datetime, hours: float, email: str) -> int:  # type: ignore[no-untyped-def]
    r = admin.post("/api/v1/bookings", json={
        "facility_id": fid, "start_at": start.isoformat(),
        "end_at": (start + timedelta(hours=hours)).isoformat(), "booker_name": "利用者",
        "booker_email": email, "payment_status": "paid"})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def key_of(database, ls, lock_pk: int) -> bytes:  # type: ignore[no-untyped-def]
    with database.session() as s:
        k = lock_key(s, ls, s.get(SmartLock, lock_pk))
        s.commit()
        return k


def test_cancel_revocation_carried_by_next_visitor_and_confirmed_by_sync(admin, app, database,
                                                                         tmp_path, now):
    now = now.replace(second=0, microsecond=0)
    start = now + timedelta(hours=1)
    with SmtpServer() as smtp:
        ls = wire(app, tmp_path, smtp.settings())
        fid, lock_pk = create_site(admin)
        first = book(admin, fid, start + timedelta(days=1), 2, "a@example.jp")  # tomorrow
        [m1] = smtp.inbox.wait(1)
        old_pin = PIN_RE.search(text_of(m1))["pin"]  # type: ignore[index]
        assert admin.post(f"/api/v1/bookings/{first}/cancel").json()["payment_status"] == \
            "cancelled"
        pending = admin.get(f"/api/v1/locks/{lock_pk}/pending-revocations").json()["codes"]
        assert len(pending) == 1 and int(pending[0][:4]) >= 9216
        # the next visitor's email says: enter this code first
        book(admin, fid, start, 1, "b@example.jp")  # today, before the cancelled window
        smtp.inbox.wait(3)
    by_rcpt = {(rcpt[0], "取消" in m["Subject"]): m
               for m, (_from, rcpt) in zip(smtp.inbox.messages, smtp.inbox.envelopes,
                                           strict=True)}
    assert set(by_rcpt) == {("a@example.jp", False), ("a@example.jp", True),
                            ("b@example.jp", False)}  # the first booker is told of the cancel
    assert "お知らせした暗証番号は使えません" in text_of(by_rcpt["a@example.jp", True])
    body2 = text_of(by_rcpt["b@example.jp", False])
    assert FIRST_RE.search(body2)["code"] == pending[0]  # type: ignore[index]
    new_pin = PIN_RE.search(body2)["pin"]  # type: ignore[index]

    t = {"now": now.timestamp()}
    box = KeyBox("aso-keybox-07", key_of(database, ls, lock_pk), 0, tmp_path / "box.json",
                 DriftingClock(lambda: t["now"], ppm=0.0))
    t["now"] = (start + timedelta(minutes=5)).timestamp()
    assert box.enter(pending[0]).reason == "revoked"  # typed by the next visitor
    assert box.enter(new_pin).opened
    # the old PIN, tried inside its own window tomorrow, is denied
    t["now"] = (start + timedelta(days=1, minutes=30)).timestamp()
    box.throttle = ThrottleState()
    assert box.enter(old_pin).reason == "denied_denylist"
    # staff sync: the log reaches the service, the revocation becomes confirmed
    r = admin.post(f"/api/v1/locks/{lock_pk}/sync", json=box.sync_upload())
    assert r.status_code == 200, r.text
    assert box.sync_apply(r.json())
    with database.session() as s:
        p = s.query(IssuedPin).filter_by(booking_id=first).one()
        assert (p.status, p.revocation_state) == ("revoked", "confirmed")
        assert s.query(AuditLog).filter_by(action="lock.sync").count() == 1
    assert admin.get(f"/api/v1/locks/{lock_pk}/pending-revocations").json()["codes"] == []
    # the box dropped the acknowledged log; a second sync sends only what is new
    assert all(e["kind"] == "clock_set" for e in box.sync_upload()["events"])


def test_sync_sets_clock_backwards_only_when_authentic_and_estimates_drift(admin, app,
                                                                           database, tmp_path):
    from api.locks import service

    ls = wire(app, tmp_path)
    _, lock_pk = create_site(admin)
    key = key_of(database, ls, lock_pk)
    real = {"now": datetime(2026, 12, 1, tzinfo=UTC).timestamp()}
    clock = DriftingClock(lambda: real["now"], ppm=400.0, offset_s=-30.0)
    box = KeyBox("aso-keybox-07", key, 0, tmp_path / "box.json", clock)

    def sync() -> dict:  # type: ignore[type-arg]
        with database.session() as s:
            lock = s.get(SmartLock, lock_pk)
            answer = service.staff_sync(s, ls, lock, box.sync_upload(), actor="staff",
                                        now=datetime.fromtimestamp(real["now"], UTC))
            s.commit()
        return answer

    # the keypad's clock menu cannot move the clock back (that would revive expired codes)
    assert not box.set_clock_forward(clock.now() - 3600)
    assert box.set_clock_forward(clock.now() + 5)
    # a forged sync answer is refused
    assert not box.sync_apply({"lock_id": "aso-keybox-07", "set_clock": 0, "ack_seq": 0,
                               "challenge": "x", "mac": "00" * 32})
    answer1 = sync()
    assert box.sync_apply(answer1)
    assert abs(clock.now() - real["now"]) < 1
    assert not box.sync_apply(answer1)  # a replayed answer is refused
    for _day in range(3):  # syncs every ten days; +400 ppm runs 345.6 s ahead each time
        real["now"] += 10 * 86400
        assert 345 < clock.now() - real["now"] < 346
        assert box.sync_apply(sync())
        assert abs(clock.now() - real["now"]) < 1  # moved back ~6 minutes, authentically
    status = admin.get(f"/api/v1/locks/{lock_pk}").json()
    assert 345 < status["clock_offset_s"] < 346
    assert 399 < status["drift_ppm"] < 401
    # an upload not signed by the lock's key is refused
    bad = box.sync_upload()
    bad["battery"] = 5.0
    assert admin.post(f"/api/v1/locks/{lock_pk}/sync", json=bad).status_code == 401


def test_throttle_survives_power_cuts_and_rtc_loss_fails_closed(tmp_path):
    from gate.pin import PinWindow, derive_lock_key, issue_pin

    key = derive_lock_key(b"m" * 32, "aso-keybox-07", 0)
    t = {"now": 1994444 * 900.0}
    box = KeyBox("aso-keybox-07", key, 0, tmp_path / "box.json", DriftingClock(lambda: t["now"]))
    pin = issue_pin(key, "aso-keybox-07", 0, PinWindow(1994444, 8, 0))
    for _ in range(6):
        assert box.enter("0000000000").reason == "wrong_code"
    assert box.enter(pin).reason == "wait"  # the 6th failure imposed a 1-minute wait
    box = KeyBox.power_cycle(box)  # pull the plug: the wait is still there
    assert box.enter(pin).reason == "wait"
    t["now"] += 60
    assert box.enter(pin).opened
    assert box.throttle.failures == 6  # a success does not wipe the count
    # the RTC backup cell died: guest codes fail closed until a sync
    box.lose_rtc()
    box = KeyBox.power_cycle(box)
    t["now"] += 120
    assert box.enter(pin).reason == "clock_invalid"
    # the hash chain of the log is intact across the restarts
    from gate.events import verify_chain

    assert verify_chain(box.log, None) is None


def test_emergency_code_is_one_time_and_one_hour(admin, app, database, tmp_path, now):
    ls = wire(app, tmp_path)
    _, lock_pk = create_site(admin)
    r = admin.post(f"/api/v1/locks/{lock_pk}/emergency-code", json={"reason": "鍵が開かない"})
    assert r.status_code == 200, r.text
    code = r.json()["code"]
    assert len(code) == 12 and int(code[:4]) >= 9216
    with database.session() as s:
        a = s.query(AuditLog).filter_by(action="lock.emergency_code").one()
        assert code not in str(a.after) and a.after["reason"] == "鍵が開かない"
    t = {"now": now.timestamp()}
    box = KeyBox("aso-keybox-07", key_of(database, ls, lock_pk), 0, tmp_path / "b.json",
                 DriftingClock(lambda: t["now"]))
    assert box.enter(code).opened
    assert box.enter(code).reason == "used"  # one time only
    t["now"] += 2 * 3600
    box2 = KeyBox("aso-keybox-07", key_of(database, ls, lock_pk), 0, tmp_path / "c.json",
                  DriftingClock(lambda: t["now"]))
    assert not box2.enter(code).opened  # expired after the hour (+ grace)
    assert admin.post(f"/api/v1/locks/{lock_pk}/emergency-code", json={"reason": ""}) \
        .status_code == 422
    assert admin.post(f"/api/v1/locks/{lock_pk}/remote-unlock", json={"reason": "停電"}) \
        .status_code == 400  # offline box: no remote unlock


def test_sync_raises_booking_aware_alerts_and_predicts_battery(admin, app, database, tmp_path,
                                                               now):
    from api.locks import service
    from api.models import LockAlert

    ls = wire(app, tmp_path)
    fid, lock_pk = create_site(admin)
    # Bookings from 3 days ahead; the status seen at ``now`` predicts from the syncs.
    t0 = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=3)
    b_noshow = book(admin, fid, t0, 1, "x@example.jp")
    b_used = book(admin, fid, t0 + timedelta(hours=3), 1, "y@example.jp")
    t = {"now": t0.timestamp() - 86400}
    box = KeyBox("aso-keybox-07", key_of(database, ls, lock_pk), 0, tmp_path / "box.json",
                 DriftingClock(lambda: t["now"]), battery=60.0)

    def sync(at: datetime) -> None:
        t["now"] = at.timestamp()
        with database.session() as s:
            answer = service.staff_sync(s, ls, s.get(SmartLock, lock_pk), box.sync_upload(),
                                        now=at, actor="staff")
            s.commit()
        assert box.sync_apply(answer)

    sync(t0 - timedelta(days=1))
    with database.session() as s:
        pin_used = [p for p in s.query(IssuedPin).filter_by(booking_id=b_used)]
        assert len(pin_used) == 1
    pin = admin.get(f"/api/v1/bookings/{b_used}/pins").json()[0]["pin"]
    t["now"] = (t0 + timedelta(hours=3, minutes=5)).timestamp()
    assert box.enter(pin).opened
    box.door(True)  # opened, and never closed: left open after the booking
    t["now"] = (t0 + timedelta(hours=8)).timestamp()
    box.door(False)
    box.door(True)  # opened outside any booking (a key kept back)
    box.door(False)
    for i in range(6):  # someone trying codes
        t["now"] = (t0 + timedelta(hours=9, minutes=i)).timestamp()
        box.enter(f"{i:010d}")
    box.battery = 55.0
    sync(t0 + timedelta(hours=10))
    with database.session() as s:
        alerts = {(a.kind, a.booking_id) for a in s.query(LockAlert).all()}
    assert ("no_show", b_noshow) in alerts
    assert ("left_open", b_used) in alerts
    assert ("opened_outside_booking", None) in alerts
    assert ("repeated_wrong_codes", None) in alerts
    assert ("no_show", b_used) not in alerts
    # a second sync with nothing new adds no duplicate alert
    n = len(alerts)
    sync(t0 + timedelta(hours=11))
    with database.session() as s:
        assert s.query(LockAlert).count() == n
    status = admin.get(f"/api/v1/locks/{lock_pk}").json()
    assert status["battery_percent"] == 55.0 and not status["low_battery"]
    assert status["battery_days_left"] is not None and status["battery_days_left"] > 0
