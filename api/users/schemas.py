"""Request and response bodies of logins, users and API tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.text import FreeText

from .roles import Role

Name = Field(min_length=1)


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=1, max_length=200)
    totp: str | None = Field(default=None, pattern=r"^[0-9]{6}$")


class Whoami(BaseModel):
    username: str
    role: Role
    staff_id: int | None
    via: str


class LoginResponse(Whoami):
    csrf_token: str


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: FreeText[60] = Name
    role: Role
    staff_id: int | None = Field(default=None, ge=1)
    # No password: one is generated and shown once; API-only service users have none.
    login: bool = True


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    active: bool | None = None
    reset_password: bool = False
    reset_totp: bool = False


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    role: Role
    staff_id: int | None
    active: bool
    locked_until: datetime | None
    created_at: datetime


class UserSecrets(BaseModel):
    """A user and the secrets made for them: shown this once, never stored in clear."""

    user: UserRead
    password: str | None
    totp_secret: str | None
    totp_uri: str | None


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: FreeText[60] = Name
    role: Role
    user_id: int = Field(ge=1)


class TokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: Role
    user_id: int
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    token: str  # shown once
