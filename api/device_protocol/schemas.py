"""Payloads of the device API (docs/device-protocol.md)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.events.ingest import MAX_BATCH
from api.text import FreeText, GuardJson

HEX64 = r"^[0-9a-f]{64}$"


class EnrollRequest(BaseModel):
    enrollment_token: str = Field(min_length=16, max_length=200)
    public_key: str = Field(min_length=40, max_length=60, description="base64 raw Ed25519")
    agent_version: FreeText[40] | None = None


class EnrollResponse(BaseModel):
    device_id: uuid.UUID
    service_public_key: str
    service_key_id: str
    server_time: str


class HeartbeatRequest(BaseModel):
    device_time: AwareDatetime
    config_version: int | None = None
    snapshot_version: int | None = None
    outbox_pending: int | None = Field(default=None, ge=0)
    oldest_pending_at: AwareDatetime | None = None
    last_seq: int | None = Field(default=None, ge=0)


class HeartbeatResponse(BaseModel):
    server_time: str
    clock_offset_ms: int
    snapshot_version: int
    skew_alarm: bool


class WaitResponse(BaseModel):
    version: int


class EventIn(BaseModel):
    """One event as the agent sends it. The hash chain covers the raw JSON object."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    seq: int = Field(ge=1)
    kind: Literal["tap", "door_state", "clock_punch", "alarm", "card_error"]
    occurred_at: AwareDatetime
    clock_offset_ms: int | None = None
    door_id: int | None = None
    credential_ref: str | None = Field(default=None, max_length=64)
    staff_id: int | None = None
    granted: bool | None = None
    reason: FreeText[40] | None = None
    data: Annotated[dict[str, Any], GuardJson] = Field(default_factory=dict)
    prev_hash: str | None = Field(default=None, pattern=HEX64)
    hash: str = Field(pattern=HEX64)


class EventBatch(BaseModel):
    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


class EventBatchResult(BaseModel):
    accepted: int
    duplicates: int
    acked_through_seq: int
    gaps: list[tuple[int, int]]
    chain_ok: bool


class DecideRequest(BaseModel):
    door_id: int
    credential_ref: str = Field(min_length=1, max_length=64)
    pin_verified: bool = False


class DecideResponse(BaseModel):
    granted: bool
    reason: str
