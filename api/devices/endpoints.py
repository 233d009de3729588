"""Admin REST API for reader agents (devices)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from api.db import SessionDep
from api.models.base import utcnow
from api.users.auth import AdminDep

from . import service
from .schemas import DeviceCreate, DeviceCreated, DeviceDoorsUpdate, DeviceRead, DeviceRevoke

router = APIRouter(prefix="/admin/devices", tags=["devices"])


@router.post("", status_code=201, response_model=DeviceCreated)
def create_device(data: DeviceCreate, request: Request, session: SessionDep,
                  actor: AdminDep) -> DeviceCreated:
    """Create a pending device; the answer holds its one-time enrollment token."""
    return service.create(session, data, actor=actor,
                          token_ttl_s=request.app.state.settings.enrollment_token_ttl_s)


@router.get("", response_model=list[DeviceRead])
def list_devices(session: SessionDep, actor: AdminDep) -> list[DeviceRead]:
    """Every device with its status, clock offset and delivery state."""
    return service.list_devices(session)


@router.get("/{device_id}", response_model=DeviceRead)
def get_device(device_id: uuid.UUID, session: SessionDep, actor: AdminDep) -> DeviceRead:
    """One device: status, last heartbeat, clock offset, versions, sequence state, open gaps."""
    return service.get(session, device_id)


@router.put("/{device_id}/doors", response_model=DeviceRead)
def set_device_doors(device_id: uuid.UUID, data: DeviceDoorsUpdate, session: SessionDep,
                     actor: AdminDep) -> DeviceRead:
    """Change the doors a device serves (bumps the snapshot version)."""
    return service.set_doors(session, device_id, data, actor=actor)


@router.post("/{device_id}/confirm", response_model=DeviceRead)
def confirm_device(device_id: uuid.UUID, session: SessionDep, actor: AdminDep) -> DeviceRead:
    """Confirm an enrolled reader: until then it may only send heartbeats."""
    return service.confirm(session, device_id, actor=actor, now=utcnow())


@router.post("/{device_id}/revoke", response_model=DeviceRead)
def revoke_device(device_id: uuid.UUID, data: DeviceRevoke, session: SessionDep,
                  actor: AdminDep) -> DeviceRead:
    """Revoke a device; its signed requests are refused from now on."""
    return service.revoke(session, device_id, reason=data.reason, actor=actor)


@router.post("/{device_id}/enrollment-token", status_code=201, response_model=DeviceCreated)
def reissue_enrollment_token(device_id: uuid.UUID, request: Request, session: SessionDep,
                             actor: AdminDep) -> DeviceCreated:
    """A fresh one-time enrollment token for a device that has not enrolled yet."""
    return service.reissue_token(session, device_id, actor=actor,
                                 token_ttl_s=request.app.state.settings.enrollment_token_ttl_s)
