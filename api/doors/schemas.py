"""Admin payloads for sites and doors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.staff.validation import Code, Name, Reason
from gate.door import Assurance, DoorMode

# The strike release time of a grant; the same bounds as firmware_config's DoorConfig.
UnlockSeconds = Annotated[float, Field(ge=1, le=60)]


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
    ``show_overtime``: a clock point shows the month's overtime against the cap on 退勤.
    ``unlock_seconds``: how long a grant releases the strike (readers get it in their signed
    configuration bundle on their next poll)."""

    model_config = ConfigDict(extra="forbid")

    site_id: int
    code: Code
    name: Name
    mode: DoorMode = DoorMode.ACCESS
    assurance: Assurance = Assurance.CARD
    lockdown: bool = False
    fail_open: bool = False
    show_overtime: bool = True
    unlock_seconds: UnlockSeconds = 5.0


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
    unlock_seconds: UnlockSeconds | None = None


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
    unlock_seconds: float
    created_at: datetime
    updated_at: datetime
