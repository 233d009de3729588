"""Admin payloads for departments and staff. No field ever holds the individual number."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationInfo,
    computed_field,
    field_validator,
)

from .validation import EMPLOYMENT_TYPE_LABELS, Code, Email, Kana, Name, StaffNumber

OvertimeClass = Literal["ordinary", "high_external"]
_LABEL_TO_TYPE = {label: code for code, label in EMPLOYMENT_TYPE_LABELS.items()}


def _employment_type(value: Any) -> Any:
    """Accept the display label (正規/会計年度任用/臨時) as well as the code."""
    return _LABEL_TO_TYPE.get(value, value) if isinstance(value, str) else value


EmploymentType = Annotated[Literal["regular", "fiscal_year", "temporary"],
                           BeforeValidator(_employment_type)]


class DepartmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Name
    overtime_class: OvertimeClass = "ordinary"


class DepartmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code | None = None
    name: Name | None = None
    overtime_class: OvertimeClass | None = None


class DepartmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    overtime_class: str


class StaffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff_number: StaffNumber
    name: Name
    name_kana: Kana
    department_id: int
    employment_type: EmploymentType = "regular"
    work_pattern: Code = "standard"
    email: Email | None = None
    active_from: date
    active_until: date | None = None

    @field_validator("active_until")
    @classmethod
    def _period(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("active_from")
        if value is not None and start is not None and value < start:
            raise ValueError("active_until must not be before active_from")
        return value


class StaffUpdate(BaseModel):
    """Only the fields sent are changed; send ``active_until`` to end employment."""

    model_config = ConfigDict(extra="forbid")

    staff_number: StaffNumber | None = None
    name: Name | None = None
    name_kana: Kana | None = None
    department_id: int | None = None
    employment_type: EmploymentType | None = None
    work_pattern: Code | None = None
    email: Email | None = None
    active_from: date | None = None
    active_until: date | None = None


class StaffRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    staff_number: str
    name: str
    name_kana: str
    department_id: int
    employment_type: str
    work_pattern: str
    email: str | None
    active_from: date
    active_until: date | None
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def employment_type_label(self) -> str:
        return EMPLOYMENT_TYPE_LABELS.get(self.employment_type, self.employment_type)
