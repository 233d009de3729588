from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.mail.headers import SingleLine
from api.text import FreeText

# The name reaches the PIN email's Subject header; address and contact are one-line too.
Line100 = Annotated[FreeText[100], SingleLine]
Line200 = Annotated[FreeText[200], SingleLine]


class FacilityCreate(BaseModel):
    code: FreeText[32] = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    name: Line100 = Field(min_length=1)
    address: Line200 = ""
    contact: Line200 = ""
    instructions: FreeText[2000] = ""


class FacilityUpdate(BaseModel):
    name: Line100 | None = Field(default=None, min_length=1)
    address: Line200 | None = None
    contact: Line200 | None = None
    instructions: FreeText[2000] | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Omitted means unchanged; an explicit null would empty a NOT NULL column (422).
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


class FacilityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    address: str
    contact: str
    instructions: str
