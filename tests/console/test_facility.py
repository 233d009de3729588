"""The facility clerks' page: a facility user (no office pages, no staff link) lands on the
bookings, registers a booking and marks it paid through forms carrying the session's CSRF
token; the bookings service issues the PINs and queues their email in the mail outbox."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.mail.settings import SmtpSettings
from api.models import AuditLog, Booking, IssuedPin, MailKind, MailOutbox, MailStatus
from api.users.auth import CSRF_COOKIE
from gate.business_day import JST
from tests.console.conftest import log_in
from tests.locks.helpers import create_site, free_port, wire

pytestmark = pytest.mark.postgres
PAGE = "/console/facility/bookings"


@pytest.fixture
def clerk(app, admin, tmp_path) -> TestClient:  # type: ignore[no-untyped-def]
    """A facility clerk logged in; the app's mail sender is off, so a PIN email stays queued
    where the test can see it."""
    wire(app, tmp_path, SmtpSettings(host="127.0.0.1", port=free_port(), sender_enabled=False))
    return log_in(app, admin, "shisetsu", "facility")


def _slot(now: datetime, hours: int = 2) -> tuple[str, str]:
    """Tomorrow 10:00 JST and ``hours`` later, as a datetime-local field holds them."""
    start = (now + timedelta(days=1)).astimezone(JST).replace(hour=10, minute=0, second=0,
                                                              microsecond=0)
    return (start.strftime("%Y-%m-%dT%H:%M"),
            (start + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M"))


def _form(client: TestClient, now: datetime, **fields: str) -> dict[str, str]:
    start, end = _slot(now)
    return {"facility": "aso-gym", "start": start, "end": end, "booker_name": "山田 花子",
            "booker_email": "hanako@example.jp", "csrf_token": client.cookies[CSRF_COOKIE],
            **fields}


def _count(database, model) -> int:  # type: ignore[no-untyped-def]
    with database.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_a_facility_user_lands_on_the_bookings_and_sees_no_office_page(app, admin) -> None:
    made = admin.post("/admin/users", json={"username": "uketsuke", "role": "facility"}).json()
    browser = TestClient(app, base_url="https://testserver")
    r = browser.post("/console/login", data={"username": "uketsuke",
                                             "password": made["password"]},
                     follow_redirects=False)  # no TOTP code for this role
    assert r.status_code == 303 and r.headers["location"] == PAGE
    page = browser.get(PAGE)
    assert page.status_code == 200 and "施設予約" in page.text and "予約を登録" in page.text
    assert 'href="/console/facility/bookings"' in page.text
    assert 'href="/console/events"' not in page.text and "/console/me/timesheet" not in page.text
    assert browser.get("/console").status_code == 403
    assert browser.get("/console/staff/1001/cards").status_code == 403


def test_register_a_booking_then_mark_it_paid(clerk, admin, database, now) -> None:
    create_site(admin)
    no_token = clerk.post(PAGE, data={**_form(clerk, now), "csrf_token": ""},
                          follow_redirects=False)
    assert no_token.status_code == 403 and _count(database, Booking) == 0
    r = clerk.post(PAGE, data=_form(clerk, now), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{PAGE}?done=registered"
    page = clerk.get(r.headers["location"]).text
    start, end = (t.replace("T", " ") for t in _slot(now))
    assert f"{start} 〜 {end}" in page and "山田 花子" in page and "阿蘇市総合体育館" in page
    assert "未払い" in page and "支払済みにする" in page
    with database.session() as s:
        b = s.scalars(select(Booking)).one()
        assert (b.payment_status, b.source) == ("pending", "console")
        assert b.start_at == datetime.fromisoformat(_slot(now)[0]).replace(tzinfo=JST)
    assert _count(database, MailOutbox) == 0  # nothing to tell before the payment

    stale = clerk.post(f"{PAGE}/{b.id}/paid", data={"csrf_token": "x"}, follow_redirects=False)
    assert stale.status_code == 403 and _count(database, IssuedPin) == 0
    paid = clerk.post(f"{PAGE}/{b.id}/paid", data={"csrf_token": clerk.cookies[CSRF_COOKIE]},
                      follow_redirects=False)
    assert paid.status_code == 303 and paid.headers["location"] == f"{PAGE}?done=paid"
    after = clerk.get(paid.headers["location"]).text
    assert "支払済み" in after and "送信待ち" in after and "支払済みにする" not in after
    with database.session() as s:
        mail = s.scalars(select(MailOutbox)).one()
        assert (mail.kind, mail.status, mail.booking_id) == (MailKind.PIN, MailStatus.QUEUED, b.id)
        actors = set(s.scalars(select(AuditLog.actor).where(
            AuditLog.action.in_(["booking.create", "booking.paid"]))))
        assert actors == {"shisetsu"}
    assert _count(database, IssuedPin) == 1


def test_a_paid_booking_gets_its_pin_email_queued_at_once(clerk, admin, database, now) -> None:
    create_site(admin)
    r = clerk.post(PAGE, data=_form(clerk, now, paid="1"), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{PAGE}?done=paid"
    with database.session() as s:
        assert s.scalars(select(Booking.payment_status)).one() == "paid"
        assert s.scalars(select(MailOutbox.status)).one() == MailStatus.QUEUED


@pytest.mark.parametrize("change", [
    {"booker_name": "番号 1234 5678 9012"},  # 12 digits are refused
    {"booker_email": "not-an-address"},
    {"facility": "no-such-facility"},
    {"start": "2026-12-01T10:00+09:00"},  # only what the field sends, typed in JST
    {"end": ""},
])
def test_bad_input_is_refused_and_nothing_is_made(clerk, admin, database, now,
                                                  change) -> None:
    create_site(admin)
    r = clerk.post(PAGE, data=_form(clerk, now, **change), follow_redirects=False)
    assert r.status_code == 422 and "名前とメールアドレス" in r.text
    assert _count(database, Booking) == 0


def test_the_end_before_the_start_is_refused(clerk, admin, database, now) -> None:
    create_site(admin)
    start, end = _slot(now)
    r = clerk.post(PAGE, data=_form(clerk, now, start=end, end=start), follow_redirects=False)
    assert r.status_code == 422 and _count(database, Booking) == 0


def test_a_paid_booking_at_a_facility_without_a_lock_is_not_half_made(clerk, database, now,
                                                                      booking) -> None:
    r = clerk.post(PAGE, data=_form(clerk, now, facility="gym", paid="1"),
                   follow_redirects=False)
    assert r.status_code == 409 and "この操作はできません" in r.text
    assert _count(database, Booking) == 1  # only the fixture's: the new one was rolled back
    assert _count(database, MailOutbox) == 0
    again = clerk.post(f"{PAGE}/{booking}/paid", data={"csrf_token": clerk.cookies[CSRF_COOKIE]},
                       follow_redirects=False)
    assert again.status_code == 409
    with database.session() as s:
        assert s.get(Booking, booking).payment_status == "pending"  # type: ignore[union-attr]


def test_an_auditor_reads_the_bookings_and_cannot_change_them(app, admin, database,
                                                              booking) -> None:
    auditor = log_in(app, admin, "kansa", "auditor")
    page = auditor.get(PAGE)
    assert page.status_code == 200 and "鈴木一郎" in page.text and "未払い" in page.text
    assert 'name="csrf_token"' not in page.text  # no form
    denied = auditor.post(f"{PAGE}/{booking}/paid",
                          data={"csrf_token": auditor.cookies[CSRF_COOKIE]})
    assert denied.status_code == 403
    with database.session() as s:
        assert s.get(Booking, booking).payment_status == "pending"  # type: ignore[union-attr]


@pytest.mark.parametrize("role", ["security", "hr", "supervisor", "staff"])
def test_roles_outside_the_facility_rule_get_403(login_as, database, booking, role) -> None:
    client = login_as(f"u-{role}", role)
    assert client.get(PAGE).status_code == 403
    r = client.post(f"{PAGE}/{booking}/paid", data={})
    assert r.status_code == 403
    with database.session() as s:
        assert s.get(Booking, booking).payment_status == "pending"  # type: ignore[union-attr]


def test_resend_the_pin_email_then_cancel_with_a_confirmation(clerk, admin, database,
                                                              now) -> None:
    create_site(admin)
    clerk.post(PAGE, data=_form(clerk, now, paid="1"))
    with database.session() as s:
        bid = s.scalars(select(Booking.id)).one()
    token = {"csrf_token": clerk.cookies[CSRF_COOKIE]}
    r = clerk.post(f"{PAGE}/{bid}/send-pin", data=token, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{PAGE}?done=resent"
    with database.session() as s:  # the untried email is replaced by the new one
        assert sorted(s.scalars(select(MailOutbox.status))) == [MailStatus.CANCELLED,
                                                               MailStatus.QUEUED]
    unconfirmed = clerk.post(f"{PAGE}/{bid}/cancel", data=token, follow_redirects=False)
    assert unconfirmed.status_code == 422 and "「取り消します」にチェック" in unconfirmed.text
    with database.session() as s:
        assert s.get(Booking, bid).payment_status == "paid"  # type: ignore[union-attr]
    r = clerk.post(f"{PAGE}/{bid}/cancel", data={**token, "confirm": "1"},
                   follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{PAGE}?done=cancelled"
    page = clerk.get(r.headers["location"]).text
    assert "予約を取り消しました" in page and "取消" in page
    assert f"/{bid}/cancel" not in page and f"/{bid}/send-pin" not in page
    with database.session() as s:
        assert s.get(Booking, bid).payment_status == "cancelled"  # type: ignore[union-attr]
        assert s.scalars(select(IssuedPin.status)).one() == "revoked"
        queued = s.scalars(select(MailOutbox.kind).where(
            MailOutbox.status == MailStatus.QUEUED)).all()
        assert queued == [MailKind.BOOKING_CANCELLED]  # the PIN email is not sent after all
    assert clerk.post(f"{PAGE}/{bid}/send-pin", data=token).status_code == 409


def test_the_booking_language_is_chosen_at_registration_and_at_resend(clerk, admin, database,
                                                                       now) -> None:
    create_site(admin)
    page = clerk.get(PAGE).text
    assert "予約者へのメールの言語" in page and '<option value="en" lang="en" >English</option>' \
        in page
    bad = clerk.post(PAGE, data=_form(clerk, now, paid="1", language="fr"),
                     follow_redirects=False)
    assert bad.status_code == 422 and _count(database, Booking) == 0
    r = clerk.post(PAGE, data=_form(clerk, now, paid="1", language="en"),
                   follow_redirects=False)
    assert r.status_code == 303
    with database.session() as s:
        bid, language = s.execute(select(Booking.id, Booking.language)).one()
    assert language == "en"
    listed = clerk.get(PAGE).text
    assert '<span lang="en">English</span>' in listed
    assert '<option value="en" lang="en" selected>English</option>' in listed  # the resend form
    token = {"csrf_token": clerk.cookies[CSRF_COOKIE]}
    unknown = clerk.post(f"{PAGE}/{bid}/send-pin", data={**token, "language": "xx"},
                         follow_redirects=False)
    assert unknown.status_code == 422 and "日本語か英語を選んでください" in unknown.text
    r = clerk.post(f"{PAGE}/{bid}/send-pin", data={**token, "language": "ja"},
                   follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{PAGE}?done=resent"
    with database.session() as s:
        assert s.get(Booking, bid).language == "ja"  # type: ignore[union-attr]
        actors = s.scalars(select(AuditLog.actor).where(
            AuditLog.action == "booking.language")).all()
        queued = s.scalars(select(MailOutbox.id).where(
            MailOutbox.status == MailStatus.QUEUED)).all()
    assert actors == ["shisetsu"] and len(queued) == 1
