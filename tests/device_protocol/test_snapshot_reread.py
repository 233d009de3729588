"""The snapshot table read again through the change log (PostgreSQL, triggers of migration
0520): after each kind of change, the table made from the previous one plus the staff the log
names equals the table read whole, and the staff it re-reads include every one whose rows
differ; a transaction that commits after the previous read began is never missed."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, text, update
from sqlalchemy.orm import Session

from api.db import Database
from api.models import AccessGroupMember, Credential, Staff
from api.snapshot.tables import Table, changed, read_table
from api.snapshot.versioning import bump

from .signer import World


def _read(database: Database, day: date, previous: Table | None = None) -> Table:
    with Session(database.engine) as s:
        s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        return read_table(s, day, previous)


def _fields(t: Table) -> tuple[Any, ...]:
    return (t.version, t.staff, t.groups, t.credentials, t.active_refs, t.order, t.clock_staff)


def _new_card(s: Session, w: World) -> None:  # after the revocation: one active per kind
    s.add(Credential(staff_id=w.yamada.id, kind="staff_ap", credential_ref="ef" * 16,
                     public_key=base64.b64encode(b"\x04" + b"\x03" * 64).decode(),
                     status="active", snapshot_version=0))


def _new_person(s: Session, w: World) -> None:
    person = Staff(staff_number="S003", name="鈴木 一郎", name_kana="スズキ イチロウ",
                   department_id=w.yamada.department_id, active_from=date(2020, 4, 1))
    s.add(person)
    s.flush()
    s.add(AccessGroupMember(group_id=w.group_id, staff_id=person.id))


CHANGES: list[tuple[str, Callable[[Session, World], Any]]] = [
    ("nothing", lambda s, w: None),
    ("revoke", lambda s, w: s.execute(update(Credential).where(Credential.id == w.cred.id)
                                      .values(status="revoked"))),
    ("rename", lambda s, w: s.execute(update(Staff).where(Staff.id == w.yamada.id)
                                      .values(name="山本 太郎"))),
    ("leave", lambda s, w: s.execute(delete(AccessGroupMember).where(
        AccessGroupMember.staff_id == w.yamada.id))),
    ("join", lambda s, w: s.add(AccessGroupMember(group_id=w.group_id, staff_id=w.sato.id))),
    ("new card", _new_card),
    ("leaves office", lambda s, w: s.execute(update(Staff).where(Staff.id == w.sato.id)
                                             .values(active_until=date(2021, 3, 31)))),
    ("card removed", lambda s, w: s.execute(delete(Credential).where(
        Credential.id == w.sato_cred.id))),
    ("new person", _new_person),
]


def test_a_table_read_again_from_the_log_equals_the_table_read_whole(
        database: Database, world: World, now: datetime) -> None:
    day = now.date()
    previous = _read(database, day)
    assert previous.log_position is not None  # PostgreSQL: triggers keep the log
    for name, change in CHANGES:
        with database.session() as s:
            change(s, world)
            bump(s)
            s.commit()
        again, whole = _read(database, day, previous), _read(database, day)
        assert again.reread is not None and again.reread[0] == previous.version, name
        assert _fields(again) == _fields(whole), name
        differ = changed(previous, whole) - (previous.clock_staff ^ whole.clock_staff)
        assert differ <= again.reread[1] and len(again.reread[1]) <= 2, name
        if name == "nothing":
            assert again.reread[1] == frozenset()
        previous = again


def test_a_change_committed_after_the_previous_read_began_is_read_again(
        database: Database, world: World, now: datetime) -> None:
    """Its transaction id is older than the next ones, and it was still running when the
    previous table was read: the log names it by visibility, not by order."""
    day = now.date()
    with database.session() as late:
        late.execute(update(Staff).where(Staff.id == world.sato.id).values(active_until=date(2021, 3, 31)))
        late.flush()  # the change has its transaction id now, uncommitted
        previous = _read(database, day)
        late.commit()
    with database.session() as s:
        s.execute(update(Credential).where(Credential.id == world.cred.id)
                  .values(status="revoked"))
        bump(s)
        s.commit()
    again, whole = _read(database, day, previous), _read(database, day)
    assert again.reread is not None and world.sato.id in again.reread[1]
    assert _fields(again) == _fields(whole)
    assert again.staff[world.sato.id][2] == "2021-03-31"


def test_after_a_truncate_the_table_is_read_whole(
        database: Database, world: World, now: datetime) -> None:
    day = now.date()
    previous = _read(database, day)
    with database.engine.begin() as conn:
        conn.execute(text("TRUNCATE access_group_member"))
    again = _read(database, day, previous)
    assert again.reread is None
    assert _fields(again) == _fields(_read(database, day))
