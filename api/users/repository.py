"""Queries for users, sessions and API tokens."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from api.models import ApiToken, DepartmentSupervisor, Staff, User, UserSession


def user_by_name(session: Session, username: str, *, for_update: bool = False) -> User | None:
    q = select(User).where(User.username == username)
    if for_update:
        q = q.with_for_update()
    return session.execute(q).scalar_one_or_none()


def active_token(session: Session, digest: str) -> tuple[ApiToken, User] | None:
    row = session.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(
        ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None),
        User.active.is_(True))).first()
    return None if row is None else (row[0], row[1])


def live_session(session: Session, digest: str, now: datetime
                 ) -> tuple[UserSession, User] | None:
    row = session.execute(select(UserSession, User).join(User, User.id == UserSession.user_id)
                          .where(UserSession.token_hash == digest, UserSession.expires_at > now,
                                 User.active.is_(True))).first()
    return None if row is None else (row[0], row[1])


def session_by_digest(session: Session, digest: str) -> UserSession | None:
    return session.execute(select(UserSession).where(UserSession.token_hash == digest)
                           ).scalar_one_or_none()


def users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.username)).scalars())


def tokens(session: Session) -> list[ApiToken]:
    return list(session.execute(select(ApiToken).order_by(ApiToken.id)).scalars())


def supervised_departments(session: Session, staff_id: int, day: date) -> set[int]:
    q = select(DepartmentSupervisor.department_id).where(
        DepartmentSupervisor.staff_id == staff_id, DepartmentSupervisor.effective_from <= day,
        or_(DepartmentSupervisor.effective_until.is_(None),
            DepartmentSupervisor.effective_until >= day))
    return {r[0] for r in session.execute(q)}


def department_of(session: Session, staff_id: int) -> int | None:
    return session.execute(select(Staff.department_id).where(Staff.id == staff_id)
                           ).scalar_one_or_none()
