"""Payloads of the device API (docs/device-protocol.md)."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from api.bounded import Int32, Int64
from api.errors import first_error
from api.events.ingest import MAX_BATCH, MAX_SEQ
from api.text import FreeText, GuardJson

HEX64 = r"^[0-9a-f]{64}$"
# An event's ``data``: at most this many bytes as compact JSON, keys, and nesting levels.
MAX_DATA_BYTES = 2048
MAX_DATA_KEYS = 32
MAX_DATA_DEPTH = 3
# Measures ``data`` as compact JSON; one encoder for all (``json.dumps`` with options builds one
# per call, as costly as encoding a small ``data``).
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


class _Data(BaseModel):
    """Known fields of an event's ``data``, type-checked; unknown extra keys are kept (newer
    agents) within the overall bounds."""

    model_config = ConfigDict(extra="allow")


class TapData(_Data):
    auth: str | None = Field(default=None, max_length=40)
    offline: bool | None = None
    snapshot_version: Int64 | None = Field(default=None, ge=0)
    reader: str | None = Field(default=None, max_length=100)
    apdus: int | None = Field(default=None, ge=0, le=100_000)
    transport_ms: float | None = Field(default=None, ge=0, le=3_600_000)
    card_ms: float | None = Field(default=None, ge=0, le=3_600_000)
    door_unknown: bool | None = None
    failure: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, max_length=200)
    error: str | None = Field(default=None, max_length=200)
    snapshot_age_s: Int64 | None = Field(default=None, ge=0)
    fail_open: bool | None = None


class ClockPunchData(_Data):
    punch: str = Field(min_length=1, max_length=20)
    business_date: date
    repeats: str | None = Field(default=None, max_length=20)
    offline: bool | None = None


class DoorStateData(_Data):
    state: Literal["open", "closed"]


class AlarmData(_Data):
    alarm: str = Field(min_length=1, max_length=64)
    active: bool | None = None
    detail: str | dict[str, Any] | None = None
    offset_ms: Int64 | None = None
    threshold_ms: Int64 | None = None


DATA_MODELS: dict[str, type[_Data]] = {
    "tap": TapData, "card_error": TapData, "clock_punch": ClockPunchData,
    "door_state": DoorStateData, "alarm": AlarmData}


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        children: Any = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return 0
    deepest = 0
    for v in children:  # a plain loop: max() over a generator cost more than the rest of it
        if isinstance(v, dict | list):
            deepest = max(deepest, _depth(v))
    return 1 + deepest


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
    config_version: Int32 | None = None
    snapshot_version: Int32 | None = None
    outbox_pending: Int64 | None = Field(default=None, ge=0)
    oldest_pending_at: AwareDatetime | None = None
    last_seq: int | None = Field(default=None, ge=0, le=MAX_SEQ)


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
    seq: int = Field(ge=1, le=MAX_SEQ)
    kind: Literal["tap", "door_state", "clock_punch", "alarm", "card_error"]
    occurred_at: AwareDatetime
    # Stored in a 32-bit column: ±24 days in milliseconds.
    clock_offset_ms: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1)
    door_id: Int64 | None = None
    credential_ref: str | None = Field(default=None, max_length=64)
    staff_id: Int64 | None = None
    granted: bool | None = None
    reason: FreeText[40] | None = None
    data: Annotated[dict[str, Any], GuardJson] = Field(default_factory=dict)
    prev_hash: str | None = Field(default=None, pattern=HEX64)
    hash: str = Field(pattern=HEX64)

    @field_validator("data")
    @classmethod
    def _bounded(cls, data: dict[str, Any]) -> dict[str, Any]:
        if len(data) > MAX_DATA_KEYS:
            raise ValueError(f"data has more than {MAX_DATA_KEYS} keys")
        if _depth(data) > MAX_DATA_DEPTH:
            raise ValueError(f"data is nested deeper than {MAX_DATA_DEPTH} levels")
        size = len(_COMPACT.encode(data).encode())
        if size > MAX_DATA_BYTES:
            raise ValueError(f"data is {size} bytes as JSON, more than {MAX_DATA_BYTES}")
        return data

    @model_validator(mode="after")
    def _data_fits_kind(self) -> EventIn:
        try:
            DATA_MODELS[self.kind].model_validate(self.data)
        except ValidationError as err:
            raise ValueError(f"{first_error(err, 'data.')} (a {self.kind} event)") from None
        return self


class EventBatch(BaseModel):
    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


class EventBatchResult(BaseModel):
    accepted: int
    duplicates: int
    acked_through_seq: int
    gaps: list[tuple[int, int]]
    chain_ok: bool


class DecideRequest(BaseModel):
    door_id: Int64
    credential_ref: str = Field(min_length=1, max_length=64)
    pin_verified: bool = False


class DecideResponse(BaseModel):
    granted: bool
    reason: str
