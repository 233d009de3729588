"""The business day (業務日): the one definition, used by clock points, door policy and attendance.

A business day starts at ``day_change`` local time (05:00 by default) and lasts until the next
day's change, so a tap at 01:30 belongs to the previous day. Pure: the time zone and the change
are passed in, and every moment must be timezone-aware.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["DEFAULT_DAY_CHANGE", "JST", "BusinessDay"]

JST = ZoneInfo("Asia/Tokyo")
DEFAULT_DAY_CHANGE = time(5, 0)


@dataclass(frozen=True)
class BusinessDay:
    """Where business days start and end in one time zone."""

    tz: ZoneInfo = JST
    day_change: time = DEFAULT_DAY_CHANGE

    def __post_init__(self) -> None:
        if self.day_change.tzinfo is not None or self.day_change.second \
                or self.day_change.microsecond:
            raise ValueError("day_change is a naive local time in whole minutes")

    @property
    def change_minutes(self) -> int:
        """The day change in minutes after local midnight (05:00 → 300)."""
        return self.day_change.hour * 60 + self.day_change.minute

    def date_of(self, at: datetime) -> date:
        """The business day a moment belongs to: local date, shifted back before the change."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("at must be timezone-aware")
        local = at.astimezone(self.tz)
        return (local - timedelta(minutes=self.change_minutes)).date()

    def start(self, day: date) -> datetime:
        """The aware moment business day ``day`` begins (its day change, local)."""
        return datetime.combine(day, self.day_change, tzinfo=self.tz)

    def end(self, day: date) -> datetime:
        """The moment the next business day begins."""
        return self.start(day + timedelta(days=1))
