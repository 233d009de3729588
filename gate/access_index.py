"""The decision data of a reader, compact and indexed.

A 20,000-staff snapshot as one Python object per staff member and credential costs tens of
megabytes, and :func:`gate.policy.decide` scans every permission. Here staff and credentials
are rows in flat arrays, and permissions are indexed per door and group, so a decision reads
one credential row, one staff row and the door's entries for the staff member's groups.
:meth:`AccessIndex.decide` makes :func:`gate.policy.decide`'s checks in the same order on those
rows (``tests/gate/test_access_index.py`` checks with hypothesis that both always agree).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import TypeVar
from zoneinfo import ZoneInfo

from .business_day import DEFAULT_DAY_CHANGE, JST, BusinessDay
from .door import DoorMode
from .policy import CredentialInfo, CredentialStatus, Decision, DoorInfo, Reason, Schedule

__all__ = ["AccessIndex", "AccessIndexBuilder"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NONE = -1  # no date / no expiry in an int array
_STATUSES = tuple(CredentialStatus)
_DENY = {reason: Decision.deny(reason) for reason in Reason}
_GRANTED = Decision(True, Reason.GRANTED)
# Per status (by its index in _STATUSES): the denial it gives, None for an active credential.
_STATUS_DENIAL = tuple(
    None if s is CredentialStatus.ACTIVE else _DENY[Reason(f"credential_{s.value}")]
    for s in _STATUSES)


def _micros(dt: datetime | None) -> int:
    return _NONE if dt is None else (dt - _EPOCH) // timedelta(microseconds=1)


class AccessIndexBuilder:
    """Collects rows one by one into arrays and byte strings, then :meth:`build`.

    Nothing per row is a Python object, neither while the rows are collected (that happens while
    the parsed snapshot document is alive) nor after: the lookups (credential by ref, a
    credential's staff row, a door's permissions) are arrays and one small dict per door, made
    on first use or by :meth:`AccessIndex.prepare`, after the parsed document is gone."""

    def __init__(self) -> None:
        # Dates as ordinals and offsets into the packed rows fit in 4 bytes ("i"); ids and
        # times in microseconds take 8 ("q").
        self.staff_ids = array("q")
        self.active_from = array("i")
        self.active_until = array("i")
        self.group_start = array("i", [0])
        self.groups = array("q")
        self.names = bytearray()
        self.name_start = array("i", [0])
        self.refs = bytearray()
        self.ref_start = array("i", [0])
        self.cred_staff = array("q")
        self.cred_status = array("b")
        self.cred_kind = array("b")
        self.kinds: list[str] = []
        self.cred_not_after = array("q")
        self.key_start = array("i", [0])
        self.keys = bytearray()
        # Permissions as rows too; indexed per group for a door when it is first decided.
        self.perm_group = array("q")
        self.perm_door = array("q")
        self.perm_schedule = array("q")

    def staff(self, staff_id: int, active_from: date, active_until: date | None,
              group_ids: Iterable[int], name: str = "") -> None:
        self.staff_ids.append(staff_id)
        self.active_from.append(active_from.toordinal())
        self.active_until.append(_NONE if active_until is None else active_until.toordinal())
        self.groups.extend(sorted(set(group_ids)))
        self.group_start.append(len(self.groups))
        self.names += name.encode()
        self.name_start.append(len(self.names))

    def credential(self, ref: str, staff_id: int, kind: str, status: CredentialStatus,
                   not_after: datetime | None, public_key: bytes) -> None:
        if kind not in self.kinds:
            self.kinds.append(kind)
        self.refs += ref.encode()
        self.ref_start.append(len(self.refs))
        self.cred_staff.append(staff_id)
        self.cred_status.append(_STATUSES.index(status))
        self.cred_kind.append(self.kinds.index(kind))
        self.cred_not_after.append(_micros(not_after))
        self.keys += public_key
        self.key_start.append(len(self.keys))

    def permission(self, group_id: int, door_id: int, schedule_id: int) -> None:
        self.perm_group.append(group_id)
        self.perm_door.append(door_id)
        self.perm_schedule.append(schedule_id)

    def build(self, *, schedules: Mapping[int, Schedule], closed_days: frozenset[date],
              tz: ZoneInfo = JST, day_change: time = DEFAULT_DAY_CHANGE) -> AccessIndex:
        refs = {self._ref(i) for i in range(len(self.cred_staff))}
        if len(refs) != len(self.cred_staff):
            raise ValueError("a credential is given twice")
        if len(set(self.staff_ids)) != len(self.staff_ids):
            raise ValueError("a staff member is given twice")
        return AccessIndex(self, dict(schedules), closed_days, tz, day_change)

    def _ref(self, row: int) -> str:
        return self.refs[self.ref_start[row]:self.ref_start[row + 1]].decode()

    def copy_rows(self) -> AccessIndexBuilder:
        """A copy of the staff and credential rows (C-level copies), without permissions."""
        new = AccessIndexBuilder()
        for name in ("staff_ids", "active_from", "active_until", "group_start", "groups",
                     "names", "name_start", "refs", "ref_start", "cred_staff", "cred_status",
                     "cred_kind", "cred_not_after", "key_start", "keys"):
            value = getattr(self, name)
            setattr(new, name, value[:])
        new.kinds = list(self.kinds)
        return new


# Names are bytes, groups and keys arrays: one kind on both sides of a write.
_Seq = TypeVar("_Seq", bytearray, "array[int]")


def _put(dst: _Seq, dst_start: array[int], at: int, src: _Seq, src_start: array[int],
         i: int) -> bool:
    """Write variable-length item ``i`` of ``src`` over item ``at`` of ``dst`` if the lengths
    agree; False (nothing written) if not."""
    a, b = dst_start[at], dst_start[at + 1]
    c, d = src_start[i], src_start[i + 1]
    if b - a != d - c:
        return False
    dst[a:b] = src[c:d]
    return True


@dataclass(frozen=True, eq=False)
class AccessIndex:
    """Read-only decision data; see the module docstring."""

    _rows: AccessIndexBuilder
    schedules: dict[int, Schedule]
    closed_days: frozenset[date]
    tz: ZoneInfo
    day_change: time

    @property
    def _business_day(self) -> BusinessDay:
        return BusinessDay(self.tz, self.day_change)

    def prepare(self) -> None:
        """Make the lookup structures now instead of at the first decision (the agent does
        it at load, before it gives the memory freed meanwhile back to the system)."""
        for name in ("_cred_table", "_cred_staff_row"):
            getattr(self, name)

    @cached_property
    def _cred_table(self) -> array[int]:
        """The credential rows by ref, an open-addressing hash table: ``hash(ref)`` picks a
        slot, the row there is confirmed against its packed ref, and the next slot is tried
        on a mismatch. Four bytes a slot, at least twice as many slots as credentials (a dict
        of the ref strings cost 3 MB for 20,000 credentials; this, 256 kB). ``hash`` of a str
        differs between processes: the table is made in the process that uses it, never kept."""
        rows = self._rows
        size = 1 << max(3, (2 * len(rows.cred_staff)).bit_length())
        table = array("i", [_NONE]) * size
        for row in range(len(rows.cred_staff)):
            slot = hash(rows._ref(row)) & (size - 1)
            while table[slot] != _NONE:
                slot = (slot + 1) & (size - 1)
            table[slot] = row
        return table

    def _cred_row(self, ref: str) -> int | None:
        table, r, packed = self._cred_table, self._rows, ref.encode()
        mask = len(table) - 1
        slot = hash(ref) & mask
        while (row := table[slot]) != _NONE:
            if r.refs[r.ref_start[row]:r.ref_start[row + 1]] == packed:
                return row
            slot = (slot + 1) & mask
        return None

    @cached_property
    def _cred_staff_row(self) -> array[int]:
        """Per credential row, its staff member's row (``_NONE``: not in the snapshot); an
        array, not a dict of staff ids, which would cost a megabyte for 20,000 staff."""
        rows = self._rows
        staff_row = {staff_id: i for i, staff_id in enumerate(rows.staff_ids)}
        return array("i", (staff_row.get(s, _NONE) for s in rows.cred_staff))

    @cached_property
    def _door_groups(self) -> dict[int, dict[int, tuple[int, ...]]]:
        """Per door decided so far, :meth:`_groups_at` (a reader decides for its own door only:
        the other doors of a 200-door snapshot cost nothing)."""
        return {}

    def _groups_at(self, door_id: int) -> dict[int, tuple[int, ...]]:
        """Per group, the schedules that grant it at ``door_id`` (in the order given)."""
        by_group = self._door_groups.get(door_id)
        if by_group is None:
            by_group = {}
            rows = self._rows
            for group_id, door, schedule_id in zip(rows.perm_group, rows.perm_door,
                                                   rows.perm_schedule, strict=True):
                if door == door_id:
                    by_group[group_id] = (*by_group.get(group_id, ()), schedule_id)
            self._door_groups[door_id] = by_group  # two threads at once make equal ones
        return by_group

    def patched(self, rows: AccessIndexBuilder, *, schedules: Mapping[int, Schedule],
                closed_days: frozenset[date], tz: ZoneInfo, day_change: time
                ) -> AccessIndex | None:
        """This index with the staff and credential rows collected in ``rows`` written over
        their own rows, and ``rows``' permissions; None when one of them is new or changes
        size (a new credential or person, another name length or number of groups, another
        key length): then the caller rebuilds. A revocation always patches."""
        new = self._rows.copy_rows()
        for i, ref in enumerate(rows._ref(i) for i in range(len(rows.cred_staff))):
            at = self._find_cred(ref)
            if at is None or new.cred_staff[at] != rows.cred_staff[i] or not _put(
                    new.keys, new.key_start, at, rows.keys, rows.key_start, i):
                return None
            kind = rows.kinds[rows.cred_kind[i]]
            if kind not in new.kinds:
                new.kinds.append(kind)
            new.cred_kind[at] = new.kinds.index(kind)
            new.cred_status[at] = rows.cred_status[i]
            new.cred_not_after[at] = rows.cred_not_after[i]
        for i, staff_id in enumerate(rows.staff_ids):
            at = self._find_staff(staff_id)
            if at is None or not (_put(new.names, new.name_start, at, rows.names,
                                       rows.name_start, i)
                                  and _put(new.groups, new.group_start, at, rows.groups,
                                           rows.group_start, i)):
                return None
            new.active_from[at] = rows.active_from[i]
            new.active_until[at] = rows.active_until[i]
        new.perm_group, new.perm_door, new.perm_schedule = (
            rows.perm_group, rows.perm_door, rows.perm_schedule)
        index = AccessIndex(new, dict(schedules), closed_days, tz, day_change)
        # Same refs and staff on the same rows: lookups already made carry over.
        for name in ("_cred_table", "_cred_staff_row"):
            if name in self.__dict__:
                index.__dict__[name] = self.__dict__[name]
        return index

    def _find_cred(self, ref: str) -> int | None:
        """The row of ``ref``: from the lookup table if made, else by a scan of the packed refs
        (C speed; making the table for one revocation costs more)."""
        if "_cred_table" in self.__dict__:
            return self._cred_row(ref)
        r, packed, at = self._rows, ref.encode(), 0
        while (at := r.refs.find(packed, at)) >= 0:
            row = bisect_left(r.ref_start, at)
            if row < len(r.cred_staff) and r.ref_start[row] == at \
                    and r.ref_start[row + 1] == at + len(packed):
                return row
            at += 1
        return None

    def _find_staff(self, staff_id: int) -> int | None:
        try:
            return self._rows.staff_ids.index(staff_id)
        except ValueError:
            return None

    def public_key(self, ref: str) -> bytes | None:
        row = self._cred_row(ref)
        if row is None:
            return None
        return bytes(self._rows.keys[self._rows.key_start[row]:self._rows.key_start[row + 1]])

    def credential(self, ref: str) -> CredentialInfo | None:
        r = self._rows
        row = self._cred_row(ref)
        if row is None:
            return None
        micros = r.cred_not_after[row]
        return CredentialInfo(ref, r.cred_staff[row], r.kinds[r.cred_kind[row]],
                              _STATUSES[r.cred_status[row]],
                              None if micros == _NONE else _EPOCH + timedelta(microseconds=micros))

    def staff_name(self, staff_id: int) -> str:
        row = self._find_staff(staff_id)  # a scan at C speed, once per punch
        if row is None:
            return ""
        return self._rows.names[self._rows.name_start[row]:self._rows.name_start[row + 1]].decode()

    def decide(self, ref: str | None, door: DoorInfo, now: datetime, *,
               pin_verified: bool) -> Decision:
        """:func:`gate.policy.decide` for the credential ``ref`` at ``door``, read from the rows
        and the door's permission index instead of objects (tests check they agree)."""
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        local = now.astimezone(self.tz)
        if door.lockdown:
            return _DENY[Reason.LOCKDOWN]
        r = self._rows
        row = self._cred_row(ref) if ref is not None else None
        if row is None:
            return _DENY[Reason.UNKNOWN_CREDENTIAL]
        status = _STATUS_DENIAL[r.cred_status[row]]
        if status is not None:
            return status
        not_after = r.cred_not_after[row]
        if not_after != _NONE and _micros(now) >= not_after:
            return _DENY[Reason.CREDENTIAL_EXPIRED]
        staff = self._cred_staff_row[row]
        day = local.toordinal()
        if staff == _NONE or not (r.active_from[staff] <= day and (
                r.active_until[staff] == _NONE or day <= r.active_until[staff])):
            return _DENY[Reason.STAFF_INACTIVE]
        if door.assurance.needs_pin and not pin_verified:
            return _DENY[Reason.PIN_REQUIRED]
        if door.mode is DoorMode.CLOCK:  # a clock point opens nothing: any active staff punches
            return _GRANTED
        return self._schedule_decision(staff, door.id, now, local)

    def _schedule_decision(self, staff: int, door_id: int, now: datetime,
                           local: datetime) -> Decision:
        r = self._rows
        by_group = self._groups_at(door_id)
        granting = [sid for g in r.groups[r.group_start[staff]:r.group_start[staff + 1]]
                    for sid in by_group.get(g, ())]
        if not granting:
            return _DENY[Reason.NO_PERMISSION]
        closed = self._business_day.date_of(now) in self.closed_days
        schedules = [self.schedules[s] for s in granting if s in self.schedules]
        if any(s.admits(local, closed) for s in schedules):
            return _GRANTED
        if closed and any(s.admits(local, False) for s in schedules):
            return _DENY[Reason.CLOSED_DAY]
        return _DENY[Reason.OUTSIDE_SCHEDULE]
