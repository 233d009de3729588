"""Admin payloads of webhook endpoints. The secret appears once, in the answer to the
creation; reads never show it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.text import FreeText

from .payloads import EventType
from .webhooks import url_problem


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: FreeText[500]
    event_types: list[EventType] = Field(default_factory=list, max_length=len(EventType),
                                         description="empty: every type")
    description: FreeText[200] | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        problem = url_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    event_types: list[str]
    enabled: bool
    description: str | None
    created_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(description="whsec_…: shown this once; verify signatures with it")
