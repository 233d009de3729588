"""Login and logout (/auth…), and the admin's management of users and API tokens
(/admin/users…, /admin/api-tokens…). Who may call what: ``api.users.roles``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.audit.admin import AdminRoute
from api.db import SessionDep
from api.errors import Unauthorized
from api.models.base import utcnow
from api.users.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    AdminDep,
    PrincipalDep,
    start_session_cookies,
)

from . import repository as repo
from . import service
from .roles import Role
from .schemas import (
    LoginRequest,
    LoginResponse,
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserCreate,
    UserRead,
    UserSecrets,
    UserUpdate,
    Whoami,
)
from .secrets import totp_uri

router = APIRouter(tags=["users"], route_class=AdminRoute)


def _client(request: Request) -> str:
    return request.client.host if request.client else "-"


@router.post("/auth/login", response_model=LoginResponse)
def login(data: LoginRequest, request: Request, response: Response,
          session: SessionDep) -> LoginResponse:
    """Log in with a password (and a TOTP code for admin, security and hr): sets the session
    cookie (HttpOnly) and returns the CSRF token to send as ``X-CSRF-Token``."""
    now = utcnow()
    result = service.login(session, username=data.username, password=data.password,
                           totp=data.totp, now=now, client=_client(request))
    if result.failure is not None or result.user is None:
        session.commit()  # the failure counter and its audit row stay
        if result.locked_until is not None:
            raise Unauthorized(f"too many failed logins: locked until "
                               f"{result.locked_until.isoformat()}", field="username")
        raise Unauthorized("wrong user name, password or TOTP code", field="password")
    csrf = start_session_cookies(session, request.app.state.settings, result.user, response,
                                 now=now)
    user = result.user
    return LoginResponse(username=user.username, role=Role(user.role), staff_id=user.staff_id,
                         via=service.Via.SESSION.value, csrf_token=csrf)


@router.post("/auth/logout", status_code=204)
def logout(request: Request, response: Response, session: SessionDep,
           me: PrincipalDep) -> None:
    """End this login session (an API token is revoked by an admin instead)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        service.end_session(session, cookie, actor=me.name, now=utcnow())
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


@router.get("/auth/me", response_model=Whoami)
def whoami(me: PrincipalDep) -> Whoami:
    """The authenticated caller and their role."""
    return Whoami(username=me.name, role=me.role, staff_id=me.staff_id, via=me.via.value)


def _secrets(new: service.NewUser) -> UserSecrets:
    uri = totp_uri(new.totp_secret, new.user.username) if new.totp_secret else None
    return UserSecrets(user=UserRead.model_validate(new.user), password=new.password,
                       totp_secret=new.totp_secret, totp_uri=uri)


@router.get("/admin/users", response_model=list[UserRead])
def list_users(session: SessionDep, actor: AdminDep) -> list[UserRead]:
    """Every user (never their secrets)."""
    return [UserRead.model_validate(u) for u in repo.users(session)]


@router.post("/admin/users", status_code=201, response_model=UserSecrets)
def create_user(data: UserCreate, session: SessionDep, actor: AdminDep) -> UserSecrets:
    """A new user; the generated password and TOTP secret are in this answer only."""
    new = service.create_user(session, username=data.username, role=data.role, actor=actor,
                              now=utcnow(), generate_password=data.login,
                              staff_id=data.staff_id)
    return _secrets(new)


@router.patch("/admin/users/{user_id}", response_model=UserSecrets)
def update_user(user_id: int, data: UserUpdate, session: SessionDep,
                actor: AdminDep) -> UserSecrets:
    """Change a role, deactivate, or reset a password or TOTP secret (shown once)."""
    new = service.update_user(session, user_id, actor=actor, now=utcnow(), role=data.role,
                              active=data.active, reset_password=data.reset_password,
                              reset_totp=data.reset_totp)
    return _secrets(new)


@router.get("/admin/api-tokens", response_model=list[TokenRead])
def list_tokens(session: SessionDep, actor: AdminDep) -> list[TokenRead]:
    """Every API token (never the token itself)."""
    return [TokenRead.model_validate(t) for t in repo.tokens(session)]


@router.post("/admin/api-tokens", status_code=201, response_model=TokenCreated)
def create_token(data: TokenCreate, session: SessionDep, actor: AdminDep) -> TokenCreated:
    """A new API token; the token is in this answer only (its sha256 is kept)."""
    row, token = service.create_token(session, name=data.name, role=data.role,
                                      user_id=data.user_id, actor=actor, now=utcnow())
    return TokenCreated(**TokenRead.model_validate(row).model_dump(), token=token)


@router.post("/admin/api-tokens/{token_id}/revoke", response_model=TokenRead)
def revoke_token(token_id: int, session: SessionDep, actor: AdminDep) -> TokenRead:
    """Revoke an API token at once."""
    return TokenRead.model_validate(service.revoke_token(session, token_id, actor=actor,
                                                         now=utcnow()))



