"""Admin payloads for sites and doors."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from api.staff.validation import Code, Name, Reason
from gate.door import Assurance, DoorMode


class SiteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Name


class SiteUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code | None = None
    name: Name | None = None


class SiteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str


class DoorCreate(BaseModel):
    """``mode``: access (opens), clock (打刻 only), both. ``assurance``: card, or card+pin (JPKI
    PIN). ``fail_open``: keeps admitting enrolled cards when the offline snapshot is stale.
    ``show_overtime``: a clock point shows the month's overtime against the cap on 退勤."""

    model_config = ConfigDict(extra="forbid")

    site_id: int
    code: Code
    name: Name
    mode: DoorMode = DoorMode.ACCESS
    assurance: Assurance = Assurance.CARD
    lockdown: bool = False
    fail_open: bool = False
    show_overtime: bool = True


class DoorUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: int | None = None
    code: Code | None = None
    name: Name | None = None
    mode: DoorMode | None = None
    assurance: Assurance | None = None
    lockdown: bool | None = None
    fail_open: bool | None = None
    show_overtime: bool | None = None


class DoorLockdown(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lockdown: bool
    reason: Reason


class DoorRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    site_id: int
    code: str
    name: str
    mode: DoorMode
    assurance: Assurance
    lockdown: bool
    fail_open: bool
    show_overtime: bool
    created_at: datetime
    updated_at: datetime
