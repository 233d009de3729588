"""The mail outbox: PIN emails queued with the booking, delivered with retries through a real
SMTP server (aiosmtpd on loopback) that goes away and comes back, never twice."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from api.mail import repository as mail_repo
from api.mail.outbox import INTERRUPTED, MailHandler, enqueue, send_pending
from api.mail.settings import SmtpSettings
from api.mail_delivery import deliver_outbox
from api.models import MailKind, MailOutbox, MailStatus
from mynagate_cli import app as cli

from .helpers import PIN_RE, Inbox, SmtpServer, create_site, text_of, wait_sent, wire

START = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 10:00 JST


def book(admin, fid: int, email: str = "mori@example.jp", hours: int = 0) -> dict:  # type: ignore[no-untyped-def]
    r = admin.post("/api/v1/bookings", json={
        "facility_id": fid, "start_at": (START + timedelta(hours=hours)).isoformat(),
        "end_at": (START + timedelta(hours=hours + 1)).isoformat(), "booker_name": "森 一郎",
        "booker_email": email, "payment_status": "paid"})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def mail_of(database, booking_id: int) -> MailOutbox:  # type: ignore[no-untyped-def]
    with database.session() as s:
        return mail_repo.latest_for_bookings(s, [booking_id])[booking_id]


def deliver(app, now: datetime):  # type: ignore[no-untyped-def]
    return deliver_outbox(app.state.db, app.state.smtp_settings, app.state.lock_settings,
                          now=now)


def test_smtp_settings_from_env(monkeypatch):
    monkeypatch.setenv("MYNAGATE_SMTP_HOST", "mail.example.lg.jp")
    monkeypatch.setenv("MYNAGATE_SMTP_PORT", "2525")
    monkeypatch.setenv("MYNAGATE_SMTP_FROM", "shisetsu@example.lg.jp")
    monkeypatch.setenv("MYNAGATE_SMTP_RETRY_ATTEMPTS", "4")
    s = SmtpSettings()
    assert (s.host, s.port, s.from_addr, s.retry_attempts) == (
        "mail.example.lg.jp", 2525, "shisetsu@example.lg.jp", 4)


def test_smtp_down_at_booking_then_back_delivers_exactly_one_email(admin, app, database,
                                                                   tmp_path):
    smtp = SmtpServer().start()
    wire(app, tmp_path, smtp.settings(sender_enabled=False, retry_jitter_s=0))
    fid, _ = create_site(admin)
    smtp.stop()  # the mail server goes away
    b = book(admin, fid)
    assert (b["payment_status"], b["mail_status"], b["mail_attempts"]) == ("paid", "queued", 0)
    t0 = mail_of(database, b["id"]).next_attempt_at  # due as of the commit

    assert deliver(app, t0)[MailStatus.QUEUED] == 1
    got = admin.get(f"/api/v1/bookings/{b['id']}").json()
    assert (got["mail_status"], got["mail_attempts"], got["emailed_at"]) == ("queued", 1, None)
    assert "ConnectionRefusedError" in got["mail_last_error"]
    assert mail_of(database, b["id"]).next_attempt_at == t0 + timedelta(seconds=30)

    smtp.start()  # back, on the same port
    try:
        assert sum(deliver(app, t0 + timedelta(seconds=29)).counts.values()) == 0  # not due
        assert deliver(app, t0 + timedelta(seconds=30))[MailStatus.SENT] == 1
        [msg] = smtp.inbox.wait(1)
        assert sum(deliver(app, t0 + timedelta(hours=5)).counts.values()) == 0
        time.sleep(0.3)
    finally:
        smtp.stop()
    assert len(smtp.inbox.messages) == 1
    assert PIN_RE.search(text_of(msg)) is not None and msg["To"] == "mori@example.jp"
    got = admin.get(f"/api/v1/bookings/{b['id']}").json()
    assert (got["mail_status"], got["mail_attempts"]) == ("sent", 2)
    assert got["emailed_at"] is not None


def test_service_sender_retries_in_the_background_until_the_server_is_back(admin, app,
                                                                          database, tmp_path):
    """The sender thread the app runs (no explicit call): SMTP down at booking, up later."""
    smtp = SmtpServer()
    wire(app, tmp_path, smtp.settings(retry_initial_s=0.2, retry_jitter_s=0,
                                      sender_interval_s=0.05))
    fid, _ = create_site(admin)
    bid = book(admin, fid)["id"]
    deadline = time.monotonic() + 10
    while mail_of(database, bid).attempts < 2:  # it tried, failed, and tried again
        assert time.monotonic() < deadline, "the background sender never tried"
        time.sleep(0.05)
    assert mail_of(database, bid).status in (MailStatus.QUEUED, MailStatus.SENDING)
    with smtp:
        smtp.inbox.wait(1)
        time.sleep(0.6)  # several more sender passes and retry periods
    assert len(smtp.inbox.messages) == 1
    assert wait_sent(admin, bid)["mail_status"] == "sent"


def test_attempts_used_up_is_failed_and_listed_for_admins_then_retried(admin, app, database,
                                                                       tmp_path):
    smtp = SmtpServer()
    wire(app, tmp_path, smtp.settings(sender_enabled=False, retry_attempts=3,
                                      retry_jitter_s=0))
    fid, _ = create_site(admin)
    bid = book(admin, fid)["id"]
    t = mail_of(database, bid).next_attempt_at
    for wait_s in (0, 30, 60):
        t += timedelta(seconds=wait_s)
        deliver(app, t)
    got = admin.get(f"/api/v1/bookings/{bid}").json()
    assert (got["mail_status"], got["mail_attempts"]) == ("failed", 3)
    assert "ConnectionRefusedError" in got["mail_last_error"]
    assert sum(deliver(app, t + timedelta(days=1)).counts.values()) == 0  # given up

    page = admin.get("/admin/mail/failed").json()
    assert page["total"] == 1
    [item] = page["items"]
    assert item == admin.get("/admin/mail", params={"status": "failed"}).json()["items"][0]
    assert (item["booking_id"], item["kind"], item["mail_status"], item["attempts"]) == (
        bid, "pin", "failed", 3)
    # problem-detail members, for the console
    assert item["type"] == "urn:mynagate:problem:mail:failed"
    assert item["title"] == "Mail not delivered"
    assert "ConnectionRefusedError" in item["detail"] and item["instance"] == \
        f"/admin/mail/{item['id']}"
    assert admin.get("/admin/mail", params={"status": "sent"}).json()["total"] == 0
    r = admin.get("/admin/mail", params={"status": "lost"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"

    with smtp:
        r = admin.post(f"/admin/mail/{item['id']}/retry")
        assert r.status_code == 200 and r.json()["mail_status"] == "queued"
        assert deliver(app, t + timedelta(days=1))[MailStatus.SENT] == 1
        smtp.inbox.wait(1)
    assert admin.get(f"/admin/mail/{item['id']}").json()["mail_status"] == "sent"
    assert admin.post(f"/admin/mail/{item['id']}/retry").status_code == 409


class Refusing(Inbox):
    async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]  # noqa: N802
        return "550 5.1.1 no such user"


def test_permanent_refusal_fails_at_once(admin, app, database, tmp_path):
    with SmtpServer(Refusing()) as smtp:
        wire(app, tmp_path, smtp.settings(sender_enabled=False))
        fid, _ = create_site(admin)
        bid = book(admin, fid, email="nobody@example.jp")["id"]
        report = deliver(app, mail_of(database, bid).next_attempt_at)
    assert report[MailStatus.FAILED] == 1
    got = admin.get(f"/api/v1/bookings/{bid}").json()
    assert (got["mail_status"], got["mail_attempts"]) == ("failed", 1)
    assert "550" in got["mail_last_error"] and "no such user" in got["mail_last_error"]


class SlowInbox(Inbox):
    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)


def test_two_senders_at_once_send_each_email_once(admin, app, database, tmp_path):
    with SmtpServer(SlowInbox()) as smtp:
        wire(app, tmp_path, smtp.settings(sender_enabled=False))
        fid, _ = create_site(admin)
        ids = [book(admin, fid, email=f"u{i}@example.jp", hours=2 * i)["id"] for i in range(12)]
        now = max(mail_of(database, i).next_attempt_at for i in ids)
        barrier = threading.Barrier(2)
        reports = []

        def sender() -> None:
            barrier.wait()
            reports.append(deliver(app, now))

        threads = [threading.Thread(target=sender) for _ in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        smtp.inbox.wait(12)
        time.sleep(0.3)
    assert len(smtp.inbox.messages) == 12
    assert len({m["Message-ID"] for m in smtp.inbox.messages}) == 12
    assert sorted(r[0] for _f, r in smtp.inbox.envelopes) == sorted(
        f"u{i}@example.jp" for i in range(12))
    assert sum(r[MailStatus.SENT] for r in reports) == 12
    if database.engine.dialect.name == "postgresql":  # SKIP LOCKED: both really worked
        assert all(r[MailStatus.SENT] > 0 for r in reports)
    assert {(mail_of(database, i).status, mail_of(database, i).attempts) for i in ids} == {
        ("sent", 1)}


def test_sender_dying_mid_delivery_is_failed_never_resent(admin, app, database, tmp_path):
    with SmtpServer() as smtp:
        wire(app, tmp_path, smtp.settings(sender_enabled=False))
        fid, _ = create_site(admin)
        bid = book(admin, fid)["id"]
        now = mail_of(database, bid).next_attempt_at
        with database.session() as s:  # a sender claims it, then dies before recording
            assert mail_repo.claim_next(s, now=now, until=now + timedelta(minutes=10))
            s.commit()
        assert sum(deliver(app, now + timedelta(minutes=9)).counts.values()) == 0
        report = deliver(app, now + timedelta(minutes=11))
        time.sleep(0.2)
    assert report.interrupted == 1 and smtp.inbox.messages == []
    mail = mail_of(database, bid)
    assert (mail.status, mail.last_error) == ("failed", INTERRUPTED)


def test_cancel_before_delivery_sends_only_the_notice(admin, app, database, tmp_path):
    with SmtpServer() as smtp:
        wire(app, tmp_path, smtp.settings(sender_enabled=False))
        fid, _ = create_site(admin)
        bid = book(admin, fid)["id"]
        r = admin.post(f"/api/v1/bookings/{bid}/cancel")
        assert (r.json()["payment_status"], r.json()["mail_status"]) == ("cancelled", "queued")
        report = deliver(app, mail_of(database, bid).next_attempt_at)
        [msg] = smtp.inbox.wait(1)
        time.sleep(0.2)
    assert report[MailStatus.SENT] == 1 and len(smtp.inbox.messages) == 1
    assert "【取消】" in msg["Subject"] and PIN_RE.search(text_of(msg)) is None
    kinds = {m["kind"]: m["mail_status"] for m in admin.get(
        "/admin/mail", params={"booking_id": bid}).json()["items"]}
    assert kinds == {"pin": "cancelled", "booking_cancelled": "sent"}


def test_a_message_that_cannot_be_built_is_retried_then_fails_visibly(database):
    with database.session() as s:
        mail = enqueue(s, kind=MailKind.PIN, to_addr="x@example.jp", now=START)
        s.commit()

    def broken(session, m, at):  # type: ignore[no-untyped-def]
        raise ValueError("Header values may not contain linefeed or carriage return characters")

    smtp = SmtpSettings(retry_attempts=2, retry_jitter_s=0)
    handlers = {MailKind.PIN: MailHandler(broken)}
    assert send_pending(database, smtp, handlers, now=START)[MailStatus.QUEUED] == 1
    assert send_pending(database, smtp, handlers,
                        now=START + timedelta(seconds=30))[MailStatus.FAILED] == 1
    with database.session() as s:
        row = s.get_one(MailOutbox, mail.id)
    assert (row.status, row.attempts) == ("failed", 2)
    assert row.last_error == ("cannot build the message: ValueError: Header values may not "
                              "contain linefeed or carriage return characters")


def test_cli_send_pending_delivers_the_outbox(admin, app, database, tmp_path, db_url,
                                              monkeypatch):
    with SmtpServer() as smtp:
        wire(app, tmp_path, smtp.settings(sender_enabled=False))
        fid, _ = create_site(admin)
        book(admin, fid)
        for key, value in {"MYNAGATE_DATABASE_URL": db_url, "MYNAGATE_DATA_DIR": str(tmp_path),
                           "MYNAGATE_SMTP_PORT": str(smtp.port)}.items():
            monkeypatch.setenv(key, value)
        result = CliRunner().invoke(cli, ["mail", "send-pending"])
        assert result.exit_code == 0, result.output
        smtp.inbox.wait(1)
    assert "送信 1 件" in result.output and "sent 1" in result.output
    listed = CliRunner().invoke(cli, ["mail", "list", "--status", "sent"])
    assert listed.exit_code == 0 and "1 件 (1 sent)" in listed.output


def test_cli_with_the_wrong_data_dir_stops_before_touching_any_email(admin, app, database,
                                                                     tmp_path, db_url,
                                                                     monkeypatch):
    wire(app, tmp_path, SmtpSettings(sender_enabled=False))
    fid, _ = create_site(admin)
    bid = book(admin, fid)["id"]
    monkeypatch.setenv("MYNAGATE_DATABASE_URL", db_url)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv("MYNAGATE_DATA_DIR", str(tmp_path / "elsewhere"))  # another wrap key
    result = CliRunner().invoke(cli, ["mail", "send-pending"])
    assert result.exit_code == 1 and "MYNAGATE_DATA_DIR" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    mail = mail_of(database, bid)
    assert (mail.status, mail.attempts, mail.last_error) == ("queued", 0, None)


def test_the_email_is_queued_in_the_booking_transaction(admin, app, tmp_path):
    """A booking change that fails leaves no email behind; one that commits has its email."""
    wire(app, tmp_path, SmtpSettings(sender_enabled=False))
    r = admin.post("/api/v1/facilities", json={"code": "no-lock", "name": "鍵のない会議室"})
    assert r.status_code == 201
    r = admin.post("/api/v1/bookings", json={
        "facility_id": r.json()["id"], "start_at": START.isoformat(),
        "end_at": (START + timedelta(hours=1)).isoformat(), "booker_name": "森",
        "booker_email": "mori@example.jp", "payment_status": "paid"})
    assert r.status_code == 409  # no lock to issue a PIN for: the whole change is rolled back
    assert admin.get("/api/v1/bookings").json() == []
    assert admin.get("/admin/mail").json()["total"] == 0
    fid, _ = create_site(admin)
    bid = book(admin, fid)["id"]
    [item] = admin.get("/admin/mail").json()["items"]
    assert (item["booking_id"], item["kind"], item["mail_status"]) == (bid, "pin", "queued")
