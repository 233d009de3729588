"""Overtime applications and orders (時間外勤務命令) and 乖離 reasons."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TimestampMixin

OVERTIME_STATUSES = ("pending", "approved", "rejected", "withdrawn")
DIVERGENCE_STATUSES = ("submitted", "confirmed", "returned")


class OvertimeRequest(Base, TimestampMixin):
    """An application by the staff member or an order by the supervisor (or from 庶務事務)."""

    __tablename__ = "overtime_request"
    __table_args__ = (Index("ix_overtime_request_staff_day", "staff_id", "work_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    work_date: Mapped[date]  # the business day
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(12), default="application")  # application | order
    source: Mapped[str] = mapped_column(String(12), default="api")  # api | import | divergence
    reason: Mapped[str] = mapped_column(Text, default="")
    special: Mapped[bool] = mapped_column(default=False)  # 特例業務
    status: Mapped[str] = mapped_column(String(10), default="pending")
    requested_by: Mapped[str] = mapped_column(String(100))
    decided_by: Mapped[str | None] = mapped_column(String(100), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    external_ref: Mapped[str | None] = mapped_column(String(64), default=None, unique=True)


class Divergence(Base, TimestampMixin):
    """The reason given for a day's 乖離, confirmed by the supervisor."""

    __tablename__ = "divergence"
    __table_args__ = (UniqueConstraint("staff_id", "business_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    business_date: Mapped[date]
    minutes: Mapped[int]
    reason_code: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="submitted")
    submitted_by: Mapped[str] = mapped_column(String(100))
    confirmed_by: Mapped[str | None] = mapped_column(String(100), default=None)
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
