"""Queries for credentials."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.models import Credential
from gate.policy import CredentialStatus


def get(session: Session, credential_id: int, *, lock: bool = False) -> Credential | None:
    stmt = select(Credential).where(Credential.id == credential_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def get_by_ref(session: Session, credential_ref: str) -> Credential | None:
    return session.execute(select(Credential).where(Credential.credential_ref == credential_ref)
                           ).scalar_one_or_none()


def active_of_kind(session: Session, staff_id: int, kind: str) -> Credential | None:
    return session.execute(select(Credential).where(
        Credential.staff_id == staff_id, Credential.kind == kind,
        Credential.status == CredentialStatus.ACTIVE)).scalar_one_or_none()


def list_credentials(session: Session, *, staff_id: int | None, kind: str | None,
                     status: str | None, limit: int,
                     offset: int) -> tuple[list[Credential], int]:
    conds = []
    if staff_id is not None:
        conds.append(Credential.staff_id == staff_id)
    if kind is not None:
        conds.append(Credential.kind == kind)
    if status is not None:
        conds.append(Credential.status == status)
    total = session.execute(select(func.count()).select_from(Credential).where(*conds)
                            ).scalar_one()
    rows = session.execute(select(Credential).where(*conds).order_by(Credential.id)
                           .limit(limit).offset(offset)).scalars()
    return list(rows), int(total)
