"""``POST /api/v1/locks/{id}/rekey``: a lock's new key generation and its bookings' new PINs.

It lives with bookings, not locks, because it reissues bookings: bookings sit above locks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request

from api.bounded import Id
from api.db import SessionDep
from api.locks import service as locks
from api.locks.endpoints import lock_keys
from api.locks.schemas import LockRead
from api.locks.settings import LockSettings, get_lock_settings
from api.mail.background import wake_sender
from api.models.base import utcnow
from api.users.auth import require_admin

from . import service

router = APIRouter(prefix="/api/v1/locks", tags=["locks"])
Admin = Annotated[str, Depends(require_admin)]
Settings = Annotated[LockSettings, Depends(get_lock_settings)]


@router.post("/{lock_pk}/rekey", response_model=LockRead)
def rekey(lock_pk: Id, request: Request, tasks: BackgroundTasks, session: SessionDep,
          settings: Settings, actor: Admin) -> object:
    """Bump the lock's key generation: every old code dies; live bookings get new PINs by
    email (install the new key in an offline box at the next visit)."""
    lock = locks.get_or_raise(session, lock_pk, for_update=True)
    affected = locks.rekey(session, lock, actor=actor, now=utcnow())
    lock_keys(request).forget(lock.lock_id)
    for booking_id in affected:
        service.reissue(session, settings, booking_id, actor=actor)  # queues the new PINs
    if affected:
        tasks.add_task(wake_sender, request.app)
    return lock
