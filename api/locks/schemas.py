from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from api.bounded import Int64
from api.errors import first_error
from api.text import FreeText

# A lock's clock and log times: Unix seconds up to 2100-01-01.
MAX_LOCK_TIME = 4_102_444_800
MAX_LOG_EVENTS = 1000


class LockLogEvent(BaseModel):
    """One entry of a lock's hash-chained log, as the lock sends it (checked, kept raw: the
    chain and the upload's MAC cover the raw object)."""

    model_config = ConfigDict(extra="allow")

    seq: int = Field(ge=1, le=2**31 - 1)
    at: int = Field(ge=0, le=MAX_LOCK_TIME)
    kind: str = Field(min_length=1, max_length=30)
    detail: dict[str, Any] | None = None
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")


def check_log(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validate each log entry as a ``LockLogEvent`` and return the raw entries unchanged."""
    for i, e in enumerate(events):
        try:
            LockLogEvent.model_validate(e)
        except ValidationError as err:
            raise ValueError(first_error(err, f"events[{i}].")) from None
    return events


class PollUpload(BaseModel):
    """The body of an online lock's poll (docs/pin-spec.md §10)."""

    clock: float | None = Field(default=None, ge=0, le=MAX_LOCK_TIME, allow_inf_nan=False)
    battery: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)
    slot_limit: int | None = Field(default=None, ge=0, le=250)
    events: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_LOG_EVENTS)

    @field_validator("events")
    @classmethod
    def _log(cls, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return check_log(events)


class LockCreate(BaseModel):
    facility_id: int
    lock_id: FreeText[64] = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    name: FreeText[100] = ""
    kind: Literal["online", "offline"]
    slot_limit: int = Field(default=10, ge=1, le=250)
    grace_early: int = Field(default=1, ge=0, le=4)
    grace_late: int = Field(default=1, ge=0, le=4)


class LockRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    lock_id: str
    facility_id: int
    name: str
    kind: str
    generation: int
    slot_limit: int


class LockStatusRead(BaseModel):
    id: int
    lock_id: str
    kind: str
    facility_id: int
    generation: int
    slot_limit: int
    battery_percent: float | None
    battery_at: datetime | None
    low_battery: bool
    battery_days_left: float | None
    last_contact_at: datetime | None
    clock_offset_s: float | None
    drift_ppm: float | None
    log_seq: int
    pending_revocations: int
    slots_full: bool
    grace: list[int]


class SyncUpload(BaseModel):
    lock_id: str = Field(max_length=64)
    generation: Int64
    clock: float | None = Field(ge=0, le=MAX_LOCK_TIME, allow_inf_nan=False)
    battery: float | None = Field(allow_inf_nan=False)
    events: list[dict[str, Any]] = Field(max_length=MAX_LOG_EVENTS)
    mac: str = Field(max_length=64)

    @field_validator("events")
    @classmethod
    def _log(cls, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return check_log(events)


class EmergencyRequest(BaseModel):
    reason: FreeText[200] = Field(min_length=2)


class EmergencyCodeRead(BaseModel):
    code: str
    valid_until: datetime
    note: str = "一回限り・1時間有効 (one use, valid for 1 hour)"


class RemoteUnlockRead(BaseModel):
    command_id: int
    queued_at: datetime


class AlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    lock_id: int
    kind: str
    at: datetime
    booking_id: int | None
    detail: str


class PendingRevocationsRead(BaseModel):
    lock_id: str
    codes: list[str]
    note: str = "最初にこのコードを入力してください (enter these codes first)"
