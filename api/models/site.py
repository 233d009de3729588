"""Sites (buildings) and their doors."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gate.door import Assurance, DoorMode

from .base import Base, StrEnumColumn, TimestampMixin


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
    mode: Mapped[DoorMode] = mapped_column(StrEnumColumn(DoorMode, 10), default=DoorMode.ACCESS)
    assurance: Mapped[Assurance] = mapped_column(StrEnumColumn(Assurance, 10),
                                                 default=Assurance.CARD)
    lockdown: Mapped[bool] = mapped_column(default=False)
    # Keeps admitting enrolled cards after the offline snapshot age limit (e.g. 休日通用口).
    fail_open: Mapped[bool] = mapped_column(default=False)
    # A clock point shows the month's overtime against the cap on 退勤 (off if a town objects).
    show_overtime: Mapped[bool] = mapped_column(default=True, server_default=true())
    # How long a grant releases the strike; readers get it in their signed config bundle.
    unlock_seconds: Mapped[float] = mapped_column(default=5.0)

    site: Mapped[Site] = relationship(lazy="raise")
