from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.mail.headers import SingleLine

# The name reaches the PIN email's Subject header; address and contact are one-line too.
Line = Annotated[str, SingleLine]


class FacilityCreate(BaseModel):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    name: Line = Field(min_length=1, max_length=100)
    address: Line = Field(default="", max_length=200)
    contact: Line = Field(default="", max_length=200)
    instructions: str = Field(default="", max_length=2000)


class FacilityUpdate(BaseModel):
    name: Line | None = Field(default=None, min_length=1, max_length=100)
    address: Line | None = Field(default=None, max_length=200)
    contact: Line | None = Field(default=None, max_length=200)
    instructions: str | None = Field(default=None, max_length=2000)


class FacilityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    address: str
    contact: str
    instructions: str
