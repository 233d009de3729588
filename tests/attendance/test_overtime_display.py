"""Issue 10, clock points: on 退勤 the reader shows the month's overtime so far against the
person's cap (「今月の時間外 32:15 / 45:00」), from the snapshot, so staff see a cap coming
before HR does; a town turns it off per clock point (``door.show_overtime``)."""

from __future__ import annotations

import base64
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.models import Credential, DeviceDoor, Door, OvertimeRequest
from api.snapshot.service import build_payload
from gate.business_day import JST
from gate.clock import overtime_text
from mynagate_i18n import translations
from reader_agent.agent import AgentConfig, TapProcessor
from reader_agent.outbox import Outbox
from reader_agent.snapshot_cache import SnapshotCache
from tests.agent.helpers import fake_card, signed

from . import factories as f

NOW = f.jst(2026, 11, 20, 12, 0)  # Friday 11/20, the snapshot's time
REF = "5a" * 16


class Clock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


def _ordered_evening(s, dev, door, person, dept, d: date, end: str) -> None:  # type: ignore[no-untyped-def]
    """08:30 in, out at ``end``, with an approved order 17:15 → ``end``."""
    h, m = (int(x) for x in end.split(":"))
    base = f.jst(d.year, d.month, d.day)
    f.punch(s, dev, door, person, base + timedelta(hours=8, minutes=30), hint="in")
    f.punch(s, dev, door, person, base + timedelta(hours=h, minutes=m), hint="out")
    s.add(OvertimeRequest(staff_id=person.id, department_id=dept.id, work_date=d,
                          start_at=base + timedelta(hours=17, minutes=15),
                          end_at=base + timedelta(hours=h, minutes=m), kind="order",
                          status="approved", requested_by="課長", decided_by="課長",
                          decided_at=base))


def _town(s):  # type: ignore[no-untyped-def]
    dept = f.department(s, "A01", "総務課")
    hx = f.department(s, "B01", "防災室", overtime_class="high_external")
    person = f.staff(s, dept, "S0001", "山田 花子")
    other = f.staff(s, hx, "S0002", "佐藤 次郎")
    dev, door = f.device(s, "clock-ot")
    s.add(DeviceDoor(device_id=dev.id, door_id=door.id))
    for sid, ref in ((person.id, REF), (other.id, "6b" * 16)):
        s.add(Credential(staff_id=sid, kind="staff_ap", credential_ref=ref,
                         public_key=base64.b64encode(b"\x04" + b"\x03" * 64).decode(),
                         status="active", snapshot_version=0))
    for d, end in ((date(2026, 11, 2), "29:00"), (date(2026, 11, 4), "29:00"),
                   (date(2026, 11, 5), "26:00")):
        _ordered_evening(s, dev, door, person, dept, d, end)
    s.flush()
    return person, other, dev, door


def _tap_out(tmp_path: Path, payload, day: date = date(2026, 11, 20)) -> str:  # type: ignore[no-untyped-def]
    """出勤 08:30 and 退勤 17:40 on ``day`` at the clock point, from this snapshot payload."""
    key = Ed25519PrivateKey.generate()
    cache = SnapshotCache(tmp_path / "snapshot.json", key.public_key(), payload["device_id"])
    cache.apply(signed(payload, key))
    base = datetime(day.year, day.month, day.day, tzinfo=JST)
    clock = Clock(base + timedelta(hours=8, minutes=30))
    door_id = payload["doors"][0]["id"]
    tp = TapProcessor(AgentConfig("sim:ot", door_id), cache, Outbox(tmp_path / "outbox.sqlite3"),
                      device_clock=clock)
    first = tp.tap(fake_card(REF))
    assert first.granted and first.text == "おはようございます 山田さん 08:30 出勤"  # 出勤: no line
    clock.t = base + timedelta(hours=17, minutes=40)
    return tp.tap(fake_card(REF)).text


def test_the_snapshot_carries_the_month_so_far_and_the_reader_shows_it(database, tmp_path):
    with database.session() as s:
        person, other, dev, _door = _town(s)
        payload = build_payload(s, device_id=dev.id, since=None, now=NOW, tz=JST)
    ot = payload["overtime"]
    # 11/2 and 11/4: 17:15→29:00 = 705 min each; 11/5: 17:15→26:00 = 525; 705 + 705 + 525 = 1,935
    # min = 32:15. The cap of an ordinary department is 45 h (人事院規則15-14 §16条の2の2 ①一),
    # of a 他律的業務 department less than 100 h (①二), shown as 100:00.
    assert ot["month"] == "2026-11" and ot["default"] == [0, 2700]
    assert ot["staff"] == [[person.id, 1935, 2700], [other.id, 0, 6000]]
    assert payload["doors"][0]["show_overtime"] is True
    text = _tap_out(tmp_path, payload)
    assert text == "お疲れさまでした 山田さん 17:40 退勤\n今月の時間外 32:15 / 45:00"


def test_a_clock_point_can_turn_it_off(database, tmp_path):
    with database.session() as s:
        _person, _other, dev, door = _town(s)
        s.get(Door, door.id).show_overtime = False
        s.flush()
        payload = build_payload(s, device_id=dev.id, since=None, now=NOW, tz=JST)
    assert "overtime" not in payload and payload["doors"][0]["show_overtime"] is False
    assert _tap_out(tmp_path, payload) == "お疲れさまでした 山田さん 17:40 退勤"


def test_figures_from_another_month_are_not_shown(database, tmp_path):
    """A snapshot from October knows nothing of November: the 退勤 on 11/2 shows no line."""
    with database.session() as s:
        _person, _other, dev, _door = _town(s)
        payload = build_payload(s, device_id=dev.id, since=None, now=f.jst(2026, 10, 31, 12),
                                tz=JST)
    assert payload["overtime"]["month"] == "2026-10"
    assert _tap_out(tmp_path, payload, date(2026, 11, 2)) == "お疲れさまでした 山田さん 17:40 退勤"


def test_overtime_text():
    assert overtime_text(1935, 2700, translations("ja").gettext) == "今月の時間外 32:15 / 45:00"
    assert overtime_text(0, 6000, translations("en").gettext) == "Overtime this month 0:00 / 100:00"


def test_figures_are_reused_for_five_minutes(database):
    """Every device fetches a snapshot after each long-poll round: the month so far is reused
    for FIGURES_TTL (5 min), so a new evening shows up after at most that long."""
    with database.session() as s:
        person, _other, dev, door = _town(s)
        first = build_payload(s, device_id=dev.id, since=None, now=NOW, tz=JST)
        # One more ordered evening arrives: 11/6 17:15→18:15.
        _ordered_evening(s, dev, door, person, SimpleNamespace(id=person.department_id),
                         date(2026, 11, 6), "18:15")
        s.flush()
        soon = build_payload(s, device_id=dev.id, since=None, now=NOW + timedelta(minutes=4),
                             tz=JST)
        later = build_payload(s, device_id=dev.id, since=None, now=NOW + timedelta(minutes=5),
                              tz=JST)
    assert first["overtime"]["staff"][0][1] == soon["overtime"]["staff"][0][1] == 1935
    assert later["overtime"]["staff"][0][1] == 1935 + 60  # 17:15→18:15 on 11/6
