"""Admin payloads for card enrollment."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.text import FreeText


class EnrollmentCreate(BaseModel):
    """Start an enrollment for one staff member, named by id or by 職員番号."""

    model_config = ConfigDict(extra="forbid")

    staff_id: int | None = None
    staff_number: FreeText[20] | None = Field(default=None, min_length=1)
    kind: Literal["staff_ap", "jpki_auth"] = "staff_ap"

    @model_validator(mode="after")
    def _one_of(self) -> EnrollmentCreate:
        if (self.staff_id is None) == (self.staff_number is None):
            raise ValueError("give exactly one of staff_id and staff_number")
        return self


class EnrollmentResponse(BaseModel):
    """What the enrollment reader read from the card, base64: for ``staff_ap`` the credential
    file, for ``jpki_auth`` the DER user-authentication certificate; and the card's signature
    over the enrollment challenge."""

    model_config = ConfigDict(extra="forbid")

    credential_record: str | None = Field(default=None, min_length=1, max_length=400)
    certificate: str | None = Field(default=None, min_length=1, max_length=12000)
    signature: str = Field(min_length=1, max_length=800)


class CertificateCheck(BaseModel):
    """A JPKI auth certificate (DER, base64) to check before the holder types the PIN."""

    model_config = ConfigDict(extra="forbid")

    certificate: str = Field(min_length=1, max_length=12000, pattern=r"^[A-Za-z0-9+/=]+$")


class CertificateCheckRead(BaseModel):
    credential_ref: str
    not_after: datetime


class EnrollmentRead(BaseModel):
    id: int
    staff_id: int
    kind: str
    status: str
    challenge: str
    expires_at: datetime
    credential_ref: str | None
    issuer_code: str | None
    not_after: datetime | None
    credential_id: int | None
    replaced_credential_id: int | None
    created_at: datetime
    responded_at: datetime | None
    confirmed_at: datetime | None
