"""Admin payloads for devices."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.text import FreeText


class DeviceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: FreeText[100] = Field(min_length=1)
    site_id: int | None = None
    door_ids: list[int] = Field(default_factory=list)


class DeviceDoorsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    door_ids: list[int]


class DeviceRevoke(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: FreeText[500] = Field(min_length=1)


class DeviceRead(BaseModel):
    id: uuid.UUID
    name: str
    site_id: int | None
    status: str
    door_ids: list[int]
    created_at: datetime
    enrolled_at: datetime | None
    confirmed_at: datetime | None
    confirmed_by: str | None
    revoked_at: datetime | None
    enrollment_expires_at: datetime | None
    last_heartbeat_at: datetime | None
    clock_offset_ms: int | None
    config_version: int | None
    snapshot_version: int | None
    max_seq: int
    contiguous_seq: int
    delivered_through: datetime | None
    outbox_pending: int | None
    oldest_pending_at: datetime | None
    open_gaps: list[tuple[int, int]]


class DeviceCreated(DeviceRead):
    # Shown once: only its SHA-256 is stored.
    enrollment_token: str
