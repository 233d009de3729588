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

from api.auth import SESSION_COOKIE
from api.db import SessionDep
from api.models.base import utcnow
from api.users import service as users
from api.users.roles import Role
from api.users.secrets import token_digest


@dataclass(frozen=True)
class ConsoleIdentity:
    """Who uses the console."""

    name: str
    role: str
    session: bool = False  # a login session (cookie): its forms must carry the CSRF token
    csrf_hash: str | None = None

    def csrf_ok(self, submitted: str | None) -> bool:
        """A form's CSRF token is the session's (a bearer token is never sent by a browser
        on its own and needs none)."""
        if not self.session:
            return True
        return bool(submitted and self.csrf_hash and
                    hmac.compare_digest(token_digest(submitted), self.csrf_hash))


class LoginRequired(Exception):
    """No valid console credential: the pages answer with a redirect to the login form."""


# The console shows staff, doors and attendance: roles that may read those.
CONSOLE_ROLES = frozenset({Role.ADMIN, Role.SECURITY, Role.HR, Role.AUDITOR})


def console_user(request: Request, session: SessionDep) -> ConsoleIdentity:
    """The console's identity, from the bearer header or the login session cookie."""
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    cookie = request.cookies.get(SESSION_COOKIE)
    if scheme.lower() == "bearer" and bearer:
        principal = users.from_token(session, bearer.strip())
    else:
        principal = users.from_session(session, cookie, utcnow()) if cookie else None
    if principal is None or principal.role not in CONSOLE_ROLES:
        raise LoginRequired
    return ConsoleIdentity(name=principal.name, role=principal.role.value,
                           session=principal.via is users.Via.SESSION,
                           csrf_hash=principal.csrf_hash)


ConsoleUser = Annotated[ConsoleIdentity, Depends(console_user)]
