"""A small town hall for the console tests: one department, three people, two doors, one
reader and their events, all placed relative to the ``now`` fixture. Internal ids are chosen
to be distinctive, so a page that leaks one is caught."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, sync_playwright

from api.attendance.config import rule_config
from api.attendance.rules import DayType, classify_day
from api.calendar.service import closed_days
from api.models import (
    Booking,
    Credential,
    Department,
    Device,
    Door,
    Event,
    Facility,
    LockTelemetry,
    Site,
    SmartLock,
    Staff,
)
from api.users.auth import SESSION_COOKIE
from api.users.secrets import totp_now

STAFF_IDS = (987654, 987655, 987656)
DOOR_IDS = (4242, 4343)
DEVICE_ID = uuid.UUID("5f0c3a1e-9d7b-4c2a-8e61-0123456789ab")
BDAY = rule_config().business_day


def assert_no_internal_ids(html: str) -> None:
    # A whole token only: a random event UUID may hold "4242" among its hex digits.
    for internal in (*STAFF_IDS, *DOOR_IDS, DEVICE_ID):
        leak = re.search(rf"(?<![0-9A-Za-z-]){re.escape(str(internal))}(?![0-9A-Za-z-])", html)
        assert leak is None, html[max(0, leak.start() - 80) : leak.end() + 80]


@dataclass
class World:
    now: datetime
    saturday: date  # a 週休日 in the past week
    workday: date  # a 勤務日 of the week before it (never today: its 09:00 tap is not presence)
    times: dict[str, datetime]


def _last_saturday(today: date) -> date:
    return today - timedelta(days=(today.weekday() - 5) % 7 or 7)


def next_workday(day: date) -> date:
    """The first 勤務日 after ``day`` (not a 週休日, holiday or closed day)."""
    days = [day + timedelta(days=i) for i in range(1, 15)]
    holidays = closed_days(None, days[0], days[-1])
    return next(d for d in days if classify_day(d, holidays=holidays) is DayType.WORKDAY)


def past_workday(now: datetime) -> date:
    """A 勤務日 two to four weeks back, so its attendance is closed."""
    return next_workday(BDAY.date_of(now) - timedelta(days=28))


class Recorder:
    def __init__(self, session, seq: int = 0) -> None:  # type: ignore[no-untyped-def]
        self.session = session
        self.seq = seq

    def __call__(self, kind: str, at: datetime, **fields: object) -> None:
        self.seq += 1
        self.session.add(Event(id=uuid.uuid4(), device_id=DEVICE_ID, seq=self.seq, kind=kind,
                               occurred_at=at, received_at=at, **fields))


def _people(s) -> None:  # type: ignore[no-untyped-def]
    s.add(Site(id=77, code="honcho", name="本庁舎"))
    s.add(Department(id=55, code="soumu", name="総務課"))
    s.flush()
    s.add_all([Door(id=DOOR_IDS[0], site_id=77, code="front", name="正面玄関"),
               Door(id=DOOR_IDS[1], site_id=77, code="side", name="通用口")])
    start = date(2020, 4, 1)
    s.add_all([Staff(id=STAFF_IDS[0], staff_number="1001", name="山田太郎", name_kana="ヤマダタロウ",
                     department_id=55, active_from=start),
               Staff(id=STAFF_IDS[1], staff_number="1002", name="佐藤花子", name_kana="サトウハナコ",
                     department_id=55, active_from=start),
               Staff(id=STAFF_IDS[2], staff_number="1003", name="=1+2", name_kana="イコール",
                     department_id=55, active_from=start)])


@pytest.fixture
def world(database, now: datetime) -> World:  # type: ignore[no-untyped-def]
    today = BDAY.date_of(now)
    sat = _last_saturday(today)
    workday = next_workday(sat - timedelta(days=7))
    start = BDAY.start(today)
    t = {"in1": start + (now - start) * 0.5, "in2": start + (now - start) * 0.6,
         "out2": start + (now - start) * 0.7, "open": start + (now - start) * 0.8,
         "alarm": now - timedelta(minutes=1), "sat_in": BDAY.start(sat) + timedelta(hours=4),
         "sat_out": BDAY.start(sat) + timedelta(hours=9, minutes=30),
         "work": BDAY.start(workday) + timedelta(hours=4)}
    with database.session() as s:
        _people(s)
        s.add(Device(id=DEVICE_ID, name="reader-01", site_id=77, status="active",
                     last_heartbeat_at=now))
        s.flush()
        rec = Recorder(s)
        rec("tap", t["in1"], staff_id=STAFF_IDS[0], door_id=DOOR_IDS[0], granted=True)
        rec("clock_punch", t["in2"], staff_id=STAFF_IDS[1], data={"punch": "in"})
        rec("clock_punch", t["out2"], staff_id=STAFF_IDS[1], data={"punch": "out"})
        rec("door_state", t["open"], door_id=DOOR_IDS[0], data={"state": "open"})
        rec("alarm", t["alarm"], door_id=DOOR_IDS[1], data={"alarm": "credential_auth_failed"})
        rec("tap", t["sat_in"], staff_id=STAFF_IDS[0], door_id=DOOR_IDS[1], granted=True)
        rec("tap", t["sat_out"], staff_id=STAFF_IDS[0], door_id=DOOR_IDS[0], granted=True)
        rec("tap", t["sat_in"], staff_id=STAFF_IDS[2], door_id=DOOR_IDS[0], granted=True)
        rec("tap", t["work"], staff_id=STAFF_IDS[1], door_id=DOOR_IDS[0], granted=True)
        s.commit()
    return World(now, sat, workday, t)


def console_admin(admin) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    """A console admin made through the admin API: (user name, password, TOTP secret)."""
    made = admin.post("/admin/users", json={"username": "console-admin", "role": "admin"})
    assert made.status_code == 201, made.text
    return "console-admin", made.json()["password"], made.json()["totp_secret"]


@pytest.fixture
def console(app, admin, wall_clock):  # type: ignore[no-untyped-def]
    """A browser logged in to the console through its login form (password and TOTP), on
    HTTPS since the session cookie is Secure."""
    name, password, secret = console_admin(admin)
    browser = TestClient(app, base_url="https://testserver")
    r = browser.post("/console/login", data={"username": name, "password": password,
                                             "totp": totp_now(secret, wall_clock())},
                     follow_redirects=False)
    assert r.status_code == 303 and SESSION_COOKIE in r.cookies, r.text
    return browser


@pytest.fixture
def card(world, database) -> int:  # type: ignore[no-untyped-def]
    """An active staff card of 山田太郎 (1001)."""
    with database.session() as s:
        c = Credential(staff_id=STAFF_IDS[0], kind="staff_ap", credential_ref="ab" * 16,
                       public_key="test-key", status="active")
        s.add(c)
        s.commit()
        return c.id


def log_in(app, admin, username: str, role: str, wall_clock=None) -> TestClient:  # type: ignore[no-untyped-def]
    """A browser logged in through the console's form as a new user of a role; a role that
    needs TOTP types the code of ``wall_clock``'s moment."""
    made = admin.post("/admin/users", json={"username": username, "role": role})
    assert made.status_code == 201, made.text
    form = {"username": username, "password": made.json()["password"]}
    secret = made.json().get("totp_secret")
    if secret:
        assert wall_clock is not None, f"{role} needs a TOTP code: pass wall_clock"
        form["totp"] = totp_now(secret, wall_clock())
    browser = TestClient(app, base_url="https://testserver")
    r = browser.post("/console/login", data=form, follow_redirects=False)
    assert r.status_code == 303 and SESSION_COOKIE in r.cookies, r.text
    return browser


@pytest.fixture
def booking(database, now: datetime) -> int:  # type: ignore[no-untyped-def]
    """An unpaid booking tomorrow at a facility without a lock yet."""
    with database.session() as s:
        f = Facility(code="gym", name="中央体育館")
        s.add(f)
        s.flush()
        start = now + timedelta(days=1)
        b = Booking(facility_id=f.id, start_at=start, end_at=start + timedelta(hours=2),
                    booker_name="鈴木一郎", booker_email="suzuki@example.jp",
                    payment_status="pending", source="api")
        s.add(b)
        s.commit()
        return b.id


# Debian's chromium driven by Playwright (no browser download), for the browser tests.
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless chromium per test module."""
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def smart_lock(database, now: datetime) -> int:  # type: ignore[no-untyped-def]
    """An online lock at 公民館 whose battery fell from 90 % to 60 % over three days."""
    with database.session() as s:
        f = Facility(code="kominkan", name="公民館")
        s.add(f)
        s.flush()
        lock = SmartLock(facility_id=f.id, lock_id="kominkan-1", name="公民館 正面",
                         kind="online", battery_percent=60.0, battery_at=now,
                         last_contact_at=now, clock_offset_s=0.4)
        s.add(lock)
        s.flush()
        s.add_all(LockTelemetry(lock_id=lock.id, at=now - timedelta(days=3 - d),
                                battery_percent=90.0 - 10 * d) for d in range(4))
        s.commit()
        return lock.id
