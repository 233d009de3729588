"""Payloads of the overtime API."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from api.bounded import BusinessDate
from api.text import FreeText


class OvertimeApply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    work_date: BusinessDate
    start_at: datetime
    end_at: datetime
    reason: FreeText[1000] = Field(min_length=1)
    special: bool = False


class OvertimeOrderCreate(OvertimeApply):
    staff_id: int


class OvertimeDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: StrictBool  # "yes" or 1 is a 422, never an approval


class OvertimeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    staff_id: int
    department_id: int
    work_date: date
    start_at: datetime
    end_at: datetime
    kind: str
    source: str
    reason: str
    special: bool
    status: str
    requested_by: str
    decided_by: str | None
    decided_at: datetime | None
    external_ref: str | None


class DivergenceSubmit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    business_date: date
    reason_code: FreeText[32]
    note: FreeText[1000] = ""


class DivergenceConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confirm: StrictBool = True


class DivergenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    staff_id: int
    business_date: date
    minutes: int
    reason_code: str
    note: str
    status: str
    submitted_by: str
    confirmed_by: str | None
    confirmed_at: datetime | None
