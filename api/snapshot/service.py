"""Building the snapshot a device decides from, signed with the service key.

Scope: the device's own doors; the permissions on them; the groups, staff, credentials and
schedules those permissions reach; the closed days from 7 days back to 400 days ahead.
Two builds. ``build_payload`` (agents that do not ask for ``compact``) reads everything for the
one request; its delta (``since`` given) holds only the credentials changed after ``since``
(plus every non-active credential changed after it), every other list complete.
``build_shared_payload`` (``compact``) takes staff and credentials from the table read once per
version and shared by every device (module ``tables``); its delta carries only what changed.

Per-request deltas select on ``Credential.snapshot_version``. A change that brings a
credential into a device's scope without touching the credential (a staff member added to a
group, a new permission) must stamp the credentials concerned: call
``stamp_staff_credentials``.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from api.attendance.config import rule_config
from api.attendance.rules import month_cap
from api.models import Credential, Door
from api.overtime.caps import month_so_far
from api.snapshot.versioning import current, same_epoch
from api.timefmt import format_time
from gate.door import DoorMode
from gate.policy import credential_digest
from gate.signing import sign_document

from . import repository
from .tables import (
    TABLES,
    Scope,
    Table,
    closed_day_list,
    compact_lists,
    display_name,
    door_entry,
    full_lists,
    permission_entry,
    schedule_entry,
)

FORMAT = 1


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else format_time(dt)


def build_payload(session: Session, *, device_id: uuid.UUID, since: int | None,
                  now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    """The snapshot payload for one device (unsigned), read for this request alone; a delta
    lists only changed credentials, every other list complete (agents that do not ask for
    ``compact``)."""
    # Read the version first: data read afterwards is at least this new.
    version = current(session)
    if since is not None and (since > version or since < 0 or not same_epoch(since, version)):
        since = None  # unknown version, or one from before a restore: send everything
    today = now.astimezone(tz).date()
    doors, lists, scope = _frame(session, device_id, today)
    groups_of: dict[int, set[int]] = defaultdict(set)
    for staff_id, group_id in repository.memberships(session, scope.groups):
        groups_of[staff_id].add(group_id)
    in_scope = set(groups_of)
    if scope.clock:  # anyone active may punch at a clock point
        in_scope |= set(repository.active_staff_ids(session, today))
    staff = repository.staff_by_ids(session, in_scope)
    credentials = repository.credentials_for(session, [s.id for s in staff], since)
    listed = {c.credential_ref for c in credentials}  # once: per ref it was quadratic
    return {
        "format": FORMAT,
        "device_id": str(device_id),
        "version": version,
        "since": since,
        "full": since is None,
        "issued_at": _iso(now),
        "timezone": tz.key,
        # Readers label 出勤/退勤 and decide closed days on the same business day as attendance.
        "day_change": rule_config().day_change.strftime("%H:%M"),
        **lists,
        "credentials": [{"ref": c.credential_ref, "kind": c.kind, "staff_id": c.staff_id,
                         "status": c.status, "public_key": c.public_key,
                         "not_after": _iso(c.not_after)} for c in credentials],
        "staff": [{"id": s.id, "display_name": display_name(s.name),
                   "active_from": s.active_from.isoformat(),
                   "active_until": s.active_until.isoformat() if s.active_until else None,
                   "group_ids": sorted(groups_of[s.id])} for s in staff],
        # Every other active credential, hashed: the reader says "not permitted here" for
        # those and "unknown card" only for cards nobody enrolled.
        "other_refs": sorted(credential_digest(r) for r in repository.active_refs(session)
                             if r not in listed),
        **overtime_figures(session, doors, [s.id for s in staff], now),
    }


# The month so far costs about 1 ms of CPU per staff member with overtime, and every device
# fetches a snapshot after each long-poll round: figures are reused for FIGURES_TTL per
# database (engine) and staff scope, so the 退勤 line is at most that much behind.
FIGURES_TTL = timedelta(minutes=5)
_figures_lock = threading.Lock()
_figures: weakref.WeakKeyDictionary[Engine, dict[tuple[int, ...], tuple[
    datetime, date, dict[int, tuple[int, int]]]]] = weakref.WeakKeyDictionary()


def _month_so_far(session: Session, staff_ids: list[int], now: datetime
                  ) -> tuple[date, dict[int, tuple[int, int]]]:
    engine = session.get_bind().engine
    key = tuple(sorted(staff_ids))
    cfg = rule_config()
    month = cfg.business_day.date_of(now).replace(day=1)
    with _figures_lock:
        hit = _figures.get(engine, {}).get(key)
    if hit is not None and hit[1] == month and timedelta(0) <= now - hit[0] < FIGURES_TTL:
        return hit[1], hit[2]
    month, figures = month_so_far(session, staff_ids, now, cfg)
    with _figures_lock:
        held = _figures.setdefault(engine, {})
        for k in [k for k, v in held.items() if not timedelta(0) <= now - v[0] < FIGURES_TTL]:
            del held[k]  # a scope no device asks for any more
        held[key] = (now, month, figures)
    return month, figures


def overtime_figures(session: Session, doors: list[Door], staff_ids: list[int],
                     now: datetime) -> dict[str, Any]:
    """``{"overtime": …}`` for a device with a clock point that shows the month's overtime on
    退勤 (「今月の時間外 32:15 / 45:00」), else nothing. Staff not listed have ``default``."""
    if not any(DoorMode(d.mode).is_clock and d.show_overtime for d in doors):
        return {}
    month, figures = _month_so_far(session, staff_ids, now)
    default = (0, month_cap("ordinary"))
    return {"overtime": {
        "month": f"{month:%Y-%m}", "as_of": _iso(now), "default": list(default),
        "staff": [[sid, m, cap] for sid, (m, cap) in sorted(figures.items())
                  if (m, cap) != default]}}


def _frame(session: Session, device_id: uuid.UUID, today: date
           ) -> tuple[list[Door], dict[str, Any], Scope]:
    """The device's own small lists, complete in every document, and its scope."""
    doors = repository.doors_of_device(session, device_id)
    permissions = repository.permissions_for_doors(session, [d.id for d in doors])
    schedules = repository.schedules_by_ids(session, {p.schedule_id for p in permissions})
    lists = {"doors": [door_entry(d) for d in doors],
             "permissions": [permission_entry(p) for p in permissions],
             "schedules": [schedule_entry(s) for s in schedules],
             "closed_days": closed_day_list(session, today)}
    scope = Scope(frozenset(p.group_id for p in permissions),
                  any(DoorMode(d.mode).is_clock for d in doors))
    return doors, lists, scope


def _shared_frame(session: Session, device_id: uuid.UUID, table: Table
                  ) -> tuple[dict[str, Any], Scope] | None:
    """:func:`_frame` from the table (one query for the device's door ids); None when a door
    is newer than the table."""
    ids = repository.door_ids_of_device(session, device_id)
    if any(i not in table.doors for i in ids):
        return None
    permissions = sorted((p for i in ids for p in table.permissions.get(i, ())),
                         key=lambda p: (p["group_id"], p["door_id"], p["schedule_id"]))
    schedule_ids = sorted({p["schedule_id"] for p in permissions})
    doors = [table.doors[i] for i in ids]
    lists = {"doors": doors, "permissions": permissions,
             "schedules": [table.schedules[s] for s in schedule_ids if s in table.schedules],
             "closed_days": table.closed_days}
    return lists, Scope(frozenset(p["group_id"] for p in permissions),
                        any(DoorMode(d["mode"]).is_clock for d in doors))


def _compact_from(session: Session, device_id: uuid.UUID, since: int | None, table: Table,
                  scope: Scope) -> dict[str, Any] | None:
    """The compact delta's lists from ``since``, or None when this process cannot make it
    (it no longer holds that version's table, or the device's scope has changed)."""
    engine = session.get_bind().engine
    if since is None or since > table.version or not same_epoch(since, table.version):
        return None
    old, held = TABLES.table(engine, since), TABLES.scope_at(engine, device_id, since)
    if old is None or held is None or held[0] != scope or (scope.clock and old.day != held[1]):
        return None
    return compact_lists(old, table, scope, TABLES.changed(engine, old, table))


def prefetch_table(engine: Engine, version: int, now: datetime, tz: ZoneInfo) -> None:
    """Build (or join the build of) the shared table of ``version``, before any request asks:
    the API process calls this on hearing of a new version (``api.device_protocol.watcher``)."""
    TABLES.at_least(engine, version, now.astimezone(tz).date())


def build_shared_payload(session: Session, *, device_id: uuid.UUID, since: int | None,
                         now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    """The snapshot payload from the shared per-version table (module ``tables``): a compact
    delta from ``since`` when this process can make one, else a full snapshot."""
    engine = session.get_bind().engine
    today = now.astimezone(tz).date()
    version = current(session)
    session.commit()  # no pooled connection held while another request reads the table
    table = TABLES.at_least(engine, version, today)
    shared = _shared_frame(session, device_id, table)
    lists, scope = shared if shared is not None else _frame(session, device_id, today)[1:]
    changes = _compact_from(session, device_id, since, table, scope)
    staff_lists = full_lists(table, scope) if changes is None else changes
    TABLES.served(engine, device_id, table.version, scope, today)
    payload = {"format": FORMAT, "device_id": str(device_id), "version": table.version,
               "since": None if changes is None else since, "full": changes is None,
               "issued_at": _iso(now), "timezone": tz.key,
               "day_change": rule_config().day_change.strftime("%H:%M"), **lists,
               **staff_lists,
               **(overtime_figures(session, repository.doors_of_device(session, device_id),
                                   table.members(scope), now)
                  if any(DoorMode(d["mode"]).is_clock and d["show_overtime"]
                         for d in lists["doors"]) else {})}
    if changes is not None:
        payload["compact"] = True
    return payload


def build_signed(session: Session, *, device_id: uuid.UUID, since: int | None, now: datetime,
                 tz: ZoneInfo, signing_key: Ed25519PrivateKey,
                 compact: bool = False) -> dict[str, Any]:
    """The signed snapshot document ``{payload, key_id, signature}``; ``compact``: from the
    shared table, a delta carrying only changes (agents that ask for it can apply it)."""
    build = build_shared_payload if compact else build_payload
    payload = build(session, device_id=device_id, since=since, now=now, tz=tz)
    return sign_document(payload, signing_key)


def staff_in_scope(session: Session, device_id: uuid.UUID) -> set[int]:
    """Ids of the staff whose groups hold a permission on one of the device's doors."""
    door_ids = [d.id for d in repository.doors_of_device(session, device_id)]
    group_ids = {p.group_id for p in repository.permissions_for_doors(session, door_ids)}
    return {staff_id for staff_id, _ in repository.memberships(session, group_ids)}


def stamp_staff_credentials(session: Session, staff_ids: list[int], version: int) -> None:
    """Mark every credential of these staff as changed at ``version`` (scope changes)."""
    if staff_ids:
        session.execute(update(Credential).where(Credential.staff_id.in_(staff_ids))
                        .values(snapshot_version=version))
