"""Mail settings from the environment, and a mail server that is down."""

from __future__ import annotations

from datetime import timedelta

from api.mail.settings import SmtpSettings

from .helpers import SmtpServer, create_site, free_port, wire


def test_smtp_settings_from_env(monkeypatch):
    monkeypatch.setenv("MYNAGATE_SMTP_HOST", "mail.example.lg.jp")
    monkeypatch.setenv("MYNAGATE_SMTP_PORT", "2525")
    monkeypatch.setenv("MYNAGATE_SMTP_FROM", "shisetsu@example.lg.jp")
    s = SmtpSettings()
    assert (s.host, s.port, s.from_addr) == ("mail.example.lg.jp", 2525, "shisetsu@example.lg.jp")


def test_mail_server_down_keeps_booking_paid_and_send_again_works(admin, app, tmp_path, now):
    from api.mail.settings import SmtpSettings as S

    wire(app, tmp_path, S(host="127.0.0.1", port=free_port(), timeout_s=2))
    fid, _ = create_site(admin)
    start = now + timedelta(days=1)
    r = admin.post("/api/v1/bookings", json={
        "facility_id": fid, "start_at": start.isoformat(),
        "end_at": (start + timedelta(hours=1)).isoformat(), "booker_name": "森",
        "booker_email": "mori@example.jp", "payment_status": "paid"})
    assert r.status_code == 201
    bid = r.json()["id"]
    got = admin.get(f"/api/v1/bookings/{bid}").json()
    assert got["payment_status"] == "paid" and got["emailed_at"] is None
    assert admin.post(f"/api/v1/bookings/{bid}/send-pin").status_code == 502
    with SmtpServer() as smtp:
        app.state.smtp_settings = smtp.settings()
        r = admin.post(f"/api/v1/bookings/{bid}/send-pin")
        assert r.status_code == 200 and r.json()["emailed_at"] is not None
        assert len(smtp.inbox.wait(1)) == 1
