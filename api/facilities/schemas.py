from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FacilityCreate(BaseModel):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=100)
    address: str = Field(default="", max_length=200)
    contact: str = Field(default="", max_length=200)
    instructions: str = Field(default="", max_length=2000)


class FacilityUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    address: str | None = Field(default=None, max_length=200)
    contact: str | None = Field(default=None, max_length=200)
    instructions: str | None = Field(default=None, max_length=2000)


class FacilityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    address: str
    contact: str
    instructions: str
