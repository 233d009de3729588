"""Who uses the console: an authenticated user of ``api.users`` in a console role.

Every console page depends on ``ConsoleUser`` and nothing else for authentication. It accepts
the user's session cookie (``POST /auth/login``), a bearer API token, or an API token kept in
the ``mynagate_console`` cookie (HttpOnly, SameSite=Strict) that ``POST /console/login`` sets.
Password and TOTP login forms in the console itself are not built yet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api.auth import SESSION_COOKIE
from api.db import SessionDep
from api.models.base import utcnow
from api.users import service as users
from api.users.roles import Role

COOKIE = "mynagate_console"


@dataclass(frozen=True)
class ConsoleIdentity:
    """Who uses the console."""

    name: str
    role: str


class LoginRequired(Exception):
    """No valid console credential: the pages answer with a redirect to the login form."""


# The console shows staff, doors and attendance: roles that may read those.
CONSOLE_ROLES = frozenset({Role.ADMIN, Role.SECURITY, Role.HR, Role.AUDITOR})


def principal_of(session: Session, request: Request, token: str) -> users.Principal | None:
    """The user behind an API token, or else behind the auth session cookie; None if neither."""
    if token:
        return users.from_token(session, token.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    return users.from_session(session, cookie, utcnow()) if cookie else None


def console_user(request: Request, session: SessionDep) -> ConsoleIdentity:
    """The console's identity, from the bearer header, the console cookie or a session."""
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    token = bearer if scheme.lower() == "bearer" else request.cookies.get(COOKIE, "")
    principal = principal_of(session, request, token)
    if principal is None or principal.role not in CONSOLE_ROLES:
        raise LoginRequired
    return ConsoleIdentity(name=principal.name, role=principal.role.value)


ConsoleUser = Annotated[ConsoleIdentity, Depends(console_user)]
