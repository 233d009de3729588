"""HR export profiles (named, versioned column mappings) and the runs that were exported."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class ExportProfile(Base):
    """A town's column mapping for one dataset; a new version never changes an old one."""

    __tablename__ = "export_profile"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int]
    dataset: Mapped[str] = mapped_column(String(20))  # punches | daily | monthly
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))


class ExportRun(Base):
    """One export of a dataset for a period; a final run freezes the period's lines."""

    __tablename__ = "export_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset: Mapped[str] = mapped_column(String(20))
    profile: Mapped[str] = mapped_column(String(64))
    profile_version: Mapped[int]
    period_start: Mapped[date]
    period_end: Mapped[date]
    file_format: Mapped[str] = mapped_column(String(10))  # cp932 | utf8bom | xlsx
    provisional: Mapped[bool] = mapped_column(default=False)
    row_count: Mapped[int] = mapped_column(default=0)
    amendment_count: Mapped[int] = mapped_column(default=0)
    sha256: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
