"""In Debian's headless chromium: an admin reports a card lost on its console page, and the
next tap of that card at a running reader agent (real service over loopback HTTP, the sim:
card driver) is denied; before, the same card was granted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gate.policy import Reason
from reader_agent.agent import AgentConfig, ReaderAgent
from tests.agent.sim_cards import Presenter, new_card
from tests.agent.town import add_credential, enroll_confirmed, seed_town
from tests.console.test_a11y import _log_in_by_keyboard

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


def test_a_card_reported_lost_in_the_console_is_denied_at_the_next_tap(  # type: ignore[no-untyped-def]
        browser, live_server, admin, database, wall_clock, tmp_path: Path) -> None:
    town = seed_town(database)
    card = new_card()
    add_credential(database, town.staff_id, card.credential_ref, card.public_key)
    enroll_confirmed(admin, tmp_path, live_server.url, [town.door_id])
    agent = ReaderAgent(tmp_path, AgentConfig("sim:console", town.door_id), wait_s=2,
                        upload_idle_s=0.05)
    present = Presenter(card, "console")
    page = browser.new_page(locale="ja-JP")
    try:
        agent.watcher.sync()
        agent.start()
        assert agent.tap(present).granted
        _log_in_by_keyboard(page, live_server.url, admin, wall_clock)
        page.goto(f"{live_server.url}/console/staff?q=S0001")
        page.click("text=カード >> nth=-1")  # the row's cards link
        page.select_option("select[name=action]", "lost")
        page.fill("input[name=reason]", "窓口で紛失の届出")
        page.click("button:has-text('実行')")
        page.wait_for_url("**/cards?done=lost")
        assert "紛失" in page.inner_text("main")
        deadline = time.monotonic() + 10  # the running agent's long-poll brings the change
        while time.monotonic() < deadline:
            current = agent.cache.current
            if current and current.index.credential(card.credential_ref).status.value == "lost":
                break
            time.sleep(0.05)
        out = agent.tap(present)
        assert not out.granted and out.reason is Reason.CREDENTIAL_LOST
    finally:
        page.close()
        agent.close()
