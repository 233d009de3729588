"""Who is calling, and may they: the one dependency every user-facing route depends on.

``require_admin`` (its name kept from the days of the shared admin token, so no endpoint
signature changed) resolves the caller from an API token (``Authorization: Bearer mng_…``) or a
login session cookie, checks the route against the role matrix (``api.users.roles``), keeps a
supervisor inside their own 課 (``api.users.scope``), and returns the username every action is
attributed to. The resolved ``Principal`` is also left on ``request.state.principal``.

A cookie-authenticated request that changes anything must carry the session's CSRF token in
the ``X-CSRF-Token`` header or the ``csrf_token`` field of a urlencoded form; bearer tokens are not sent by
browsers on their own and need none.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from api.db import SessionDep
from api.errors import Forbidden, Unauthorized
from api.models import User
from api.models.base import utcnow
from api.settings import Settings
from gate.business_day import BusinessDay

from . import service as users
from .roles import READ_METHODS, Role, allowed
from .scope import check_supervisor
from .secrets import token_digest

SESSION_COOKIE = "mynagate_session"
CSRF_COOKIE = "mynagate_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
FORM_TYPE = "application/x-www-form-urlencoded"  # multipart forms send the header
MAX_FORM_FIELDS = 200


def start_session_cookies(session: Session, settings: Settings, user: User,
                          response: Response, *, now: datetime) -> str:
    """Start a login session for ``user`` and set its cookies on ``response``: the session
    token (HttpOnly) and the CSRF token (readable by the page's script); returns the latter."""
    ttl = timedelta(seconds=settings.session_ttl_s)
    token, csrf = users.start_session(session, user, now=now, ttl=ttl)
    secure = settings.session_cookie_secure
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.session_ttl_s, httponly=True,
                        samesite="strict", secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=settings.session_ttl_s, httponly=False,
                        samesite="strict", secure=secure, path="/")
    return csrf


async def submitted_csrf(request: Request) -> str | None:
    """The CSRF token a request carries: the header, else the field of a urlencoded form
    (the body is already bounded by ``BodyLimitMiddleware``); async to read the body."""
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.method not in READ_METHODS and \
            request.headers.get("content-type", "").startswith(FORM_TYPE):
        fields = parse_qs((await request.body()).decode("utf-8", "replace"),
                          max_num_fields=MAX_FORM_FIELDS)
        token = fields.get(CSRF_FIELD, [None])[0]
    return token


def authenticate(request: Request, session: SessionDep, now: datetime) -> users.Principal:
    """The caller, or 401."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    principal = None
    if scheme.lower() == "bearer" and token:
        principal = users.from_token(session, token.strip())
    elif cookie := request.cookies.get(SESSION_COOKIE):
        principal = users.from_session(session, cookie, now)
    if principal is None:
        raise Unauthorized("log in, or give a valid API token as 'Authorization: Bearer …'")
    return principal


def _check_csrf(principal: users.Principal, method: str, submitted: str | None) -> None:
    if principal.via is not users.Via.SESSION or method in READ_METHODS:
        return
    if submitted is None or principal.csrf_hash is None or not hmac.compare_digest(
            token_digest(submitted), principal.csrf_hash):
        raise Forbidden("missing or wrong CSRF token", field=CSRF_HEADER)


def require_admin(request: Request, session: SessionDep,
                  csrf: Annotated[str | None, Depends(submitted_csrf)]) -> str:
    """FastAPI dependency: the acting user's name once the role matrix allows the call;
    401 without valid credentials, 403 for a role the route is not open to."""
    now = utcnow()
    principal = authenticate(request, session, now)
    _check_csrf(principal, request.method, csrf)
    route = request.scope.get("route")
    path = route.path_format if isinstance(route, APIRoute) else request.url.path
    if not allowed(principal.role, request.method, path):
        raise Forbidden(f"the {principal.role.value} role may not {request.method} {path}")
    if principal.role is Role.SUPERVISOR:
        day = BusinessDay(tz=ZoneInfo(request.app.state.settings.timezone)).date_of(now)
        check_supervisor(session, staff_id=principal.staff_id, path=path,
                         params=request.query_params.multi_items(), day=day)
    request.state.principal = principal
    return principal.name


# The acting user's name, for every admin route (the role matrix checked).
AdminDep = Annotated[str, Depends(require_admin)]


def current_principal(request: Request, _name: AdminDep
                      ) -> users.Principal:
    """FastAPI dependency: the authenticated, authorised caller."""
    principal: users.Principal = request.state.principal
    return principal


PrincipalDep = Annotated[users.Principal, Depends(current_principal)]
