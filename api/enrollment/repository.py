"""Queries for card enrollments and the credentials they create or replace."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import CardEnrollment, Credential, Staff
from gate.policy import CredentialStatus


def get(session: Session, enrollment_id: int, *, lock: bool = False) -> CardEnrollment | None:
    stmt = select(CardEnrollment).where(CardEnrollment.id == enrollment_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def staff_by_id(session: Session, staff_id: int) -> Staff | None:
    return session.get(Staff, staff_id)


def staff_by_number(session: Session, staff_number: str) -> Staff | None:
    return session.execute(select(Staff).where(Staff.staff_number == staff_number)
                           ).scalar_one_or_none()


def lock_staff(session: Session, staff_id: int) -> None:
    """Serialise enrollments of one staff member (the one-active-credential rule)."""
    session.execute(select(Staff.id).where(Staff.id == staff_id).with_for_update())


def credential_by_ref(session: Session, ref: str) -> Credential | None:
    return session.execute(select(Credential).where(Credential.credential_ref == ref)
                           ).scalar_one_or_none()


def active_credential(session: Session, staff_id: int, kind: str) -> Credential | None:
    return session.execute(
        select(Credential).where(Credential.staff_id == staff_id, Credential.kind == kind,
                                 Credential.status == CredentialStatus.ACTIVE).with_for_update()
    ).scalar_one_or_none()
