"""Device configuration rows."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import DeviceConfig


def get(session: Session, device_id: uuid.UUID, *, lock: bool = False) -> DeviceConfig | None:
    stmt = select(DeviceConfig).where(DeviceConfig.device_id == device_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()
