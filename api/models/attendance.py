"""Attendance: work patterns with effective dates, day-type overrides (振替, 代休日), corrections
of punches (the original events stay untouched), department supervisors, and the frozen lines
of exported months with the amendments detected after them."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TimestampMixin, utcnow

DAY_TYPES = ("workday", "weekly_off", "holiday", "compensatory")
CORRECTION_STATUSES = ("pending", "approved", "rejected")


class WorkPattern(Base, TimestampMixin):
    """Scheduled hours, referenced by ``staff.work_pattern`` (its code) or by assignment."""

    __tablename__ = "work_pattern"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    start_time: Mapped[time]
    end_time: Mapped[time]
    break_start: Mapped[time | None] = mapped_column(default=None)
    break_end: Mapped[time | None] = mapped_column(default=None)
    # 宿直 and night shifts: the end is on the next calendar day.
    overnight: Mapped[bool] = mapped_column(default=False, server_default=false())


class StaffWorkPattern(Base):
    """A work pattern assigned to one staff member from a date (until the next assignment)."""

    __tablename__ = "staff_work_pattern"
    __table_args__ = (UniqueConstraint("staff_id", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    work_pattern_id: Mapped[int] = mapped_column(ForeignKey("work_pattern.id"))
    effective_from: Mapped[date]
    effective_until: Mapped[date | None] = mapped_column(default=None)


class DayOverride(Base, TimestampMixin):
    """A day type set for one staff member (or everyone when staff_id is null).

    週休日の振替 is two rows: the 週休日 that becomes a 勤務日 and the 勤務日 that becomes a
    週休日 (kind ``furikae``); a 代休日 is one row with day_type ``compensatory``."""

    __tablename__ = "day_override"
    __table_args__ = (UniqueConstraint("staff_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"),
                                                 default=None)
    day: Mapped[date] = mapped_column(index=True)
    day_type: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20), default="furikae")  # furikae | daikyu | other
    linked_day: Mapped[date | None] = mapped_column(default=None)
    note: Mapped[str | None] = mapped_column(String(200), default=None)


class AttendanceCorrection(Base, TimestampMixin):
    """A correction of the day's 出勤 or 退勤: a separate record, never an edit of the punch."""

    __tablename__ = "attendance_correction"
    __table_args__ = (Index("ix_attendance_correction_staff_day", "staff_id", "business_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    business_date: Mapped[date]
    kind: Mapped[str] = mapped_column(String(3))  # in | out
    corrected_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    approver: Mapped[str | None] = mapped_column(String(100), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)


class DepartmentSupervisor(Base):
    """The supervisor (所属長) of a 課, who approves overtime and confirms 乖離 reasons."""

    __tablename__ = "department_supervisor"
    __table_args__ = (UniqueConstraint("department_id", "staff_id", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id", ondelete="CASCADE"),
                                               index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    effective_from: Mapped[date]
    effective_until: Mapped[date | None] = mapped_column(default=None)


class AttendanceFrozenMonth(Base):
    """A staff-month as a final export showed it (its day lines, keyed by ISO date).

    Exported months never change silently: later differences become amendments."""

    __tablename__ = "attendance_frozen_month"
    __table_args__ = (UniqueConstraint("staff_id", "month_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    month_start: Mapped[date] = mapped_column(index=True)
    export_run_id: Mapped[int] = mapped_column(ForeignKey("export_run.id"))
    frozen_at: Mapped[datetime] = mapped_column(default=utcnow)
    lines: Mapped[dict[str, Any]] = mapped_column(JSON)


class AttendanceAmendment(Base):
    """A difference found after a month was frozen; carried in the next export (訂正)."""

    __tablename__ = "attendance_amendment"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    business_date: Mapped[date]
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    exported_line: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    current_line: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    carried_by_run_id: Mapped[int | None] = mapped_column(ForeignKey("export_run.id"),
                                                          default=None)


LEAVE_KINDS = ("annual", "special", "sick")  # 年次休暇, 特別休暇, 病気休暇
LEAVE_UNITS = ("day", "am", "pm", "hours")  # 1日, 午前, 午後, 時間


class Leave(Base, TimestampMixin):
    """A day, half-day or hours of leave (休暇), imported from the 庶務事務 system that owns it
    or entered by HR. ``start_time``/``end_time`` are set for hour leave only."""

    __tablename__ = "attendance_leave"
    __table_args__ = (Index("ix_attendance_leave_staff_day", "staff_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    day: Mapped[date]
    kind: Mapped[str] = mapped_column(String(10))
    unit: Mapped[str] = mapped_column(String(10))
    start_time: Mapped[time | None] = mapped_column(default=None)
    end_time: Mapped[time | None] = mapped_column(default=None)
    source: Mapped[str] = mapped_column(String(10))  # import | hr
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    created_by: Mapped[str] = mapped_column(String(100))


class StaffCharSubstitute(Base, TimestampMixin):
    """A registered 代替文字 for one staff member's name, used where an export encoding lacks
    the character (e.g. 𠮷 → 吉 in CP932)."""

    __tablename__ = "staff_char_substitute"
    __table_args__ = (UniqueConstraint("staff_id", "original"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    original: Mapped[str] = mapped_column(String(16))
    substitute: Mapped[str] = mapped_column(String(16))
