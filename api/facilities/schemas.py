from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.text import FreeText


class FacilityCreate(BaseModel):
    code: FreeText[32] = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    name: FreeText[100] = Field(min_length=1)
    address: FreeText[200] = ""
    contact: FreeText[200] = ""
    instructions: FreeText[2000] = ""


class FacilityUpdate(BaseModel):
    name: FreeText[100] | None = Field(default=None, min_length=1)
    address: FreeText[200] | None = None
    contact: FreeText[200] | None = None
    instructions: FreeText[2000] | None = None


class FacilityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    address: str
    contact: str
    instructions: str
