"""In Debian's headless chromium: a facility clerk (role facility, no TOTP, no staff link)
logs in, registers a paid booking through the console's form, and the PIN email arrives at a
real SMTP server on loopback, sent by the service's own mail sender; its Japanese text names
the booked slot and holds a PIN that opens the facility's key box in that slot only."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from api.locks.secrets import lock_key
from api.mail.templates import jst as mail_jst
from api.models import SmartLock
from gate.business_day import JST
from reader_agent.lock_emulator import DriftingClock, KeyBox
from tests.console.test_browser import ARTIFACTS
from tests.locks.helpers import PIN_RE, SmtpServer, create_site, text_of, wire

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
PAGE = "/console/facility/bookings"


def _opens(key: bytes, pin: str, at: datetime, state: Path) -> bool:
    """Whether the key box, its clock at ``at``, opens for ``pin`` (a fresh box each time: these
    are legitimate tries, not an attack for the throttle to slow down)."""
    box = KeyBox("aso-keybox-07", key, 0, state, DriftingClock(lambda: at.timestamp()))
    return box.enter(pin).opened


def test_a_clerk_registers_a_paid_booking_and_the_pin_email_arrives(  # type: ignore[no-untyped-def]
        browser, live_server, app, admin, database, now, tmp_path: Path) -> None:
    start = (now + timedelta(days=2)).astimezone(JST).replace(hour=10, minute=0, second=0,
                                                              microsecond=0)
    end = start + timedelta(hours=2)
    made = admin.post("/admin/users", json={"username": "shisetsu", "role": "facility"}).json()
    page = browser.new_page(locale="ja-JP")
    with SmtpServer() as smtp:
        wire(app, tmp_path, smtp.settings())
        _fid, lock_pk = create_site(admin)
        page.goto(f"{live_server.url}/console/login")
        page.fill("#username", "shisetsu")
        page.fill("#password", made["password"])  # the facility role needs no TOTP code
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}{PAGE}")
        page.select_option("#facility", "aso-gym")
        page.fill("#start", start.strftime("%Y-%m-%dT%H:%M"))
        page.fill("#end", end.strftime("%Y-%m-%dT%H:%M"))
        page.fill("#booker_name", "山田 花子")
        page.fill("#booker_email", "hanako@example.jp")
        page.check("input[name=paid]")
        page.click("button:has-text('登録')")
        page.wait_for_url(f"**{PAGE}?done=paid")
        [msg] = smtp.inbox.wait(1)
        deadline = time.monotonic() + 10  # the page shows the delivery once it is recorded
        while "送信済み" not in page.inner_text("main tbody"):
            assert time.monotonic() < deadline, page.inner_text("main tbody")
            time.sleep(0.2)
            page.reload()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "facility-bookings-1280.png"), full_page=True)
    page.close()
    assert smtp.inbox.envelopes[0][1] == ["hanako@example.jp"]
    assert "暗証番号" in msg["Subject"] and "阿蘇市総合体育館" in msg["Subject"]
    body = text_of(msg)
    assert "山田 花子 様" in body
    assert f"ご利用日時: {mail_jst(start)} 〜 {mail_jst(end)}（日本時間）" in body
    found = PIN_RE.search(body)
    assert found is not None and found["lock"] == "正面入口"
    with database.session() as s:
        key = lock_key(s, app.state.lock_settings, s.get(SmartLock, lock_pk))
        s.commit()
    pin = found["pin"]
    assert _opens(key, pin, start + timedelta(minutes=1), tmp_path / "in.json")
    assert not _opens(key, pin, start - timedelta(hours=1), tmp_path / "before.json")
    assert not _opens(key, pin, start + timedelta(days=1), tmp_path / "next-day.json")
