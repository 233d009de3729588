"""Admin views of the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    seq: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    prev_hash: str
    hash: str


class VerificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ok: bool
    checked: int
    first_bad_id: int | None
    first_bad_seq: int | None
    reason: str | None
    start_seq: int  # 1, or the seq after the newest retention summary
    summaries: int  # retention summaries checked
