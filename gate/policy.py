"""The access decision: credential + staff + door + time + schedules + calendar → Decision.

Pure and deterministic: every input is passed in (``now`` included), so the reader agent
(offline, from its snapshot) and the service (online) reach the same answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from .business_day import DEFAULT_DAY_CHANGE, JST, BusinessDay
from .door import Assurance, DoorMode

__all__ = [
    "DEFAULT_MAX_OFFLINE_AGE",
    "JST",
    "AccessRequest",
    "CredentialInfo",
    "CredentialStatus",
    "Decision",
    "DoorInfo",
    "Permission",
    "Reason",
    "Schedule",
    "StaffInfo",
    "TimeWindow",
    "credential_digest",
    "decide",
    "offline_decision",
    "snapshot_stale",
]

class Reason(StrEnum):
    """Why a door said yes or no. One list, reused by the UI, the reader display and exports."""

    GRANTED = "granted"
    UNKNOWN_CREDENTIAL = "unknown_credential"
    CREDENTIAL_REVOKED = "credential_revoked"
    CREDENTIAL_SUSPENDED = "credential_suspended"
    CREDENTIAL_LOST = "credential_lost"
    CREDENTIAL_EXPIRED = "credential_expired"
    STAFF_INACTIVE = "staff_inactive"
    OUTSIDE_SCHEDULE = "outside_schedule"
    CLOSED_DAY = "closed_day"
    NO_PERMISSION = "no_permission"
    LOCKDOWN = "lockdown"
    PIN_REQUIRED = "pin_required"
    PIN_WRONG = "pin_wrong"
    PIN_TRIES_LOW = "pin_tries_low"
    PIN_BLOCKED = "pin_blocked"
    KEYPAD_ERROR = "keypad_error"
    CARD_AUTH_FAILED = "card_auth_failed"
    CARD_ERROR = "card_error"
    SNAPSHOT_STALE = "snapshot_stale"
    NO_SNAPSHOT = "no_snapshot"


class CredentialStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    LOST = "lost"
    REVOKED = "revoked"


_STATUS_REASON = {
    CredentialStatus.SUSPENDED: Reason.CREDENTIAL_SUSPENDED,
    CredentialStatus.LOST: Reason.CREDENTIAL_LOST,
    CredentialStatus.REVOKED: Reason.CREDENTIAL_REVOKED,
}


@dataclass(frozen=True)
class CredentialInfo:
    """An enrolled credential as the decision sees it (never the card's own claims)."""

    ref: str
    staff_id: int
    kind: str
    status: CredentialStatus
    not_after: datetime | None = None


@dataclass(frozen=True)
class StaffInfo:
    id: int
    active_from: date
    active_until: date | None = None
    group_ids: frozenset[int] = frozenset()

    def is_active_on(self, day: date) -> bool:
        return self.active_from <= day and (self.active_until is None or day <= self.active_until)


@dataclass(frozen=True)
class DoorInfo:
    id: int
    mode: DoorMode = DoorMode.ACCESS
    assurance: Assurance = Assurance.CARD
    lockdown: bool = False
    fail_open: bool = False


@dataclass(frozen=True)
class TimeWindow:
    """A weekday window in local time: ``weekday`` 0 = Monday, minutes since local midnight."""

    weekday: int
    start_minute: int
    end_minute: int

    def contains(self, weekday: int, minute: int) -> bool:
        return weekday == self.weekday and self.start_minute <= minute < self.end_minute


@dataclass(frozen=True)
class Schedule:
    id: int
    windows: tuple[TimeWindow, ...] = ()
    allow_closed_days: bool = False

    def admits(self, local: datetime, closed: bool) -> bool:
        if closed and not self.allow_closed_days:
            return False
        minute = local.hour * 60 + local.minute
        return any(w.contains(local.weekday(), minute) for w in self.windows)


@dataclass(frozen=True)
class Permission:
    group_id: int
    door_id: int
    schedule_id: int


@dataclass(frozen=True)
class AccessRequest:
    credential: CredentialInfo | None
    staff: StaffInfo | None
    door: DoorInfo
    now: datetime
    permissions: tuple[Permission, ...] = ()
    schedules: Mapping[int, Schedule] = field(default_factory=dict)
    closed_days: frozenset[date] = frozenset()
    pin_verified: bool = False
    tz: ZoneInfo = JST
    day_change: time = DEFAULT_DAY_CHANGE  # closed days are business days (gate.business_day)


@dataclass(frozen=True)
class Decision:
    granted: bool
    reason: Reason

    @classmethod
    def deny(cls, reason: Reason) -> Decision:
        return cls(False, reason)


def decide(req: AccessRequest) -> Decision:
    """Decide one tap. The first failing check gives the reason; only a full pass grants."""
    if req.now.tzinfo is None or req.now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    local = req.now.astimezone(req.tz)
    if req.door.lockdown:
        return Decision.deny(Reason.LOCKDOWN)
    cred = req.credential
    if cred is None:
        return Decision.deny(Reason.UNKNOWN_CREDENTIAL)
    status_reason = _STATUS_REASON.get(cred.status)
    if status_reason is not None:
        return Decision.deny(status_reason)
    if cred.not_after is not None and req.now >= cred.not_after:
        return Decision.deny(Reason.CREDENTIAL_EXPIRED)
    staff = req.staff
    if staff is None or staff.id != cred.staff_id or not staff.is_active_on(local.date()):
        return Decision.deny(Reason.STAFF_INACTIVE)
    if req.door.assurance.needs_pin and not req.pin_verified:
        return Decision.deny(Reason.PIN_REQUIRED)
    if req.door.mode is DoorMode.CLOCK:
        # A clock point opens nothing: every active staff member with an enrolled card may
        # punch there, without being added to a group first.
        return Decision(True, Reason.GRANTED)
    granting = [
        p for p in req.permissions if p.door_id == req.door.id and p.group_id in staff.group_ids
    ]
    if not granting:
        return Decision.deny(Reason.NO_PERMISSION)
    closed = BusinessDay(req.tz, req.day_change).date_of(req.now) in req.closed_days
    schedules = [req.schedules[p.schedule_id] for p in granting if p.schedule_id in req.schedules]
    if any(s.admits(local, closed) for s in schedules):
        return Decision(True, Reason.GRANTED)
    if closed and any(s.admits(local, False) for s in schedules):
        return Decision.deny(Reason.CLOSED_DAY)
    return Decision.deny(Reason.OUTSIDE_SCHEDULE)


def credential_digest(ref: str) -> str:
    """A short digest of a credential ref. Snapshots list the enrolled credentials a reader may
    not use this way, so it can say "not permitted here" rather than "unknown card"."""
    return hashlib.sha256(ref.encode()).hexdigest()[:16]


# How long a reader keeps deciding from a snapshot it could not refresh.
DEFAULT_MAX_OFFLINE_AGE = timedelta(hours=72)


def snapshot_stale(*, now: datetime, issued_at: datetime, max_age: timedelta) -> bool:
    """A snapshot issued at ``issued_at`` is too old to decide from at ``now``.

    ``now`` is the agent's never-rewinding time, so setting the clock back does not refresh it.
    """
    return now - issued_at > max_age


def offline_decision(decision: Decision, *, now: datetime, issued_at: datetime,
                     max_age: timedelta, fail_open: bool) -> Decision:
    """The offline rule, after :func:`decide`: a stale snapshot denies (snapshot_stale) unless
    the door is fail-open, where the snapshot's own decision stands (revoked cards stay out)."""
    if fail_open or not snapshot_stale(now=now, issued_at=issued_at, max_age=max_age):
        return decision
    return Decision.deny(Reason.SNAPSHOT_STALE)


def municipal_closed_days(year: int) -> frozenset[date]:
    """The default 年末年始 closure, 12/29–1/3, for the fiscal turn around ``year``→``year+1``."""
    start = date(year, 12, 29)
    return frozenset(start + timedelta(days=i) for i in range(6))
