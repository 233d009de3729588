"""Admin REST API for a reader's configuration (its signed firmware_config bundle)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from api.db import SessionDep
from api.models.base import utcnow
from api.users.auth import AdminDep

from . import service
from .schemas import DeviceConfigRead, DeviceConfigSettings

router = APIRouter(prefix="/admin/devices", tags=["devices"])


@router.get("/{device_id}/config", response_model=DeviceConfigRead)
def get_device_config(device_id: uuid.UUID, session: SessionDep,
                      actor: AdminDep) -> DeviceConfigRead:
    """The reader's settings and the last bundle signed for it."""
    return service.get_config(session, device_id)


@router.put("/{device_id}/config", response_model=DeviceConfigRead)
def set_device_config(device_id: uuid.UUID, data: DeviceConfigSettings, request: Request,
                      session: SessionDep, actor: AdminDep) -> DeviceConfigRead:
    """Set the reader's settings; the service signs its bundle, the reader fetches it on its
    next poll. Doors and their unlock times come from ``/admin/doors``."""
    settings = request.app.state.settings
    return service.set_config(session, device_id, data, actor=actor,
                              service_key=request.app.state.signing_key,
                              municipality_code=settings.municipality_code, now=utcnow())
