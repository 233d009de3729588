"""A booking's language: its PIN, reissue and cancellation emails are written in it through the
shared gettext catalogs (Japanese by default, English when the booking says so); the admin API,
the webhook and the CSV import take it, and an unknown value is refused where it came in."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from api.models import AuditLog, Booking
from gate.business_day import JST

from .helpers import PIN_RE, SmtpServer, create_site, text_of, wire
from .test_import_webhook import post_hook

# Kana, kanji, CJK punctuation and full-width forms: what a Japanese template line is made of.
JAPANESE = re.compile(r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]")
# The site's own data (create_site), written in Japanese by the facility: not template text.
SITE_DATA = ("阿蘇市総合体育館", "熊本県阿蘇市一の宮町", "阿蘇市教育課 0967-00-0000", "正面入口",
             "テンキーで暗証番号を入力し「確認」を押してください。利用後は扉を閉め施錠してください。")
EN_PIN = re.compile(r"■ PIN \(正面入口\): (?P<pin>\d{10})")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CSV_HEADER = "予約番号,施設コード,開始,終了,氏名,メールアドレス,支払状況,言語\n"


def _slot(now: datetime) -> tuple[datetime, datetime]:
    start = (now + timedelta(days=8)).astimezone(JST).replace(hour=10, minute=0, second=0,
                                                             microsecond=0)
    return start, start + timedelta(hours=2)


def _book(admin, fid: int, now: datetime, email: str, **fields: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    start, end = _slot(now)
    r = admin.post("/api/v1/bookings", json={
        "facility_id": fid, "start_at": start.isoformat(), "end_at": end.isoformat(),
        "booker_name": "Jane Smith", "booker_email": email, "payment_status": "paid", **fields})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _without_site_data(mail: str) -> str:
    for value in SITE_DATA:
        mail = mail.replace(value, "")
    return mail


def test_an_english_booking_gets_an_english_pin_email_and_a_japanese_one_is_unchanged(
        admin, app, tmp_path, now):
    with SmtpServer() as smtp:
        wire(app, tmp_path, smtp.settings())
        fid, _lock = create_site(admin)
        en = _book(admin, fid, now, "jane@example.com", language="en")
        ja = _book(admin, fid, now, "hanako@example.jp")
        smtp.inbox.wait(2)
    assert (en["language"], ja["language"]) == ("en", "ja")  # Japanese unless told otherwise
    by_rcpt = {rcpt[0]: msg for (_f, rcpt), msg in zip(smtp.inbox.envelopes,
                                                       smtp.inbox.messages, strict=True)}
    en_mail, ja_mail = by_rcpt["jane@example.com"], by_rcpt["hanako@example.jp"]
    start, end = _slot(now)
    en_body = text_of(en_mail)
    assert en_mail["Subject"] == f"[PIN] PIN for 阿蘇市総合体育館 (booking {en['id']})"
    assert en_body.startswith("Dear Jane Smith,\n")
    assert (f"■ Date and time: {start:%Y-%m-%d} ({WEEKDAYS[start.weekday()]}) 10:00 to "
            f"{end:%Y-%m-%d} ({WEEKDAYS[end.weekday()]}) 12:00 (Japan time)") in en_body
    assert EN_PIN.search(en_body) is not None and PIN_RE.search(en_body) is None
    assert "Enter the 10-digit PIN on the keypad" in en_body
    assert "The facility's own notes (in Japanese): テンキーで" in en_body
    leftover = JAPANESE.findall(_without_site_data(f"{en_mail['Subject']}\n{en_body}"))
    assert leftover == [], leftover  # no Japanese template text in the English email

    ja_body = text_of(ja_mail)
    # (the space between two encoded words of the folded header does not survive decoding)
    assert ja_mail["Subject"].startswith("【暗証番号】阿蘇市総合体育館")
    assert ja_mail["Subject"].endswith(f"ご利用の暗証番号（予約番号 {ja['id']}）")
    assert ja_body.startswith("Jane Smith 様\n")
    assert PIN_RE.search(ja_body) is not None and "テンキーで暗証番号を入力" in ja_body
    assert "Dear" not in ja_body and "The facility's own notes" not in ja_body


def test_resend_in_english_then_the_reissue_and_cancel_emails_follow_it(
        admin, app, database, tmp_path, now):
    with SmtpServer() as smtp:
        wire(app, tmp_path, smtp.settings())
        fid, _lock = create_site(admin)
        b = _book(admin, fid, now, "jane@example.com")
        [first] = smtp.inbox.wait(1)
        assert admin.post(f"/api/v1/bookings/{b['id']}/send-pin",
                          params={"language": "fr"}).status_code == 422
        r = admin.post(f"/api/v1/bookings/{b['id']}/send-pin", params={"language": "en"})
        assert r.status_code == 202 and r.json()["language"] == "en"
        [_, resent] = smtp.inbox.wait(2)
        assert admin.post(f"/api/v1/bookings/{b['id']}/reissue").status_code == 200
        [_, _, reissued] = smtp.inbox.wait(3)
        assert admin.post(f"/api/v1/bookings/{b['id']}/cancel").status_code == 200
        [_, _, _, notice] = smtp.inbox.wait(4)
    assert "暗証番号" in first["Subject"] and "PIN for" in resent["Subject"]
    assert EN_PIN.search(text_of(resent))["pin"] == PIN_RE.search(text_of(first))["pin"]  # type: ignore[index]
    assert reissued["Subject"] == f"[Reissued] PIN for 阿蘇市総合体育館 (booking {b['id']})"
    assert JAPANESE.findall(_without_site_data(text_of(reissued))) == []
    assert notice["Subject"] == f"[Cancelled] Your booking of 阿蘇市総合体育館 (booking {b['id']})"
    assert "The PIN we sent no longer works." in text_of(notice)
    assert JAPANESE.findall(_without_site_data(text_of(notice))) == []
    with database.session() as s:
        changes = s.scalars(select(AuditLog.after).where(
            AuditLog.action == "booking.language")).all()
    assert changes == [{"language": "en"}]


def test_the_webhook_takes_the_language_and_refuses_an_unknown_one(admin, app, client,
                                                                   database, tmp_path, now):
    wire(app, tmp_path)
    create_site(admin)
    start, end = _slot(now)
    event = {"event": "booking.created", "external_ref": "W-EN", "facility_code": "aso-gym",
             "start_at": start.isoformat(), "end_at": end.isoformat(),
             "booker_name": "Jane Smith", "booker_email": "jane@example.com", "language": "de"}
    r = post_hook(client, event, now)
    assert r.status_code == 400 and r.json()["field"] == "language"
    with database.session() as s:
        assert s.query(Booking).count() == 0
    r = post_hook(client, {**event, "language": "en"}, now)
    assert r.status_code == 200 and r.json()["language"] == "en"
    # a later event of the booking system may change it; one without it leaves it
    r = post_hook(client, {"event": "booking.created", "external_ref": "W-EN",
                           "language": "ja"}, now + timedelta(seconds=1))
    assert r.status_code == 200 and r.json()["language"] == "ja"
    r = post_hook(client, {"event": "booking.created", "external_ref": "W-EN"},
                  now + timedelta(seconds=2))
    assert r.json()["language"] == "ja"


def test_the_csv_language_column_is_optional_and_an_unknown_value_names_its_line(
        admin, app, database, tmp_path):
    wire(app, tmp_path)
    create_site(admin)
    rows = ("R-1,aso-gym,2026-12-05 09:00,2026-12-05 11:00,田中 太郎,taro@example.jp,未払,日本語\n"
            "R-2,aso-gym,2026-12-05 12:00,2026-12-05 13:00,Jane Smith,jane@example.com,未払,EN\n"
            "R-3,aso-gym,2026-12-05 14:00,2026-12-05 15:00,田中 三郎,saburo@example.jp,未払,\n")
    bad = CSV_HEADER + rows + \
        "R-4,aso-gym,2026-12-05 16:00,2026-12-05 17:00,Jan Jansen,jan@example.nl,未払,nl\n"
    r = admin.post("/api/v1/bookings/import", content=bad.encode(),
                   headers={"content-type": "text/csv"})
    assert r.status_code == 400, r.text
    assert [(e["line"], e["field"]) for e in r.json()["errors"]] == [(5, "language")]
    assert "line 5: language" in r.json()["detail"]
    with database.session() as s:
        assert s.query(Booking).count() == 0  # nothing imported
    r = admin.post("/api/v1/bookings/import", content=(CSV_HEADER + rows).encode(),
                   headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    with database.session() as s:
        got = dict(s.execute(select(Booking.external_ref, Booking.language)).all())
    assert got == {"R-1": "ja", "R-2": "en", "R-3": "ja"}  # an empty cell: Japanese


def test_the_database_keeps_only_known_languages(admin, app, database, tmp_path, now):
    wire(app, tmp_path)
    fid, _lock = create_site(admin)
    bid = _book(admin, fid, now, "jane@example.com", payment_status="pending")["id"]
    with database.session() as s, pytest.raises(IntegrityError):
        s.execute(text("UPDATE booking SET language = 'fr' WHERE id = :id"), {"id": bid})
        s.flush()
