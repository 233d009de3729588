"""Admin REST API for credentials: list, get, enrol, suspend, mark lost, revoke, reactivate."""

from __future__ import annotations

from fastapi import APIRouter

from api.audit.admin import AdminRoute, LimitQuery, OffsetPage, OffsetQuery
from api.bounded import Id
from api.db import SessionDep
from api.users.auth import AdminDep
from gate.policy import CredentialStatus

from . import repository, service
from .schemas import (
    CredentialCreate,
    CredentialKind,
    CredentialRead,
    CredentialStatusChange,
)

router = APIRouter(prefix="/admin/credentials", tags=["credentials"], route_class=AdminRoute)


@router.get("", response_model=OffsetPage[CredentialRead])
def list_credentials(session: SessionDep, actor: AdminDep, limit: LimitQuery = 100,
                     offset: OffsetQuery = 0, staff_id: Id | None = None,
                     kind: CredentialKind | None = None,
                     status: CredentialStatus | None = None) -> OffsetPage[CredentialRead]:
    """Credentials, filtered by staff, kind and status, paged by offset."""
    rows, total = repository.list_credentials(session, staff_id=staff_id, kind=kind,
                                              status=status, limit=limit, offset=offset)
    return OffsetPage[CredentialRead](items=[CredentialRead.model_validate(c) for c in rows],
                                      total=total, limit=limit, offset=offset)


@router.post("", status_code=201, response_model=CredentialRead)
def create_credential(data: CredentialCreate, session: SessionDep,
                      actor: AdminDep) -> CredentialRead:
    """Enrol a card from its public key material (409 if one of the kind is already active)."""
    return CredentialRead.model_validate(service.create(session, data, actor=actor))


@router.get("/{credential_id}", response_model=CredentialRead)
def get_credential(credential_id: Id, session: SessionDep, actor: AdminDep) -> CredentialRead:
    """One credential with its status history fields."""
    return CredentialRead.model_validate(service.get_or_raise(session, credential_id))


def _change(action: str, credential_id: Id, data: CredentialStatusChange, session: SessionDep,
            actor: str) -> CredentialRead:
    return CredentialRead.model_validate(
        service.change_status(session, credential_id, action, reason=data.reason, actor=actor))


@router.post("/{credential_id}/suspend", response_model=CredentialRead)
def suspend_credential(credential_id: Id, data: CredentialStatusChange, session: SessionDep,
                       actor: AdminDep) -> CredentialRead:
    """Suspend an active credential (e.g. card left at home, under review)."""
    return _change("suspend", credential_id, data, session, actor)


@router.post("/{credential_id}/lost", response_model=CredentialRead)
def mark_credential_lost(credential_id: Id, data: CredentialStatusChange, session: SessionDep,
                         actor: AdminDep) -> CredentialRead:
    """Mark a credential lost (紛失)."""
    return _change("lost", credential_id, data, session, actor)


@router.post("/{credential_id}/revoke", response_model=CredentialRead)
def revoke_credential(credential_id: Id, data: CredentialStatusChange, session: SessionDep,
                      actor: AdminDep) -> CredentialRead:
    """Revoke a credential for good."""
    return _change("revoke", credential_id, data, session, actor)


@router.post("/{credential_id}/reactivate", response_model=CredentialRead)
def reactivate_credential(credential_id: Id, data: CredentialStatusChange,
                          session: SessionDep, actor: AdminDep) -> CredentialRead:
    """Reactivate a suspended credential (409 if another of its kind is active)."""
    return _change("reactivate", credential_id, data, session, actor)
