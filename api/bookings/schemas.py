from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.bounded import BusinessTime, Id
from api.mail.headers import SingleLine
from api.models import MailStatus
from api.text import FreeText
from mynagate_i18n import DEFAULT_LANGUAGE, Language

# An address that reaches the To header: no spaces, no control characters.
_ADDR = r"[^@\s\x00-\x1f\x7f-\x9f\u2028\u2029]+"
EMAIL = rf"^{_ADDR}@{_ADDR}\.{_ADDR}$"


class BookingCreate(BaseModel):
    facility_id: Id
    start_at: BusinessTime
    end_at: BusinessTime
    booker_name: Annotated[FreeText[100], SingleLine] = Field(min_length=1)
    booker_email: FreeText[254] = Field(pattern=EMAIL)
    payment_status: Literal["pending", "paid"] = "pending"
    external_ref: FreeText[64] | None = None
    language: Language = DEFAULT_LANGUAGE  # of the booker's emails

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
    language: Language
    # The booking's latest email (PIN, reissue or cancellation notice); null before any.
    mail_status: MailStatus | None = None
    mail_attempts: int = 0
    mail_last_error: str | None = None


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
