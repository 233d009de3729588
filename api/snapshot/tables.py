"""The staff side of every device's snapshot, read once per version and shared by all devices.

A ``Table`` holds, at one snapshot version and business day, everything about staff and
credentials that no device's scope changes: each staff row, each staff member's groups, each
credential as its payload entry, and who may punch at a clock point that day; and the small
lists (doors, permissions, schedules, closed days), so a device's document needs only its
door ids from the database. It is read in one REPEATABLE READ transaction, so it is exactly
the database at its version (``bump`` commits the counter with the change). Consecutive tables
share their unchanged rows.

A device's staff, credentials and ``other_refs`` are then a pure function of the table and the
device's ``Scope`` (the groups its doors' permissions reach, and whether it serves a clock
point): a full snapshot filters the table, and a compact delta compares two tables only on the
staff members whose rows differ between them (``changed``), so 50 devices after one revocation
cost one table read plus a few dict lookups each.

``TableCache`` keeps the newest ``KEEP`` tables per database and builds each one once:
concurrent requests for a version being built wait for that build (single flight) without
holding a database connection. It also remembers which scope it served each device at each
version (``SCOPES`` entries at most): a compact delta is only made from a version whose table
and device scope this process still holds; otherwise the device gets a full snapshot.
"""

from __future__ import annotations

import gc
import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import String, cast, func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, selectinload

from api.calendar.service import closed_days
from api.models import AccessGroupMember, Credential, Door, Permission, Schedule, Staff
from api.snapshot.versioning import current
from api.timefmt import format_time
from gate.policy import CredentialStatus, credential_digest

CLOSED_DAYS_BACK = 7
CLOSED_DAYS_AHEAD = 400
KEEP = 4  # tables per database: the current version and a few an agent may still hold
# (consecutive tables share their unchanged rows, so four cost little more than one)
SCOPES = 20_000  # (device, version) → scope records per database

StaffEntry = tuple[str, str, str | None]  # display_name, active_from, active_until
# Where a read stands in the change log (``snapshot_change``): its transaction's pg_snapshot,
# as text, and the database's now().
LogPosition = tuple[str, datetime]
# A previous read older than this is not compared through the log (``bump`` deletes log rows
# after a day; a writer's row carries its transaction's start, so this leaves 23 h of slack).
LOG_TRUSTED = timedelta(hours=1)
REREAD_AT_MOST = 2_000  # staff re-read by id; more changed than that: the whole table is read
Row = tuple[str, str, str | None, tuple[int, ...]]  # ... and the groups the device sees


@dataclass(frozen=True)
class Scope:
    """What of the table one device sees: its doors' groups, and everyone active if it
    serves a clock point."""

    groups: frozenset[int]
    clock: bool


@dataclass
class Table:
    version: int
    day: date
    staff: dict[int, StaffEntry]
    groups: dict[int, frozenset[int]]
    credentials: dict[int, tuple[dict[str, Any], ...]]  # by staff id, in credential id order
    active_refs: dict[str, int]  # ref → staff id of every active credential
    clock_staff: frozenset[int]  # active on ``day`` with an active credential
    order: dict[str, int]  # ref → credential id, the order of a full snapshot's credentials
    # The small lists, as payload entries: every door, the permissions on each door, every
    # schedule, and the closed days around ``day``.
    doors: dict[int, dict[str, Any]] = field(default_factory=dict)
    permissions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    schedules: dict[int, dict[str, Any]] = field(default_factory=dict)
    closed_days: list[str] = field(default_factory=list)
    _digests: dict[str, str] = field(default_factory=dict)
    # Where this read stood in the change log: the next read re-reads just the staff that
    # transactions it could not see changed (``_changed_since``). None except on PostgreSQL.
    log_position: LogPosition | None = None
    # (previous version, staff ids re-read since it): ``changed`` without comparing every row.
    reread: tuple[int, frozenset[int]] | None = None

    def in_scope(self, staff_id: int, scope: Scope) -> bool:
        if scope.clock and staff_id in self.clock_staff:
            return True
        return not self.groups.get(staff_id, frozenset()).isdisjoint(scope.groups)

    def members(self, scope: Scope) -> list[int]:
        ids = {s for s, g in self.groups.items() if not g.isdisjoint(scope.groups)}
        if scope.clock:
            ids |= self.clock_staff
        return sorted(ids & self.staff.keys())

    def row(self, staff_id: int, scope: Scope) -> Row:
        name, since, until = self.staff[staff_id]
        return name, since, until, tuple(sorted(self.groups.get(staff_id, frozenset())
                                                & scope.groups))

    def digest(self, ref: str) -> str:
        d = self._digests.get(ref)
        if d is None:
            d = self._digests[ref] = credential_digest(ref)
        return d


def door_entry(d: Door) -> dict[str, Any]:
    return {"id": d.id, "code": d.code, "name": d.name, "mode": d.mode,
            "assurance": d.assurance, "lockdown": d.lockdown, "fail_open": d.fail_open,
            "show_overtime": d.show_overtime}


class PermissionFields(Protocol):
    """A permission row: the ORM object, or the plain row the table reads."""

    @property
    def group_id(self) -> int: ...
    @property
    def door_id(self) -> int: ...
    @property
    def schedule_id(self) -> int: ...


def permission_entry(p: PermissionFields) -> dict[str, Any]:
    return {"group_id": p.group_id, "door_id": p.door_id, "schedule_id": p.schedule_id}


def schedule_entry(s: Schedule) -> dict[str, Any]:
    return {"id": s.id, "allow_closed_days": s.allow_closed_days,
            "windows": [{"weekday": w.weekday, "start_minute": w.start_minute,
                         "end_minute": w.end_minute} for w in s.windows]}


def closed_day_list(session: Session, day: date) -> list[str]:
    days = closed_days(session, day - timedelta(days=CLOSED_DAYS_BACK),
                       day + timedelta(days=CLOSED_DAYS_AHEAD))
    return sorted(d.isoformat() for d in days)


def staff_entry(row: Row, staff_id: int) -> dict[str, Any]:
    return {"id": staff_id, "display_name": row[0], "active_from": row[1],
            "active_until": row[2], "group_ids": list(row[3])}


def display_name(name: str) -> str:
    """The family name, shown on the reader display (「山田さん」)."""
    parts = name.split()  # any Unicode space, the ideographic one (U+3000) included
    return parts[0] if parts else name


def _share(previous: dict[int, Any], rows: dict[int, Any]) -> dict[int, Any]:
    """``rows`` holding ``previous``' objects where equal: consecutive tables share everything
    unchanged (memory of about one table plus the changes), and compare by identity."""
    for k, v in rows.items():
        old = previous.get(k)
        if old is not None and old == v:
            rows[k] = old
    return rows


def read_table(session: Session, day: date, previous: Table | None = None) -> Table:
    """The table at the current version; call inside one REPEATABLE READ transaction.

    Rows are read as plain tuples through the Core connection (no ORM objects: the table is
    20,000 staff and their groups and credentials, read again after every change). On
    PostgreSQL, after the first table only the staff members that the change log names since
    ``previous`` are read again (a revocation: one), the rest taken from ``previous``."""
    conn = session.connection()
    version = current(session)
    position = _log_position(conn)
    rows, reread = _reread(conn, previous, position)
    if rows is None:
        rows = _read_rows(conn, previous)
    staff, frozen, by_staff, active, order = rows
    clock = _clock_staff(staff, by_staff, active, day,
                         previous if reread is not None else None, reread)
    permissions: dict[int, list[dict[str, Any]]] = {}
    for p in conn.execute(select(Permission.group_id, Permission.door_id, Permission.schedule_id)
                          .order_by(Permission.group_id, Permission.door_id,
                                    Permission.schedule_id)).all():
        permissions.setdefault(p.door_id, []).append(permission_entry(p))
    return Table(version, day, staff, frozen, by_staff, active, clock, order,
                 {d.id: door_entry(d) for d in session.execute(
                     select(Door).order_by(Door.id)).scalars()},
                 permissions,
                 {s.id: schedule_entry(s) for s in session.execute(
                     select(Schedule).options(selectinload(Schedule.windows))).scalars()},
                 closed_day_list(session, day),
                 previous._digests if previous is not None else {},  # a ref's never changes
                 position, reread)


def _clock_staff(staff: dict[int, StaffEntry], by_staff: dict[int, tuple[dict[str, Any], ...]],
                 active: dict[str, int], day: date, previous: Table | None,
                 reread: tuple[int, frozenset[int]] | None) -> frozenset[int]:
    """Staff active on ``day`` with an active credential. After a re-read on the same day,
    ``previous``' set with only the re-read staff decided again (the others' rows are the same
    objects), instead of going through all 20,000."""
    today = day.isoformat()  # ISO dates compare as strings

    def active_on_day(s: int) -> bool:
        entry = staff.get(s)
        if entry is None:
            return False
        until = entry[2]
        return entry[1] <= today and (until is None or until >= today)

    if previous is not None and reread is not None and previous.day == day:
        ids = reread[1]
        return (previous.clock_staff - ids) | frozenset(
            s for s in ids if active_on_day(s) and any(
                c["status"] == CredentialStatus.ACTIVE for c in by_staff.get(s, ())))
    return frozenset(s for s in set(active.values()) if active_on_day(s))


Rows = tuple[dict[int, StaffEntry], dict[int, frozenset[int]],
             dict[int, tuple[dict[str, Any], ...]], dict[str, int], dict[str, int]]


def _read_rows(conn: Connection, previous: Table | None) -> Rows:
    """Every staff row, group set and credential, sharing ``previous``' equal objects."""
    staff = _read_staff(conn)
    frozen = _read_groups(conn)
    by_staff, active, order = _read_credentials(conn)
    if previous is not None:
        staff, frozen = _share(previous.staff, staff), _share(previous.groups, frozen)
        by_staff = _share(previous.credentials, by_staff)
        order = previous.order if previous.order == order else order
    return staff, frozen, by_staff, active, order


def _log_position(conn: Connection) -> LogPosition | None:
    """This transaction's place in the change log; None except on PostgreSQL."""
    if conn.dialect.name != "postgresql":
        return None
    snap, at = conn.execute(text("SELECT pg_current_snapshot()::text, now()")).one()
    return str(snap), at


# Log rows of the transactions a snapshot did not see: every such transaction id is at least
# the snapshot's xmin (the index bound), and not visible in it.
CHANGED_SINCE = text(
    "SELECT DISTINCT staff_id FROM snapshot_change "
    "WHERE xid >= pg_snapshot_xmin(CAST(:snap AS pg_snapshot))::text::bigint "
    "AND NOT pg_visible_in_snapshot(xid::text::xid8, CAST(:snap AS pg_snapshot))")


def _changed_since(conn: Connection, since: LogPosition, position: LogPosition
                   ) -> frozenset[int] | None:
    """Staff ids whose snapshot rows were changed by a transaction committed after the read at
    ``since`` and before this one (triggers of migration 0520 log them); None when the log
    cannot tell: ``since`` is too old, or a table was truncated."""
    if position[1] - since[1] > LOG_TRUSTED:
        return None
    ids = frozenset(conn.execute(CHANGED_SINCE, {"snap": since[0]}).scalars())
    return None if -1 in ids else ids


def _reread(conn: Connection, previous: Table | None, position: LogPosition | None
            ) -> tuple[Rows | None, tuple[int, frozenset[int]] | None]:
    """``previous``' rows with those of the staff the change log names read again, and
    (previous version, those ids); (None, None) when the whole table must be read."""
    if previous is None or previous.log_position is None or position is None:
        return None, None
    ids = _changed_since(conn, previous.log_position, position)
    if ids is None or len(ids) > REREAD_AT_MOST:
        return None, None
    staff, groups = dict(previous.staff), dict(previous.groups)
    by_staff, active, order = (dict(previous.credentials), dict(previous.active_refs),
                               dict(previous.order))
    for i in ids:
        staff.pop(i, None)
        groups.pop(i, None)
        for c in by_staff.pop(i, ()):
            order.pop(c["ref"], None)
            if active.get(c["ref"]) == i:
                del active[c["ref"]]
    if ids:
        staff.update(_read_staff(conn, ids))
        groups.update(_read_groups(conn, ids))
        new_creds, new_active, new_order = _read_credentials(conn, ids)
        by_staff.update(new_creds)
        active.update(new_active)
        order.update(new_order)
    return (staff, groups, by_staff, active, order), (previous.version, ids)


def _read_staff(conn: Connection, ids: frozenset[int] | None = None
                ) -> dict[int, StaffEntry]:
    """Every staff row, or those of ``ids``."""
    query = select(Staff.id, Staff.name, Staff.active_from, Staff.active_until)
    if ids is not None:
        query = query.where(Staff.id.in_(sorted(ids)))
    return {i: (display_name(n), f.isoformat(), u.isoformat() if u else None)
            for i, n, f, u in conn.execute(query).all()}


def _read_groups(conn: Connection, ids: frozenset[int] | None = None
                 ) -> dict[int, frozenset[int]]:
    """Each staff member's groups (or those of ``ids``), aggregated by the database: one row
    per staff member instead of one per membership."""
    groups = func.aggregate_strings(cast(AccessGroupMember.group_id, String), ",")
    query = select(AccessGroupMember.staff_id, groups).group_by(AccessGroupMember.staff_id)
    if ids is not None:
        query = query.where(AccessGroupMember.staff_id.in_(sorted(ids)))
    return {s: frozenset(map(int, g.split(","))) for s, g in conn.execute(query).all()}


def _read_credentials(conn: Connection, ids: frozenset[int] | None = None
                      ) -> tuple[dict[int, tuple[dict[str, Any], ...]], dict[str, int],
                                 dict[str, int]]:
    """Payload entries by staff id (in credential id order), active ref → staff id, and
    ref → credential id; of every credential, or of the staff ``ids``."""
    creds: dict[int, list[dict[str, Any]]] = {}
    active: dict[str, int] = {}
    order: dict[str, int] = {}
    query = select(Credential.id, Credential.credential_ref, Credential.kind,
                   Credential.staff_id, Credential.status, Credential.public_key,
                   Credential.not_after).order_by(Credential.id)
    if ids is not None:
        query = query.where(Credential.staff_id.in_(sorted(ids)))
    for cid, ref, kind, sid, status, key, not_after in conn.execute(query).all():
        entry = {"ref": ref, "kind": kind, "staff_id": sid, "status": status,
                 "public_key": key,
                 "not_after": None if not_after is None else format_time(not_after)}
        if sid in creds:
            creds[sid].append(entry)
        else:
            creds[sid] = [entry]
        order[ref] = cid
        if status == CredentialStatus.ACTIVE:
            active[ref] = sid
    return {s: tuple(c) for s, c in creds.items()}, active, order


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a table is read: the read allocates a few
    hundred thousand acyclic objects that all survive, and the collector's repeated passes
    over them and over the tables held cost about as much as the read itself."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def full_lists(table: Table, scope: Scope) -> dict[str, Any]:
    """``staff``, ``credentials`` and ``other_refs`` of a full snapshot."""
    ids = table.members(scope)
    listed: set[str] = set()
    creds = []
    for s in ids:
        for c in table.credentials.get(s, ()):
            creds.append(c)
            listed.add(c["ref"])
    creds.sort(key=lambda c: table.order[c["ref"]])
    return {"credentials": creds,
            "staff": [staff_entry(table.row(s, scope), s) for s in ids],
            "other_refs": sorted(table.digest(r) for r in table.active_refs if r not in listed)}


def changed(old: Table, new: Table) -> frozenset[int]:
    """Staff ids whose row, groups, credentials or clock-point standing differ."""
    ids = {s for s in old.staff.keys() | new.staff.keys()
           if not _same(old.staff.get(s), new.staff.get(s))
           or not _same(old.groups.get(s), new.groups.get(s))
           or not _same(old.credentials.get(s), new.credentials.get(s))}
    return frozenset(ids | (old.clock_staff ^ new.clock_staff))


def _same(a: object, b: object) -> bool:
    return a is b or a == b  # shared objects (``_share``) compare by identity first


def compact_lists(old: Table, new: Table, scope: Scope, ids: frozenset[int]) -> dict[str, Any]:
    """What a device with ``scope`` must change to go from ``old`` to ``new``."""
    out: dict[str, list[Any]] = {"credentials": [], "credentials_removed": [], "staff": [],
                                 "staff_removed": [], "other_refs_added": [],
                                 "other_refs_removed": []}
    for s in sorted(ids):
        was = s in old.staff and old.in_scope(s, scope)
        now = s in new.staff and new.in_scope(s, scope)
        if now and (not was or old.row(s, scope) != new.row(s, scope)):
            out["staff"].append(staff_entry(new.row(s, scope), s))
        elif was and not now:
            out["staff_removed"].append(s)
        before = {c["ref"]: c for c in old.credentials.get(s, ())} if was else {}
        after = {c["ref"]: c for c in new.credentials.get(s, ())} if now else {}
        out["credentials"] += [c for r, c in after.items() if before.get(r) != c]
        out["credentials_removed"] += [r for r in before if r not in after]
        refs = {c["ref"] for c in old.credentials.get(s, ())}
        refs |= {c["ref"] for c in new.credentials.get(s, ())}
        for r in sorted(refs):
            other_before = not was and old.active_refs.get(r) == s
            other_after = not now and new.active_refs.get(r) == s
            if other_after and not other_before:
                out["other_refs_added"].append(new.digest(r))
            elif other_before and not other_after:
                out["other_refs_removed"].append(new.digest(r))
    return out


class _Held:
    """One database's tables, pair diffs and device scopes."""

    def __init__(self) -> None:
        self.tables: OrderedDict[int, Table] = OrderedDict()
        self.building: Future[Table] | None = None
        self.changed: OrderedDict[tuple[int, int], frozenset[int]] = OrderedDict()
        self.scopes: OrderedDict[tuple[uuid.UUID, int], tuple[Scope, date]] = OrderedDict()


class TableCache:
    """Tables built once per version and database, shared by every request (see module)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: weakref.WeakKeyDictionary[Engine, _Held] = weakref.WeakKeyDictionary()
        self.builds = 0  # tables read from the database (tests and the bench count them)

    def _of(self, engine: Engine) -> _Held:
        held = self._held.get(engine)
        if held is None:
            held = self._held[engine] = _Held()
        return held

    def at_least(self, engine: Engine, version: int, day: date) -> Table:
        """A table of ``day`` at ``version`` or newer: held, being built, or built now."""
        while True:
            with self._lock:
                held = self._of(engine)
                fit = [t for t in held.tables.values() if t.version >= version and t.day == day]
                if fit:
                    return max(fit, key=lambda t: t.version)
                waiting, mine = held.building, None
                if waiting is None:
                    mine = held.building = Future()
            if waiting is not None:
                waiting.result()  # another request is reading it; then look again
                continue
            assert mine is not None
            return self._build(engine, held, mine, day)

    def _build(self, engine: Engine, held: _Held, mine: Future[Table], day: date) -> Table:
        try:
            with self._lock:
                previous = next(reversed(held.tables.values()), None)
            with Session(engine) as session, collector_paused():
                if engine.dialect.name == "postgresql":
                    session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
                table = read_table(session, day, previous)
        except BaseException as err:
            with self._lock:
                held.building = None
            mine.set_exception(err)
            raise
        with self._lock:
            self.builds += 1
            held.tables[table.version] = table
            held.tables.move_to_end(table.version)
            while len(held.tables) > KEEP:
                held.tables.popitem(last=False)
            held.building = None
        mine.set_result(table)
        return table

    def table(self, engine: Engine, version: int) -> Table | None:
        with self._lock:
            return self._of(engine).tables.get(version)

    def changed(self, engine: Engine, old: Table, new: Table) -> frozenset[int]:
        if new.reread is not None and new.reread[0] == old.version:  # re-read from the change log
            return new.reread[1] | (old.clock_staff ^ new.clock_staff)
        key = (old.version, new.version)
        with self._lock:
            hit = self._of(engine).changed.get(key)
        if hit is not None:
            return hit
        ids = changed(old, new)  # a few ms; two racing requests may both compute it
        with self._lock:
            pairs = self._of(engine).changed
            pairs[key] = ids
            while len(pairs) > KEEP * KEEP:
                pairs.popitem(last=False)
        return ids

    def served(self, engine: Engine, device_id: uuid.UUID, version: int, scope: Scope,
               day: date) -> None:
        with self._lock:
            scopes = self._of(engine).scopes
            scopes[(device_id, version)] = (scope, day)
            scopes.move_to_end((device_id, version))
            while len(scopes) > SCOPES:
                scopes.popitem(last=False)

    def scope_at(self, engine: Engine, device_id: uuid.UUID,
                 version: int) -> tuple[Scope, date] | None:
        with self._lock:
            return self._of(engine).scopes.get((device_id, version))


TABLES = TableCache()
