"""Paid booking → Japanese PIN email through a real SMTP server → the key box opens with the
emailed PIN only inside its slot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.locks.secrets import lock_key
from api.models import IssuedPin, SmartLock
from reader_agent.lock_emulator import DriftingClock, KeyBox

from .helpers import PIN_RE, SmtpServer, create_site, text_of, wait_sent, wire

START = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 10:00 JST
END = START + timedelta(hours=2)


def test_paid_booking_emails_japanese_pin_that_opens_only_in_slot(admin, app, database,
                                                                   tmp_path):
    with SmtpServer() as smtp:
        ls = wire(app, tmp_path, smtp.settings())
        fid, lock_pk = create_site(admin)
        r = admin.post("/api/v1/bookings", json={
            "facility_id": fid, "start_at": START.isoformat(), "end_at": END.isoformat(),
            "booker_name": "山田 花子", "booker_email": "hanako@example.jp"})
        assert r.status_code == 201, r.text
        bid = r.json()["id"]
        assert smtp.inbox.messages == []  # nothing before payment
        r = admin.post(f"/api/v1/bookings/{bid}/paid")
        assert r.status_code == 200 and r.json()["payment_status"] == "paid"
        [msg] = smtp.inbox.wait(1)
    assert smtp.inbox.envelopes[0][1] == ["hanako@example.jp"]
    assert "暗証番号" in msg["Subject"] and "阿蘇市総合体育館" in msg["Subject"]
    body = text_of(msg)
    assert "山田 花子 様" in body
    assert "2026年12月01日(火) 10:00 〜 2026年12月01日(火) 12:00（日本時間）" in body
    assert "テンキーで暗証番号を入力" in body and "阿蘇市教育課 0967-00-0000" in body
    m = PIN_RE.search(body)
    assert m is not None and m["lock"] == "正面入口"
    pin = m["pin"]
    assert wait_sent(admin, bid)["emailed_at"] is not None

    # the PIN is not stored anywhere in the database
    with database.session() as s:
        row = s.query(IssuedPin).one()
        assert pin not in repr({c.name: getattr(row, c.name) for c in row.__table__.columns})
        key = lock_key(s, ls, s.get(SmartLock, lock_pk))
        s.commit()

    t = {"now": START.timestamp() - 3600}
    clock = DriftingClock(lambda: t["now"])
    box = KeyBox("aso-keybox-07", key, 0, tmp_path / "box.json", clock)

    def try_at(when: datetime) -> bool:
        t["now"] = when.timestamp()
        box.throttle = type(box.throttle)()  # these are legitimate tries, not an attack
        return box.enter(pin).opened

    assert not try_at(START - timedelta(minutes=16))
    assert try_at(START - timedelta(minutes=15))  # one slot of early grace
    assert try_at(START + timedelta(minutes=1))
    assert try_at(END - timedelta(seconds=1))
    assert try_at(END + timedelta(minutes=14))  # late grace
    assert not try_at(END + timedelta(minutes=15))
    assert not try_at(START + timedelta(days=1))  # same time the next day
    # a changed digit never opens, even inside the slot
    t["now"] = START.timestamp() + 60
    box.throttle = type(box.throttle)()
    wrong = pin[:-1] + str((int(pin[-1]) + 1) % 10)
    assert box.enter(wrong).reason == "wrong_code"


def test_long_booking_gets_one_code_per_day(admin, app, database, tmp_path):
    """A 30-hour booking: two PINs (23 h 30 min + 6 h 30 min), each opening in its own part."""
    with SmtpServer() as smtp:
        ls = wire(app, tmp_path, smtp.settings())
        fid, lock_pk = create_site(admin)
        r = admin.post("/api/v1/bookings", json={
            "facility_id": fid, "start_at": START.isoformat(),
            "end_at": (START + timedelta(hours=30)).isoformat(), "booker_name": "合宿 代表",
            "booker_email": "camp@example.jp", "payment_status": "paid"})
        assert r.status_code == 201, r.text
        [msg] = smtp.inbox.wait(1)
    pins = [m["pin"] for m in PIN_RE.finditer(text_of(msg))]
    assert len(pins) == 2 and pins[0] != pins[1]
    assert "有効期間: 2026年12月01日(火) 09:45 〜 2026年12月02日(水) 09:45" in text_of(msg)
    with database.session() as s:
        key = lock_key(s, ls, s.get(SmartLock, lock_pk))
    t = {"now": 0.0}
    box = KeyBox("aso-keybox-07", key, 0, tmp_path / "long.json", DriftingClock(lambda: t["now"]))

    def opens(pin: str, at: datetime) -> bool:
        t["now"] = at.timestamp()
        box.throttle = type(box.throttle)()
        return box.enter(pin).opened

    assert opens(pins[0], START + timedelta(hours=1))
    assert not opens(pins[1], START + timedelta(hours=1))
    assert opens(pins[1], START + timedelta(hours=29))
    assert not opens(pins[0], START + timedelta(hours=29))
