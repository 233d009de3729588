"""Admin payloads for access groups, members, schedules, permissions and closed days."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from api.bounded import BusinessDate
from api.staff.validation import Name


def _minute(value: Any) -> Any:
    """Accept minutes since midnight or "HH:MM" ("24:00" is 1440)."""
    if isinstance(value, str):
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
        if m is None:
            raise ValueError('must be minutes since midnight (0–1440) or "HH:MM"')
        hours, minutes = int(m.group(1)), int(m.group(2))
        if minutes >= 60:
            raise ValueError("minutes must be below 60")
        return hours * 60 + minutes
    return value


Minute = Annotated[int, BeforeValidator(_minute), Field(ge=0, le=1440)]


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name


class GroupUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name


class GroupRead(BaseModel):
    id: int
    name: str
    member_count: int


class GroupMembers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff_ids: list[int] = Field(max_length=10000)


class GroupMembersRead(BaseModel):
    group_id: int
    staff_ids: list[int]


class WindowIn(BaseModel):
    """``weekday`` 0 = Monday … 6 = Sunday; minutes in local time, start < end ≤ 1440."""

    model_config = ConfigDict(extra="forbid")

    weekday: int = Field(ge=0, le=6)
    start_minute: Minute
    end_minute: Minute

    @model_validator(mode="after")
    def _order(self) -> WindowIn:
        if self.start_minute >= self.end_minute:
            raise ValueError("start_minute must be before end_minute")
        return self


class WindowRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    weekday: int
    start_minute: int
    end_minute: int


class ScheduleCreate(BaseModel):
    """``allow_closed_days``: the windows also apply on national holidays and closed days."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    allow_closed_days: bool = False
    windows: list[WindowIn] = Field(max_length=200)


class ScheduleUpdate(BaseModel):
    """``windows``, when sent, replaces every window of the schedule."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    allow_closed_days: bool | None = None
    windows: list[WindowIn] | None = Field(default=None, max_length=200)


class ScheduleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    allow_closed_days: bool
    windows: list[WindowRead]


class PermissionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_id: int
    door_id: int
    schedule_id: int


class PermissionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    group_id: int
    door_id: int
    schedule_id: int


class ClosedDayCreate(BaseModel):
    """A municipal closed day on top of the national holidays and 12/29–1/3."""

    model_config = ConfigDict(extra="forbid")

    day: BusinessDate
    name: Name


class ClosedDayUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name


class ClosedDayRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    day: date
    name: str
