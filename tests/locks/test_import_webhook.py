"""Bookings from the existing booking system: CSV import (all or nothing, line-precise errors)
and the signed, replay-protected webhook; reissue."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from api.bookings.service import webhook_signature
from api.models import Booking, IssuedPin

from .helpers import PIN_RE, SmtpServer, create_site, text_of, wire

HEADER = "予約番号,施設コード,開始,終了,氏名,メールアドレス,支払状況\n"


def test_csv_import_all_or_nothing_with_line_numbers(admin, app, database, tmp_path):
    wire(app, tmp_path)
    create_site(admin)
    bad = (HEADER
           + "R-1,aso-gym,2026-12-05 09:00,2026-12-05 11:00,田中 太郎,taro@example.jp,未払\n"
           + "R-2,no-such,2026-12-05 09:00,2026-12-05 11:00,田中 次郎,jiro@example.jp,未払\n"
           + "R-3,aso-gym,2026-12-05 12:00,2026-12-05 11:00,田中 三郎,saburo@example.jp,未払\n"
           + "R-4,aso-gym,2026-12-05 13:00,2026-12-05 14:00,田中 四郎,not-an-email,未払\n")
    r = admin.post("/api/v1/bookings/import", content=bad.encode(),
                   headers={"content-type": "text/csv"})
    assert r.status_code == 400, r.text
    errs = {(e["line"], e["field"]) for e in r.json()["errors"]}
    assert errs == {(3, "facility_code"), (4, "end"), (5, "booker_email")}, errs
    assert "line 3" in r.json()["detail"]
    with database.session() as s:
        assert s.query(Booking).count() == 0  # nothing imported
    good = (HEADER
            + "R-1,aso-gym,2026-12-05 09:00,2026-12-05 11:00,田中 太郎,taro@example.jp,未払\n"
            + "R-2,aso-gym,2026-12-06T09:00+09:00,2026-12-06T10:00+09:00,田中 次郎,"
              "jiro@example.jp,支払済\n")
    with SmtpServer() as smtp:
        app.state.smtp_settings = smtp.settings()
        r = admin.post("/api/v1/bookings/import", content=("\ufeff" + good).encode(),
                       headers={"content-type": "text/csv"})
        assert r.status_code == 200, r.text
        assert (r.json()["created"], r.json()["paid"]) == (2, 1)
        [msg] = smtp.inbox.wait(1)
    assert "2026年12月06日(日) 09:00" in text_of(msg)
    with database.session() as s:
        b = s.query(Booking).filter_by(external_ref="R-1").one()
        assert b.source == "csv" and b.start_at.hour == 0  # 09:00 JST = 00:00 UTC
        assert s.query(IssuedPin).count() == 1
    # a second import of the same rows is refused, naming the line
    r = admin.post("/api/v1/bookings/import", content=good.encode(),
                   headers={"content-type": "text/csv"})
    assert r.status_code == 400 and "line 2: external_ref" in r.json()["detail"]


def post_hook(client, body: dict, at: datetime,  # type: ignore[no-untyped-def]
              secret: str = "test-webhook-secret"):
    """The booking system's webhook, signed at ``at`` by its clock."""
    raw = json.dumps(body).encode()
    t = str(int(at.timestamp()))
    return client.post("/api/v1/bookings/webhook", content=raw, headers={
        "content-type": "application/json", "X-Mynagate-Timestamp": t,
        "X-Mynagate-Signature": "sha256=" + webhook_signature(secret, t, raw)})


def test_webhook_signed_and_replay_protected_then_reissue(admin, app, client, database,
                                                          tmp_path, now):
    wire(app, tmp_path)
    create_site(admin)
    event = {"event": "booking.created", "external_ref": "W-1", "facility_code": "aso-gym",
             "start_at": (now + timedelta(days=8)).isoformat(),
             "end_at": (now + timedelta(days=8, hours=2)).isoformat(),
             "booker_name": "高橋 三郎", "booker_email": "saburo@example.jp"}
    assert post_hook(client, event, now, secret="wrong").status_code == 401
    assert post_hook(client, event, now - timedelta(hours=1)).status_code == 401  # too old
    raw = json.dumps(event).encode()
    t = str(int(now.timestamp()))
    headers = {"content-type": "application/json", "X-Mynagate-Timestamp": t,
               "X-Mynagate-Signature": webhook_signature("test-webhook-secret", t, raw)}
    r = client.post("/api/v1/bookings/webhook", content=raw, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["source"] == "webhook" and r.json()["payment_status"] == "pending"
    again = client.post("/api/v1/bookings/webhook", content=raw, headers=headers)
    assert again.status_code == 409  # replay
    tampered = client.post("/api/v1/bookings/webhook", content=raw.replace(b"W-1", b"W-2"),
                           headers=headers)
    assert tampered.status_code == 401
    with SmtpServer() as smtp:
        app.state.smtp_settings = smtp.settings()
        r = post_hook(client, {"event": "booking.paid", "external_ref": "W-1"}, now)
        assert r.status_code == 200 and r.json()["payment_status"] == "paid"
        [m1] = smtp.inbox.wait(1)
        bid = r.json()["id"]
        r = admin.post(f"/api/v1/bookings/{bid}/reissue")
        assert r.status_code == 200, r.text
        [_, m2] = smtp.inbox.wait(2)
    assert "再発行" in m2["Subject"]
    old, new = PIN_RE.search(text_of(m1))["pin"], PIN_RE.search(text_of(m2))["pin"]  # type: ignore[index]
    assert old != new and old[:4] == new[:4]  # same window, another variant
    with database.session() as s:
        states = sorted((p.status, p.revocation_state, p.variant)
                        for p in s.query(IssuedPin).all())
    assert states == [("active", "none", 1), ("revoked", "pending", 0)]
    # webhook cancel
    r = post_hook(client, {"event": "booking.cancelled", "external_ref": "W-1"}, now)
    assert r.json()["payment_status"] == "cancelled"
