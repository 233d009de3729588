"""Users, logins, sessions and API tokens. Every change and every login, failed or not, is
written to the audit log; the caller commits (a failed login's counters and audit row are
committed even though the request answers 401)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from api.audit.service import record
from api.errors import BadRequest, Conflict, NotFound
from api.models import ApiToken, Staff, User, UserSession

from . import repository as repo
from . import secrets as sec
from .roles import TOTP_ROLES, Role

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
USERNAME = re.compile(r"^[a-z][a-z0-9._-]{0,59}$")
MAX_USERNAME_DIGITS = 11  # a name never carries a 12-digit number
INVALID_NAME = "(invalid name)"


class Via(StrEnum):
    SESSION = "session"
    TOKEN = "token"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user, through a login session or an API token (whose role scopes
    it). ``name`` is the unique, never-renamed username every action is attributed to."""

    user_id: int
    name: str
    role: Role
    staff_id: int | None
    via: Via
    csrf_hash: str | None = None  # sessions only


class LoginFailure(StrEnum):
    UNKNOWN_USER = "unknown_user"
    PASSWORD = "password"
    TOTP = "totp"
    LOCKED = "locked"
    NO_TOTP = "totp_not_enrolled"


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    failure: LoginFailure | None = None
    locked_until: datetime | None = None


@dataclass(frozen=True)
class NewUser:
    user: User
    password: str | None  # shown once, when generated
    totp_secret: str | None  # shown once


def valid_username(username: str) -> bool:
    return bool(USERNAME.match(username)) and \
        sum(c.isdigit() for c in username) <= MAX_USERNAME_DIGITS


def check_username(username: str) -> str:
    if not valid_username(username):
        raise BadRequest("username: lowercase letters, digits, '.', '_' or '-', starting with a "
                         f"letter, at most {MAX_USERNAME_DIGITS} digits", field="username")
    return username


def user_view(user: User) -> dict[str, object]:
    return {"username": user.username, "role": user.role, "staff_id": user.staff_id,
            "active": user.active, "totp": user.totp_secret is not None}


def create_user(session: Session, *, username: str, role: Role, actor: str, now: datetime,
                password: str | None = None, generate_password: bool = False,
                staff_id: int | None = None) -> NewUser:
    """A new user; a password is generated when asked, a TOTP secret when the role needs one."""
    check_username(username)
    if repo.user_by_name(session, username) is not None:
        raise Conflict(f"user {username!r} exists", field="username")
    if staff_id is not None and session.get(Staff, staff_id) is None:
        raise NotFound(f"staff {staff_id} not found", field="staff_id")
    if generate_password:
        password = sec.new_password()
    totp = sec.new_totp_secret() if role in TOTP_ROLES else None
    user = User(username=username, role=role.value, staff_id=staff_id, totp_secret=totp,
                password_hash=sec.hash_password(password) if password else sec.UNUSABLE_PASSWORD,
                created_at=now)
    session.add(user)
    session.flush()
    record(session, actor=actor, action="user.create", entity="app_user", entity_id=user.id,
           after=user_view(user), now=now)
    return NewUser(user, password if generate_password else None, totp)


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound(f"user {user_id} not found", field="user_id")
    return user


def update_user(session: Session, user_id: int, *, actor: str, now: datetime,
                role: Role | None = None, active: bool | None = None,
                reset_password: bool = False, reset_totp: bool = False) -> NewUser:
    """Change a user's role or active flag, or reset their password or TOTP secret (the new
    secret is returned once). A deactivated user's sessions end at once."""
    user = get_user(session, user_id)
    before = user_view(user)
    if role is not None:
        user.role = role.value
    if active is not None:
        user.active = active
    password = sec.new_password() if reset_password else None
    if password is not None:
        user.password_hash = sec.hash_password(password)
        user.failed_logins, user.locked_until = 0, None
    totp = None
    if reset_totp or (Role(user.role) in TOTP_ROLES and user.totp_secret is None):
        totp = user.totp_secret = sec.new_totp_secret()
        user.totp_last_step = None
    if not user.active or password is not None:
        session.query(UserSession).filter(UserSession.user_id == user.id).delete()
    session.flush()
    record(session, actor=actor, action="user.update", entity="app_user", entity_id=user.id,
           before=before, after={**user_view(user), "password_reset": password is not None,
                                 "totp_reset": totp is not None}, now=now)
    return NewUser(user, password, totp)


def login(session: Session, *, username: str, password: str, totp: str | None, now: datetime,
          client: str) -> LoginResult:
    """Check a password (and a TOTP code where the role needs one). Five failures in a row
    lock the user out for 15 minutes; a locked user is refused without checking anything."""
    user = repo.user_by_name(session, username, for_update=True)
    result = _check(user, password, totp, now)
    if user is not None:
        _count(session, user, result, now, client)
    action = "auth.login" if result.failure is None else "auth.login_failed"
    failure = None if result.failure is None else result.failure.value
    # A name that cannot be a user is not stored: it might hold anything, even 12 digits.
    shown = username if valid_username(username) else INVALID_NAME
    record(session, actor=shown, action=action, entity="app_user",
           entity_id=user.id if user else "-", after={"client": client, "failure": failure},
           now=now)
    return result


def _check(user: User | None, password: str, totp: str | None, now: datetime) -> LoginResult:
    if user is None or not user.active:
        return LoginResult(None, LoginFailure.UNKNOWN_USER)
    if user.locked_until is not None and user.locked_until > now:
        return LoginResult(user, LoginFailure.LOCKED, user.locked_until)
    if not sec.password_matches(user.password_hash, password):
        return LoginResult(user, LoginFailure.PASSWORD)
    if Role(user.role) in TOTP_ROLES:
        if user.totp_secret is None:
            return LoginResult(user, LoginFailure.NO_TOTP)
        step = sec.totp_step(user.totp_secret, totp or "", now, user.totp_last_step)
        if step is None:
            return LoginResult(user, LoginFailure.TOTP)
        user.totp_last_step = step
    return LoginResult(user)


def _count(session: Session, user: User, result: LoginResult, now: datetime,
           client: str) -> None:
    if result.failure is None:
        user.failed_logins, user.locked_until = 0, None
        return
    if result.failure is LoginFailure.LOCKED:
        return
    user.failed_logins += 1
    if user.failed_logins >= MAX_FAILED_LOGINS:
        user.failed_logins, user.locked_until = 0, now + LOCKOUT
        record(session, actor=user.username, action="auth.lockout", entity="app_user",
               entity_id=user.id, after={"client": client,
                                         "locked_until": user.locked_until.isoformat()},
               now=now)


def start_session(session: Session, user: User, *, now: datetime, ttl: timedelta
                  ) -> tuple[str, str]:
    """A new login session: (session token, CSRF token), both shown only to the browser."""
    token, csrf = sec.new_token("mns"), sec.new_token("csrf")
    session.query(UserSession).filter(UserSession.user_id == user.id,
                                      UserSession.expires_at <= now).delete()
    session.add(UserSession(token_hash=sec.token_digest(token), csrf_hash=sec.token_digest(csrf),
                            user_id=user.id, created_at=now, expires_at=now + ttl))
    session.flush()
    return token, csrf


def end_session(session: Session, token: str, *, actor: str, now: datetime) -> None:
    row = repo.session_by_digest(session, sec.token_digest(token))
    if row is not None:
        session.delete(row)
        record(session, actor=actor, action="auth.logout", entity="app_user",
               entity_id=row.user_id, now=now)


def from_token(session: Session, token: str) -> Principal | None:
    found = repo.active_token(session, sec.token_digest(token))
    if found is None:
        return None
    tok, user = found
    return Principal(user.id, user.username, Role(tok.role), user.staff_id, Via.TOKEN)


def from_session(session: Session, token: str, now: datetime) -> Principal | None:
    found = repo.live_session(session, sec.token_digest(token), now)
    if found is None:
        return None
    row, user = found
    return Principal(user.id, user.username, Role(user.role), user.staff_id, Via.SESSION,
                     csrf_hash=row.csrf_hash)


def create_token(session: Session, *, name: str, role: Role, user_id: int, actor: str,
                 now: datetime) -> tuple[ApiToken, str]:
    """A new API token for an integration, acting as ``user_id`` within ``role``; the token
    itself is returned once and only its sha256 is kept."""
    check_username(name)
    get_user(session, user_id)
    token = sec.new_token("mng")
    row = ApiToken(name=name, token_hash=sec.token_digest(token), role=role.value,
                   user_id=user_id, created_by=actor, created_at=now)
    session.add(row)
    session.flush()
    record(session, actor=actor, action="api_token.create", entity="api_token",
           entity_id=row.id, after={"name": name, "role": role.value, "user_id": user_id},
           now=now)
    return row, token


def revoke_token(session: Session, token_id: int, *, actor: str, now: datetime) -> ApiToken:
    row = session.get(ApiToken, token_id, with_for_update=True)
    if row is None:
        raise NotFound(f"API token {token_id} not found", field="token_id")
    if row.revoked_at is None:
        row.revoked_at = now
        record(session, actor=actor, action="api_token.revoke", entity="api_token",
               entity_id=row.id, after={"name": row.name}, now=now)
    return row
