"""Every console and admin list query is served by an index at a city's scale.

The real repository and console query functions run against PostgreSQL seeded with 20,000
staff and cards, 300,000 events over a year (in its monthly partitions) and 100,000 audit rows
(``tests/scale/seed.py``, then VACUUM ANALYZE). Each SELECT they send is captured on its way to the driver and explained with
the same parameters (``EXPLAIN (FORMAT JSON)``); a sequential scan of a large table anywhere
in a plan fails the test, naming the query and the table."""

from __future__ import annotations

import contextlib
import hashlib
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, select, text

from api.attendance import repository as attendance_repo
from api.attendance.config import rule_config
from api.audit.repository import AuditFilter
from api.audit.repository import search as audit_search
from api.console import queries
from api.credentials.repository import list_credentials
from api.db import Database
from api.events import partitions
from api.events.repository import EventFilter
from api.events.repository import search as event_search
from api.models import Event
from api.staff.repository import list_staff
from gate.protocol import PROTOCOL

from .seed import Scale, seed

pytestmark = pytest.mark.postgres

LARGE_TABLES = frozenset({"event", "staff", "credential", "audit_log"})
LARGE_ROWS = 1_000  # a month's partition of the seed holds about 25,000 events
# Whole scans that are the right plan, each with its reason; any other fails.
EXPECTED_SCANS = {
    # It reads every punch and granted tap between the first and the last closed day of the
    # range and keeps the closed days in Python: over a month, most of that month's partition.
    ("console holiday visits", "event"),
}
# A partition (event_p202611, event_default) is read as the table it belongs to.
PARTITION = re.compile(r"^(?P<table>.+?)_(p\d{6}|default)$")
DEVICE_1 = uuid.UUID(hashlib.md5(b"dev1").hexdigest())  # as the seed names reader-1
CARD_123 = hashlib.md5(b"cred123").hexdigest()
Query = Callable[[Any], object]


def list_queries(now: datetime) -> dict[str, Query]:
    """The list queries of the admin API and the console, with the filters their pages send."""
    week, month, day = now - timedelta(days=7), now - timedelta(days=30), now - timedelta(days=1)
    page = (now - timedelta(days=10), uuid.UUID(int=0))
    dept = list(range(1, 20_001, 400))  # one department's 50 staff in the seed
    today = now.date()

    def events(descending: bool = True, after: tuple[datetime, uuid.UUID] | None = None,
               **f: Any) -> Query:
        return lambda s: event_search(s, EventFilter(**f), limit=100, descending=descending,
                                      after=after)

    def audit(before_id: int | None = None, **f: Any) -> Query:
        return lambda s: audit_search(s, AuditFilter(**f), limit=100, before_id=before_id)

    def staff(**f: Any) -> Query:
        args: dict[str, Any] = {"department_id": None, "employment_type": None,
                                "active_on": None, "q": None, "limit": 100, "offset": 0}
        return lambda s: list_staff(s, **{**args, **f})

    def cards(**f: Any) -> Query:
        args: dict[str, Any] = {"staff_id": None, "kind": None, "status": None, "limit": 100,
                                "offset": 0}
        return lambda s: list_credentials(s, **{**args, **f})

    return {
        "admin events, newest": events(),
        "admin events, next page": events(after=page),
        "admin events of a person": events(staff_id=123),
        "admin events at a door": events(door_id=5),
        "admin events of a reader": events(device_id=DEVICE_1),
        "admin events of a card": events(credential_ref=CARD_123),
        "admin alarms of a week": events(kind="alarm", occurred_from=week),
        "admin refusals, next page": events(granted=False, after=page),
        "admin events of a month, oldest first": events(descending=False, occurred_from=month,
                                                        occurred_to=week),
        "admin audit, newest": audit(),
        "admin audit of an actor": audit(actor="admin3"),
        "admin audit of an entity": audit(entity="staff", entity_id="123"),
        "admin audit of a month, next page": audit(before_id=90_000, at_from=month, at_to=week),
        "admin staff, first page": staff(),
        "admin staff of a department": staff(department_id=7),
        "admin staff active today": staff(active_on=today),
        "admin staff search": staff(q="12345"),
        "admin cards, first page": cards(),
        "admin cards of a person": cards(staff_id=123),
        "admin revoked cards": cards(status="revoked"),
        "console events of a person": lambda s: queries.events(s, EventFilter(staff_id=123)),
        "console dashboard alarms": lambda s: queries.alarms(
            s, now=now, offline_after=timedelta(minutes=10), skew_alarm_ms=5_000,
            service=PROTOCOL),
        "console door states": queries.door_states,
        "console presence": lambda s: queries.presence(s, since=day, until=now),
        "console holiday visits": lambda s: queries.holiday_visits(
            s, today - timedelta(days=31), today, rule_config()),
        "console staff search": lambda s: queries.staff_search(s, "ショクイン1234", on=today),
        "console staff, everyone": lambda s: queries.staff_search(s, "", on=today),
        "console staff by number": lambda s: queries.staff_by_number(s, "012345"),
        "console cards of a person": lambda s: queries.credentials_of(s, 123),
        "console department punches of a month": lambda s: attendance_repo.punch_events(
            s, month, now, staff_ids=dept),
        "console department points of a month": lambda s: attendance_repo.point_rows(
            s, month, now, staff_ids=dept),
        "console department staff": lambda s: attendance_repo.staff_in_period(
            s, month.date(), today, staff_ids=dept),
    }


@contextlib.contextmanager
def captured_selects(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SELECT statements (with their driver parameters) sent on ``engine`` meanwhile."""
    sent: list[tuple[str, Any]] = []

    def listen(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def scanned_relations(plan: dict[str, Any]) -> set[str]:
    """Relations (tables or partitions) read by a sequential scan anywhere in a plan."""
    found: set[str] = set()
    stack = [plan]
    while stack:
        node = stack.pop()
        if node.get("Node Type") == "Seq Scan":
            found.add(node["Relation Name"])
        stack.extend(node.get("Plans", []))
    return found


def large(conn: Connection, relations: set[str]) -> set[str]:
    """The large tables among ``relations``: a partition counts as its table when it holds
    rows (an empty month ahead, or the empty default, is rightly scanned whole). A relation
    never analyzed (reltuples -1) counts as large."""
    out = set()
    for name in relations:
        m = PARTITION.match(name)
        table = m.group("table") if m else name
        rows = conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = :n"),
                            {"n": name}).scalar_one()
        if table in LARGE_TABLES and (rows < 0 or rows >= LARGE_ROWS):
            out.add(table)
    return out


def large_seq_scans(database: Database, query: Query) -> list[tuple[str, str]]:
    """(table, SQL) of each sequential scan of a large table in the plans of ``query``."""
    with captured_selects(database.engine) as sent, database.session() as s:
        query(s)
    assert sent, "the query sent no SELECT"
    out = []
    with database.engine.connect() as conn:
        for sql, params in sent:
            plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}", params).scalar_one()
            out += [(t, sql) for t in large(conn, scanned_relations(plan[0]["Plan"]))]
    return out


@pytest.fixture
def city(database: Database, now: datetime) -> Database:
    if database.engine.dialect.name != "postgresql":
        pytest.skip("query plans are PostgreSQL's")
    scale = Scale()
    with database.session() as s:  # a year of monthly partitions, as the worker makes them
        partitions.ensure_months(s, now=now - timedelta(days=scale.days), ahead=13)
        s.commit()
    seed(database.engine, now=now, scale=scale)
    return database


# A minute to seed: at the first moved date only (slow); its subject is the plans, not the date.
@pytest.mark.slow
def test_list_queries_use_indexes(city: Database, now: datetime) -> None:
    # The check itself finds a scan: no index serves a search on an event's hash.
    unindexed = large_seq_scans(city, lambda s: s.execute(
        select(Event.id).where(Event.prev_hash == "0" * 64).limit(10)).all())
    assert [t for t, _ in unindexed] == ["event"]

    failures = {name: scans for name, query in list_queries(now).items()
                if (scans := [(t, sql) for t, sql in large_seq_scans(city, query)
                              if (name, t) not in EXPECTED_SCANS])}
    assert not failures, "\n\n".join(
        f"{name}: Seq Scan on {table}\n{sql[:400]}" for name, scans in failures.items()
        for table, sql in scans)
