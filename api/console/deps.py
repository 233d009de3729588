"""THE SEAM the auth work (api/auth.py users, roles, sessions, CSRF) replaces.

Every console page depends on ``ConsoleUser`` and nothing else for authentication. For now it
accepts the service's admin bearer token, either as ``Authorization: Bearer`` or in the
``mynagate_console`` cookie (HttpOnly, SameSite=Strict) that ``POST /console/login`` sets. When
users and sessions land, ``console_user`` becomes a lookup of the session cookie and returns the
user; the pages keep their signature."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

COOKIE = "mynagate_console"


@dataclass(frozen=True)
class ConsoleIdentity:
    """Who uses the console. Until users exist, the one admin."""

    name: str
    role: str


class LoginRequired(Exception):
    """No valid console credential: the pages answer with a redirect to the login form."""


def token_valid(request: Request, token: str) -> bool:
    expected = request.app.state.settings.admin_token.get_secret_value()
    return bool(token) and hmac.compare_digest(token.encode(), expected.encode())


def console_user(request: Request) -> ConsoleIdentity:
    """The console's identity, from the bearer header or the console cookie."""
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    token = bearer if scheme.lower() == "bearer" else request.cookies.get(COOKIE, "")
    if not token_valid(request, token):
        raise LoginRequired
    return ConsoleIdentity(name="admin", role="admin")


ConsoleUser = Annotated[ConsoleIdentity, Depends(console_user)]
