"""Card enrollment started from the console: the page opens the enrollment, the enrollment
reader completes it (``mynagate card enroll --enrollment N``, a real CLI run against the live
service), and the page confirms it once the clerk ticks that the person is in front of them."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from api.models import CardEnrollment, Credential
from api.users.auth import CSRF_COOKIE
from mynagate_cli import app as cli
from reader_agent.cards.staff_ap import VirtualStaffCard
from reader_agent.drivers.sim import get_sim_reader

from .conftest import STAFF_IDS, assert_no_internal_ids, log_in

pytestmark = pytest.mark.postgres
CARDS = "/console/staff/1001/cards"


def _enrollments(database) -> int:  # type: ignore[no-untyped-def]
    with database.session() as s:
        return s.execute(select(func.count()).select_from(CardEnrollment)).scalar_one()


def test_enroll_a_card_from_the_console(console, world, database, live_server,
                                        admin_token) -> None:
    page = console.get(CARDS)
    assert "カードを登録" in page.text and 'action="/console/enrollments"' in page.text
    csrf = console.cookies[CSRF_COOKIE]
    r = console.post("/console/enrollments", data={"staff_number": "1001", "kind": "staff_ap",
                                                   "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    url = r.headers["location"]
    number = int(re.fullmatch(r"/console/enrollments/(\d+)", url).group(1))  # type: ignore[union-attr]
    waiting = console.get(url).text
    assert "登録用リーダーでカードの読み取りを待っています" in waiting and "山田太郎" in waiting
    assert f"--enrollment {number}" in waiting and 'hx-trigger="every 3s"' in waiting
    assert_no_internal_ids(waiting)

    card = VirtualStaffCard.generate("372153")
    get_sim_reader("console-enroll").insert(card)
    run = CliRunner().invoke(cli, ["card", "enroll", "--reader", "sim:console-enroll",
                                   "--service", live_server.url, "--token", admin_token,
                                   "--enrollment", str(number), "--wait", "2"])
    assert run.exit_code == 0 and "コンソールで確定してください" in run.output, run.output
    status = console.get(f"{url}/status").text
    assert "カードを読み取りました" in status and card.credential_ref in status
    assert "every 3s" not in status  # no more polling

    confirm = f"{url}/confirm"
    assert console.post(confirm, data={"confirm": "1"}).status_code == 403
    assert console.post(confirm, data={"csrf_token": csrf}).status_code == 422
    with database.session() as s:
        assert s.execute(select(Credential).where(Credential.staff_id == STAFF_IDS[0])
                         ).first() is None
    r = console.post(confirm, data={"confirm": "1", "csrf_token": csrf},
                     follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{CARDS}?done=enrolled"
    assert "「カードを登録」を行いました" in console.get(r.headers["location"]).text
    with database.session() as s:
        cred = s.execute(select(Credential).where(Credential.staff_id == STAFF_IDS[0])
                         ).scalar_one()
        assert cred.status == "active" and cred.credential_ref == card.credential_ref


def test_hr_sees_the_cards_but_cannot_start_an_enrollment(app, admin, world, database,
                                                          wall_clock) -> None:
    hr = log_in(app, admin, "jinji", "hr", wall_clock)
    page = hr.get(CARDS)
    assert page.status_code == 200 and 'action="/console/enrollments"' not in page.text
    r = hr.post("/console/enrollments", data={"staff_number": "1001",
                                              "csrf_token": hr.cookies[CSRF_COOKIE]},
                follow_redirects=False)
    assert r.status_code == 403 and _enrollments(database) == 0
