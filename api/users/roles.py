"""Roles and the role matrix: which roles may call which routes, declared in one place.

The matrix is a list of (path prefix, roles that may read, roles that may write), matched
longest prefix first against the route's path template. Reading is GET/HEAD; every other
method writes. Routes that no user calls are marked ``PUBLIC`` (health, docs, login) or
``DEVICE`` (readers, locks, the booking webhook and the metrics scraper authenticate
themselves). A route under no
prefix is admin-only, so a new route is never open by accident; ``tests/security/
test_role_matrix.py`` calls every route as every role.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    SECURITY = "security"  # doors, cards and permissions
    HR = "hr"
    SUPERVISOR = "supervisor"  # their own 課 only
    FACILITY = "facility"
    AUDITOR = "auditor"  # reads, never writes
    STAFF = "staff"  # self-service only


class Access(StrEnum):
    USER = "user"
    PUBLIC = "public"
    DEVICE = "device"
    # The console's pages: checked against this matrix by api/console/deps.py like USER
    # routes, but a browser without a login is sent to the login form instead of a 401.
    CONSOLE = "console"


TOTP_ROLES = frozenset({Role.ADMIN, Role.SECURITY, Role.HR})
EVERYONE = frozenset(Role)
READ_METHODS = frozenset({"GET", "HEAD"})


ONLY_ADMIN = frozenset({Role.ADMIN})


@dataclass(frozen=True)
class Rule:
    prefix: str
    read: frozenset[Role] = ONLY_ADMIN
    write: frozenset[Role] = ONLY_ADMIN
    access: Access = Access.USER

    def roles(self, method: str) -> frozenset[Role]:
        return self.read if method.upper() in READ_METHODS else self.write


def _r(*roles: Role) -> frozenset[Role]:
    return frozenset({Role.ADMIN, *roles})


SEC, HR, SUP, FAC, AUD = (Role.SECURITY, Role.HR, Role.SUPERVISOR, Role.FACILITY,
                          Role.AUDITOR)
ROLE_MATRIX: tuple[Rule, ...] = (
    Rule("/healthz", access=Access.PUBLIC),
    Rule("/docs", access=Access.PUBLIC),
    Rule("/redoc", access=Access.PUBLIC),
    Rule("/openapi.json", access=Access.PUBLIC),
    Rule("/static", access=Access.PUBLIC),
    Rule("/auth/login", access=Access.PUBLIC),
    Rule("/auth/", read=EVERYONE, write=EVERYONE),  # whoami, logout
    Rule("/device/v1/", access=Access.DEVICE),
    Rule("/api/v1/locks/{lock_id}/poll", access=Access.DEVICE),
    Rule("/api/v1/bookings/webhook", access=Access.DEVICE),
    Rule("/metrics", access=Access.DEVICE),
    # The console: office pages (everyone's events, presence, attendance; card changes are
    # the credential writers'), and self-service pages for whoever is linked to a staff member.
    Rule("/console", read=_r(SEC, HR, AUD), write=_r(SEC), access=Access.CONSOLE),
    Rule("/console/staff-admin", read=_r(HR), write=_r(HR), access=Access.CONSOLE),
    Rule("/console/enrollments", read=_r(SEC, AUD), write=_r(SEC), access=Access.CONSOLE),
    Rule("/console/me", read=EVERYONE, write=EVERYONE, access=Access.CONSOLE),
    # Facility clerks' pages: bookings, payments and their PIN emails (as /api/v1/bookings).
    Rule("/console/facility", read=_r(FAC, AUD), write=_r(FAC), access=Access.CONSOLE),
    # Attendance: a department's day and the 乖離 queue (a supervisor: their own 課 only,
    # confirming reasons is theirs); corrections (four eyes) and exports are HR's.
    Rule("/console/attendance", read=_r(HR, SUP, AUD), access=Access.CONSOLE),
    Rule("/console/attendance/divergences", read=_r(HR, SUP, AUD), write=_r(SUP),
         access=Access.CONSOLE),
    Rule("/console/attendance/corrections", read=_r(HR, AUD), write=_r(HR),
         access=Access.CONSOLE),
    Rule("/console/attendance/exports", read=_r(HR, AUD), write=_r(HR), access=Access.CONSOLE),
    # Locks: read as /api/v1/locks; remote unlock only by security (as its API route).
    Rule("/console/locks", read=_r(FAC, SEC, AUD), write=_r(SEC), access=Access.CONSOLE),
    # Readers (confirming a new one is security's), who may enter which door and the
    # decision preview; the audit log as /admin/audit.
    Rule("/console/devices", read=_r(SEC, HR, AUD), write=_r(SEC), access=Access.CONSOLE),
    Rule("/console/access", read=_r(SEC, AUD), write=_r(SEC), access=Access.CONSOLE),
    Rule("/console/audit", read=_r(SEC, AUD), access=Access.CONSOLE),
    Rule("/console/login", access=Access.PUBLIC),
    Rule("/console/logout", access=Access.PUBLIC),
    Rule("/console/static", access=Access.PUBLIC),
    Rule("/me/", read=EVERYONE, write=EVERYONE),  # the caller's own records only
    Rule("/admin/users", read=_r(AUD)),
    Rule("/admin/api-tokens", read=_r(AUD)),
    Rule("/admin/audit", read=_r(AUD, SEC)),
    Rule("/admin/departments", read=_r(HR, SEC, SUP, AUD), write=_r(HR)),
    Rule("/admin/staff", read=_r(HR, SEC, AUD), write=_r(HR)),
    Rule("/admin/credentials", read=_r(SEC, HR, AUD), write=_r(SEC)),
    Rule("/admin/enrollments", read=_r(SEC, AUD), write=_r(SEC)),
    Rule("/admin/groups", read=_r(SEC, AUD), write=_r(SEC)),
    Rule("/admin/schedules", read=_r(SEC, AUD), write=_r(SEC)),
    Rule("/admin/permissions", read=_r(SEC, AUD), write=_r(SEC)),
    Rule("/admin/closed-days", read=_r(SEC, FAC, AUD), write=_r(SEC)),
    Rule("/admin/sites", read=_r(SEC, FAC, AUD), write=_r(SEC)),
    Rule("/admin/doors", read=_r(SEC, FAC, AUD), write=_r(SEC)),
    Rule("/admin/devices", read=_r(SEC, AUD), write=_r(SEC)),
    Rule("/admin/events", read=_r(SEC, AUD)),
    Rule("/admin/attendance/", read=_r(HR, AUD), write=_r(HR)),
    # Per person: a supervisor sees only the staff of their own 課 (api.users.scope).
    Rule("/admin/attendance/daily", read=_r(HR, SUP, AUD)),
    Rule("/admin/overtime/", read=_r(HR, SUP, AUD), write=_r(HR)),
    Rule("/admin/exports", read=_r(HR, AUD), write=_r(HR)),
    Rule("/admin/mail", read=_r(FAC, AUD), write=_r(FAC)),
    Rule("/admin/webhooks", read=_r(AUD)),  # events out: admin configures, auditors read
    Rule("/api/v1/facilities", read=_r(FAC, AUD), write=_r(FAC)),
    Rule("/api/v1/bookings", read=_r(FAC, AUD), write=_r(FAC)),
    Rule("/api/v1/locks", read=_r(FAC, SEC, AUD), write=_r(FAC, SEC)),
    Rule("/api/v1/locks/{lock_pk}/remote-unlock", write=_r(SEC)),
    Rule("/api/v1/locks/{lock_pk}/emergency-code", write=_r(SEC)),
)
ADMIN_ONLY = Rule("")
_BY_LENGTH = sorted(ROLE_MATRIX, key=lambda r: len(r.prefix), reverse=True)


def rule_for(path_template: str) -> Rule:
    """The matrix entry of a route's path template (longest matching prefix)."""
    for rule in _BY_LENGTH:
        if path_template == rule.prefix or path_template.startswith(rule.prefix):
            return rule
    return ADMIN_ONLY


def allowed(role: Role, method: str, path_template: str) -> bool:
    return role in rule_for(path_template).roles(method)
