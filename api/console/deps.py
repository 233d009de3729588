"""Who uses the console: an authenticated user of ``api.users`` in a console role.

Every console page depends on ``ConsoleUser`` and nothing else for authentication. It accepts
the user's login session cookie (set by the console's own login form, ``POST /console/login``,
or by ``POST /auth/login``: password, and TOTP for the roles that need it) or a bearer API
token (integrations, scripts)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.routing import APIRoute

from api.db import SessionDep
from api.models.base import utcnow
from api.users import service as users
from api.users.auth import SESSION_COOKIE
from api.users.roles import Role, allowed, rule_for
from api.users.secrets import token_digest

from .labels import N_


@dataclass(frozen=True)
class ConsoleIdentity:
    """Who uses the console."""

    name: str
    role: str
    staff_id: int | None = None  # the staff member the user is (self-service pages)
    session: bool = False  # a login session (cookie): its forms must carry the CSRF token
    csrf_hash: str | None = None

    def csrf_ok(self, submitted: str | None) -> bool:
        """A form's CSRF token is the session's (a bearer token is never sent by a browser
        on its own and needs none)."""
        if not self.session:
            return True
        return bool(submitted and self.csrf_hash and
                    hmac.compare_digest(token_digest(submitted), self.csrf_hash))


    @property
    def office(self) -> bool:
        """The office pages (everyone's events, presence, attendance, cards) are the user's."""
        return Role(self.role) in CONSOLE_ROLES

    def may(self, method: str, path: str) -> bool:
        """The role matrix lets the user's role call this console route (menus, buttons)."""
        return allowed(Role(self.role), method, path)

    def can_open(self, path: str) -> bool:
        """The role matrix lets the user's role read this console page."""
        return self.may("GET", path)

    @property
    def facility(self) -> bool:
        """The facility bookings page is the user's (facility clerks, admins, auditors)."""
        return allowed(Role(self.role), "GET", FACILITY_HOME)


class LoginRequired(Exception):
    """No valid console credential: the pages answer with a redirect to the login form."""


class NotYours(Exception):
    """A page the user's role does not open: the pages answer 403 with a Japanese notice
    listing the pages that are the user's."""

    def __init__(self, user: ConsoleIdentity) -> None:
        super().__init__(user.role)
        self.user = user


# The office pages show everyone's staff, doors and attendance: roles that may read those.
# Every other user (staff, supervisors) has the self-service pages under /console/me.
CONSOLE_ROLES = rule_for("/console").read
# Facility clerks are not office users: their page is the bookings list (api/console/facility).
FACILITY_HOME = "/console/facility/bookings"
OFFICE_HOME = "/console"
SELF_HOME = "/console/me"


def home_page(role: Role, staff_id: int | None) -> str | None:
    """Where a user lands after logging in: the office dashboard, the facility bookings, or
    their own self-service pages; None when no console page is theirs."""
    if role in CONSOLE_ROLES:
        return "/console"
    if allowed(role, "GET", FACILITY_HOME):
        return FACILITY_HOME
    return "/console/me" if staff_id is not None else None


# The console's top pages, in menu order (path, English msgid): the forbidden notice links to
# those the user's role opens (a self-service page only for a user who is a staff member).
TOP_PAGES = ((OFFICE_HOME, N_("Dashboard")), ("/console/events", N_("Events")),
             ("/console/presence", N_("Presence now")), ("/console/staff", N_("Staff")),
             ("/console/taps", N_("Taps per hour")), ("/console/locks", N_("Smart locks")),
             (FACILITY_HOME, N_("Facility bookings")), ("/console/me/timesheet", N_("My timesheet")))


def pages_for(user: ConsoleIdentity) -> list[tuple[str, str]]:
    """The top pages the user may open (path, English msgid)."""
    return [(path, label) for path, label in TOP_PAGES if user.can_open(path)
            and (user.staff_id is not None or not path.startswith(SELF_HOME))]


def identity(request: Request, session: SessionDep) -> ConsoleIdentity:
    """Whoever is logged in, from the bearer header or the login session cookie."""
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    cookie = request.cookies.get(SESSION_COOKIE)
    if scheme.lower() == "bearer" and bearer:
        principal = users.from_token(session, bearer.strip())
    else:
        principal = users.from_session(session, cookie, utcnow()) if cookie else None
    if principal is None:
        raise LoginRequired
    return ConsoleIdentity(name=principal.name, role=principal.role.value,
                           staff_id=principal.staff_id,
                           session=principal.via is users.Via.SESSION,
                           csrf_hash=principal.csrf_hash)


def _route_allows(request: Request, user: ConsoleIdentity) -> bool:
    """The role matrix (``api.users.roles``) allows the user's role this page and method."""
    route = request.scope.get("route")
    path = route.path_format if isinstance(route, APIRoute) else request.url.path
    return allowed(Role(user.role), request.method, path)


def console_user(request: Request,
                 user: Annotated[ConsoleIdentity, Depends(identity)]) -> ConsoleIdentity:
    """A user whose role the role matrix lets open this office page."""
    if not _route_allows(request, user):
        raise NotYours(user)
    return user


def self_user(request: Request,
              user: Annotated[ConsoleIdentity, Depends(identity)]) -> ConsoleIdentity:
    """A user linked to a staff member: the self-service pages are about that person."""
    if user.staff_id is None or not _route_allows(request, user):
        raise NotYours(user)
    return user


ConsoleUser = Annotated[ConsoleIdentity, Depends(console_user)]
SelfUser = Annotated[ConsoleIdentity, Depends(self_user)]
