"""Payloads of the attendance API."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from api.bounded import BusinessDate
from api.text import FreeText


class DailyLineRead(BaseModel):
    staff_id: int
    business_date: date
    day_type: str
    first_in: datetime | None
    last_out: datetime | None
    in_time: str  # HH:MM, past midnight as 25:30
    out_time: str
    in_source: str | None
    out_source: str | None
    premises_minutes: int
    break_minutes: int
    scheduled_minutes: int
    worked_in_schedule_minutes: int
    unscheduled_minutes: int
    approved_overtime_minutes: int
    overtime_minutes: int
    divergence_minutes: int
    flags: list[str]
    text: str


class CorrectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff_id: int
    business_date: BusinessDate
    kind: str = Field(pattern="^(in|out)$")
    corrected_at: datetime
    reason: FreeText[1000] = Field(min_length=1)


class CorrectionDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: StrictBool  # "yes" or 1 is a 422, never an approval


class CorrectionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    staff_id: int
    business_date: date
    kind: str
    corrected_at: datetime
    reason: str
    author: str
    status: str
    approver: str | None
    decided_at: datetime | None


class WorkPatternCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: FreeText[32] = Field(min_length=1)
    name: FreeText[100] = Field(min_length=1)
    start_time: time
    end_time: time
    break_start: time | None = None
    break_end: time | None = None
    overnight: bool = False  # the end is on the next day (宿直, night shifts)


class WorkPatternRead(WorkPatternCreate):
    model_config = ConfigDict(from_attributes=True)

    id: int


class WorkPatternAssign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff_id: int
    code: FreeText[32]
    effective_from: BusinessDate
    effective_until: BusinessDate | None = None


class DayOverrideCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff_id: int | None = None
    day: BusinessDate
    day_type: FreeText[32]
    kind: str = Field(default="furikae", pattern="^(furikae|daikyu|other)$")
    linked_day: BusinessDate | None = None
    note: FreeText[200] | None = None


class DayOverrideRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    staff_id: int | None
    day: date
    day_type: str
    kind: str
    linked_day: date | None


class SupervisorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department_id: int
    staff_id: int
    effective_from: BusinessDate
    effective_until: BusinessDate | None = None


class AmendmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int | None  # null: found now, stored by the next export
    staff_id: int
    business_date: date
    detected_at: datetime
    exported_line: dict | None  # type: ignore[type-arg]
    current_line: dict | None  # type: ignore[type-arg]
    carried_by_run_id: int | None


class LeaveCreate(BaseModel):
    """Leave entered by HR: ``unit`` day, am, pm or hours (with start and end)."""

    model_config = ConfigDict(extra="forbid")

    staff_id: int
    day: BusinessDate
    kind: Literal["annual", "special", "sick"]
    unit: Literal["day", "am", "pm", "hours"]
    start_time: time | None = None
    end_time: time | None = None
