"""The demo scenario the lead wires into ``make demo``: paid booking, emailed PIN, opening."""

from __future__ import annotations

import re

from api.models import Booking, LockLogEntry
from mynagate_cli.locks import demo_scenario


def test_demo_scenario_emails_pin_and_opens(db_url, database, tmp_path):
    lines: list[str] = []
    result = demo_scenario(db_url, tmp_path, echo=lines.append)
    assert result["opened"] and result["emailed"] and not result["opened_outside_slot"]
    assert any("解錠しました" in line for line in lines)
    assert not any(re.search(r"\d{10}", line) for line in lines)  # the PIN is never printed
    with database.session() as s:
        b = s.get(Booking, result["booking_id"])
        assert b is not None and b.payment_status == "paid" and b.emailed_at is not None
        kinds = [e.kind for e in s.query(LockLogEntry).order_by(LockLogEntry.seq)]
    assert kinds[:3] == ["open_pin", "door_open", "door_close"]
    with database.session() as s:
        from api.models import LockAlert

        assert [a.kind for a in s.query(LockAlert)] == []  # opened inside the booking


def test_demo_scenario_runs_again_and_again(db_url, database, tmp_path, now):
    """Run five times in the same quarter hour: more than the three variants of one window."""
    for _ in range(5):
        result = demo_scenario(db_url, tmp_path, now=now, echo=lambda _line: None)
        assert result["opened"] and not result["opened_outside_slot"]
