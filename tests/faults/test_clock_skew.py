"""A reader host's clock ten minutes fast or slow: the skew is alarmed, and the punch counts at
the true time in attendance, not at the time the skewed clock showed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.agent.sim_cards import Presenter, new_card
from tests.agent.town import add_credential, enroll_confirmed, seed_town, stored_events

from .helpers import drain, quick_agent

pytestmark = pytest.mark.faults

SLACK = timedelta(seconds=5)  # loopback round trips and a loaded machine, far below the skew


@pytest.mark.parametrize("minutes", [10, -10])
def test_skewed_agent_clock_is_alarmed_and_attendance_uses_true_time(  # type: ignore[no-untyped-def]
        minutes: int, live_server, admin, database, tmp_path: Path,
        wall_clock: Callable[[], datetime]):
    town = seed_town(database)
    card = new_card()
    add_credential(database, town.staff_id, card.credential_ref, card.public_key)
    identity = enroll_confirmed(admin, tmp_path, live_server.url, [town.clock_door_id])
    skew = timedelta(minutes=minutes)
    agent = quick_agent(tmp_path, town.clock_door_id, "sim:faults-skew",
                        device_clock=lambda: wall_clock() + skew)
    try:
        # 10 min is past the signed requests' 5 min window: the service refuses the first
        # request with its time, the agent corrects itself and measures the offset.
        agent.heartbeat.run_once()
        offset = timedelta(milliseconds=agent.client.clock_offset_ms)
        assert abs(offset + skew) < SLACK, offset
        assert agent.heartbeat.status.skew_alarm
        agent.watcher.sync()
        before = wall_clock()
        out = agent.tap(Presenter(card, "faults-skew"))
        after = wall_clock()
        assert out.granted and out.punch is not None, out.reason
        agent.start()
        drain(agent, 30)
    finally:
        agent.close()
    rows = stored_events(database, identity.device_id)
    assert [r.data["alarm"] for r in rows if r.kind == "alarm"] == ["clock_skew"]
    (punch,) = [r for r in rows if r.kind == "clock_punch"]
    # Stamped by the skewed clock, with the offset that corrects it.
    assert before + skew - SLACK <= punch.occurred_at <= after + skew + SLACK
    true = punch.occurred_at + timedelta(milliseconds=punch.device_clock_offset_ms or 0)
    assert before - SLACK <= true <= after + SLACK
    day = out.punch.business_date
    lines = admin.get("/admin/attendance/daily", params={
        "staff_id": town.staff_id, "from": (day - timedelta(days=1)).isoformat(),
        "to": (day + timedelta(days=1)).isoformat()}).json()
    (line,) = [ln for ln in lines if ln["business_date"] == day.isoformat()]
    first_in = datetime.fromisoformat(line["first_in"])
    assert before - timedelta(minutes=1) <= first_in <= after + timedelta(minutes=1), (
        f"出勤 {first_in}, tapped between {before} and {after}; skewed clock said "
        f"{punch.occurred_at}")
