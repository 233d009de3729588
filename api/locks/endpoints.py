from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from api.bounded import Id
from api.db import SessionDep
from api.limits import RawBody
from api.models.base import utcnow
from api.users.auth import require_admin

from . import repository, service
from .pins import pending_codes
from .poll_auth import LockKeyCache
from .schemas import (
    AlertRead,
    EmergencyCodeRead,
    EmergencyRequest,
    LockCreate,
    LockRead,
    LockStatusRead,
    PendingRevocationsRead,
    RemoteUnlockRead,
    SyncUpload,
)
from .settings import LockSettings, get_lock_settings

router = APIRouter(prefix="/api/v1/locks", tags=["locks"])
Admin = Annotated[str, Depends(require_admin)]
Settings = Annotated[LockSettings, Depends(get_lock_settings)]


@router.post("", status_code=201, response_model=LockRead)
def create_lock(data: LockCreate, session: SessionDep, actor: Admin) -> object:
    """Register an online lock or an offline key box on a facility."""
    return service.create(session, data, actor=actor)


@router.get("", response_model=list[LockStatusRead])
def list_locks(session: SessionDep, settings: Settings, actor: Admin) -> object:
    """Every lock with its status (battery, days left, last contact, clock, pending work)."""
    now = utcnow()
    return [service.status(session, settings, lock, now)
            for lock in repository.list_all(session)]


@router.get("/alerts", response_model=list[AlertRead])
def list_alerts(session: SessionDep, actor: Admin) -> object:
    """Recent alerts of all locks."""
    return repository.alerts(session)


@router.get("/{lock_pk}", response_model=LockStatusRead)
def get_lock(lock_pk: Id, session: SessionDep, settings: Settings, actor: Admin) -> object:
    """One lock's status."""
    return service.status(session, settings, service.get_or_raise(session, lock_pk), utcnow())


@router.get("/{lock_pk}/alerts", response_model=list[AlertRead])
def lock_alerts(lock_pk: Id, session: SessionDep, settings: Settings, actor: Admin) -> object:
    """Evaluate and list one lock's alerts."""
    lock = service.get_or_raise(session, lock_pk)
    service.evaluate_alerts(session, settings, lock, utcnow())
    return repository.alerts(session, lock.id)


@router.get("/{lock_pk}/pending-revocations", response_model=PendingRevocationsRead)
def pending_revocations(lock_pk: Id, session: SessionDep, settings: Settings,
                        actor: Admin) -> object:
    """Revocation codes a staff member should type on the key box first."""
    lock = service.get_or_raise(session, lock_pk)
    return {"lock_id": lock.lock_id, "codes": pending_codes(session, settings, lock, utcnow())}


@router.post("/{lock_pk}/sync")
def staff_sync(lock_pk: Id, upload: SyncUpload, session: SessionDep, settings: Settings,
               actor: Admin) -> dict[str, object]:
    """A staff member's sync of an offline key box: upload in, signed clock command out."""
    lock = service.get_or_raise(session, lock_pk, for_update=True)
    return service.staff_sync(session, settings, lock, upload.model_dump(), now=utcnow(),
                              actor=actor)


@router.post("/{lock_pk}/emergency-code", response_model=EmergencyCodeRead)
def emergency_code(lock_pk: Id, data: EmergencyRequest, session: SessionDep,
                   settings: Settings, actor: Admin) -> object:
    """A one-time 1-hour code to open a key box under guidance by phone (audited)."""
    lock = service.get_or_raise(session, lock_pk)
    code, until = service.issue_emergency_code(session, settings, lock, actor=actor,
                                               reason=data.reason, now=utcnow())
    return {"code": code, "valid_until": until}


@router.post("/{lock_pk}/remote-unlock", status_code=202, response_model=RemoteUnlockRead)
def remote_unlock(lock_pk: Id, data: EmergencyRequest, session: SessionDep,
                  actor: Admin) -> object:
    """Remote emergency unlock of an online lock: admin only, reason required, audited."""
    lock = service.get_or_raise(session, lock_pk)
    cmd = service.remote_unlock(session, lock, actor=actor, reason=data.reason, now=utcnow())
    return {"command_id": cmd.id, "queued_at": cmd.created_at}


def lock_keys(request: Request) -> LockKeyCache:
    """The app's cache of online-lock keys (``poll_auth``), made by ``create_app``."""
    cache: LockKeyCache = request.app.state.lock_keys
    return cache


@router.post("/{lock_id}/poll")
def poll(lock_id: str, request: Request, body: RawBody, session: SessionDep,
         settings: Settings, keys: Annotated[LockKeyCache, Depends(lock_keys)]) -> Response:
    """An online lock's poll (signed by the lock with a nonce; PINs sealed to the lock; the
    answer is signed too). A plain ``def``: the thread pool, never the event loop."""
    answer, headers = service.poll(session, settings, keys, lock_id, body,
                                   {k.lower(): v for k, v in request.headers.items()},
                                   now=utcnow())
    return Response(answer, media_type="application/json", headers=headers)
