"""Admin views of events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    device_id: uuid.UUID
    seq: int
    kind: str
    occurred_at: datetime
    device_clock_offset_ms: int | None
    received_at: datetime
    door_id: int | None
    staff_id: int | None
    credential_ref: str | None
    granted: bool | None
    reason: str | None
    data: dict[str, Any]
    prev_hash: str | None
    hash: str | None
