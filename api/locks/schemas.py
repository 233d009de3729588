from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.text import FreeText


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
    lock_id: str
    generation: int
    clock: float | None
    battery: float | None
    events: list[dict[str, Any]]
    mac: str


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
