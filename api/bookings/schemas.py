from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from api.text import FreeText

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class BookingCreate(BaseModel):
    facility_id: int
    start_at: AwareDatetime
    end_at: AwareDatetime
    booker_name: FreeText[100] = Field(min_length=1)
    booker_email: FreeText[254] = Field(pattern=EMAIL)
    payment_status: Literal["pending", "paid"] = "pending"
    external_ref: FreeText[64] | None = None

    @model_validator(mode="after")
    def _order(self) -> BookingCreate:
        if self.end_at <= self.start_at:
            raise ValueError("end_at must be after start_at")
        return self


class BookingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    facility_id: int
    start_at: datetime
    end_at: datetime
    booker_name: str
    booker_email: str
    payment_status: str
    source: str
    external_ref: str | None
    paid_at: datetime | None
    cancelled_at: datetime | None
    emailed_at: datetime | None


class PinInfo(BaseModel):
    lock_id: str
    lock_kind: str
    pin: str
    valid_from: datetime
    valid_until: datetime
    status: str
    enter_first: list[str]


class ImportResult(BaseModel):
    created: int
    paid: int
    booking_ids: list[int]
