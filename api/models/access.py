"""Access groups, schedules, municipal closed days and permissions (group × door × schedule)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, TimestampMixin


class AccessGroup(Base, TimestampMixin):
    __tablename__ = "access_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class AccessGroupMember(Base):
    __tablename__ = "access_group_member"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("access_group.id", ondelete="CASCADE"), primary_key=True
    )
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)


class Schedule(Base, TimestampMixin):
    __tablename__ = "schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # Whether the windows also apply on 休日 and municipal closed days.
    allow_closed_days: Mapped[bool] = mapped_column(default=False)

    windows: Mapped[list[ScheduleWindow]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="ScheduleWindow.id"
    )


class ScheduleWindow(Base):
    __tablename__ = "schedule_window"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday_range"),
        CheckConstraint(
            "start_minute >= 0 AND start_minute < end_minute AND end_minute <= 1440",
            name="minute_range",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedule.id", ondelete="CASCADE"))
    weekday: Mapped[int]
    start_minute: Mapped[int]
    end_minute: Mapped[int]


class ClosedDay(Base):
    """A municipal closed day on top of the national holidays (which come from jpholiday)."""

    __tablename__ = "closed_day"

    day: Mapped[date] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Permission(Base, TimestampMixin):
    __tablename__ = "permission"
    __table_args__ = (UniqueConstraint("group_id", "door_id", "schedule_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("access_group.id", ondelete="CASCADE"))
    door_id: Mapped[int] = mapped_column(ForeignKey("door.id", ondelete="CASCADE"))
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedule.id"))
