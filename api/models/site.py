"""Sites (buildings) and their doors."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, TimestampMixin

DOOR_MODES = ("access", "clock", "both")
ASSURANCE_LEVELS = ("card", "card+pin")


class Site(Base, TimestampMixin):
    __tablename__ = "site"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))


class Door(Base, TimestampMixin):
    __tablename__ = "door"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    mode: Mapped[str] = mapped_column(String(10), default="access")
    assurance: Mapped[str] = mapped_column(String(10), default="card")
    lockdown: Mapped[bool] = mapped_column(default=False)
    # Keeps admitting enrolled cards after the offline snapshot age limit (e.g. 休日通用口).
    fail_open: Mapped[bool] = mapped_column(default=False)

    site: Mapped[Site] = relationship(lazy="raise")
