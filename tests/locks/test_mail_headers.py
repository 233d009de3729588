"""Issue 9: a newline in a facility name made every PIN email for that facility fail
silently. Text that reaches a mail header is one line: refused at the API, collapsed for
stored data, and non-ASCII headers go out RFC 2047-encoded."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.mail.headers import header_text, refuse_control
from api.models import Facility

from .helpers import PIN_RE, SmtpServer, create_site, text_of, wire
from .test_mail import START, book, deliver, mail_of

CONTROLS = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)]


@given(st.text(alphabet=st.sampled_from(["体", "a", " ", "-", *CONTROLS]), max_size=30))
def test_refused_exactly_when_a_control_character_is_present(text):
    has_control = any(c in CONTROLS for c in text)
    if has_control:
        with pytest.raises(ValueError, match="改行や制御文字"):
            refuse_control(text)
    else:
        assert refuse_control(text) == text
    line = header_text(text)
    assert refuse_control(line) == line  # always one clean line
    assert line == " ".join(line.split())


@pytest.mark.parametrize("field,value", [
    ("name", "阿蘇市総合体育館\r\nBcc: evil@example.com"),
    ("name", "体育館\n"),
    ("address", "熊本県\x00阿蘇市"),
    ("contact", "阿蘇市\u2028教育課"),
])
def test_facility_text_with_a_line_break_is_refused(admin, app, tmp_path, field, value):
    wire(app, tmp_path)
    body = {"code": "aso-gym", "name": "阿蘇市総合体育館", field: value}
    r = admin.post("/api/v1/facilities", json=body)
    assert r.status_code == 422 and r.json()["field"] == field, r.text
    fid, _ = create_site(admin)
    r = admin.patch(f"/api/v1/facilities/{fid}", json={field: value})
    assert r.status_code == 422 and r.json()["field"] == field, r.text


@pytest.mark.parametrize("field,value", [
    ("booker_email", "mori@example.jp\r\nBcc: evil@example.com"),
    ("booker_email", "mori\x00@example.jp"),
    ("booker_name", "森\r\n一郎"),
])
def test_booking_text_with_a_line_break_is_refused(admin, app, tmp_path, field, value):
    wire(app, tmp_path)
    fid, _ = create_site(admin)
    body = {"facility_id": fid, "start_at": START.isoformat(),
            "end_at": (START + timedelta(hours=2)).isoformat(), "booker_name": "森",
            "booker_email": "mori@example.jp", field: value}
    r = admin.post("/api/v1/bookings", json=body)
    assert r.status_code == 422 and r.json()["field"] == field, r.text


def test_stored_name_with_a_newline_still_gets_its_pin_email_one_line_encoded(
        admin, app, database, tmp_path):
    with SmtpServer() as smtp:
        wire(app, tmp_path, smtp.settings(sender_enabled=False))
        fid, _ = create_site(admin)
        with database.session() as s:  # stored before the API refused it
            s.get_one(Facility, fid).name = "阿蘇市\r\nBcc: evil@example.com\n総合体育館"
            s.commit()
        bid = book(admin, fid)["id"]
        report = deliver(app, mail_of(database, bid).next_attempt_at)
        [msg] = smtp.inbox.wait(1)
        time.sleep(0.2)
    assert sum(report.counts.values()) == 1 and len(smtp.inbox.messages) == 1
    assert smtp.inbox.envelopes[0][1] == ["mori@example.jp"]  # no injected recipient
    assert msg["Bcc"] is None
    assert msg["Subject"] == ("【暗証番号】阿蘇市 Bcc: evil@example.com 総合体育館 "
                              f"ご利用の暗証番号（予約番号 {bid}）")
    assert PIN_RE.search(text_of(msg)) is not None
    head = smtp.inbox.raw[0].split(b"\r\n\r\n", 1)[0]
    head.decode("ascii")  # every header is 7-bit: non-ASCII text is RFC 2047-encoded
    assert b"Subject: =?utf-8?" in head
