"""The dates CI moves the clock to, always after today: ``python -m tests.clock_dates`` prints
one ``name<TAB>ISO datetime`` line each.

- 3 years ahead; the fiscal-year end (03-31 23:59 JST); 12-31 23:59 JST; a 29 February;
  a Monday national holiday; 04:59 and 05:01 JST either side of the business-day change (on the
  1st of a month, so the business month changes with it).
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import jpholiday

JST = ZoneInfo("Asia/Tokyo")


def _at(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), JST)


def next_month_day(today: date, month: int, day: int) -> date:
    """The first ``month``-``day`` after ``today`` (29 February: the next leap year's)."""
    year = today.year
    while True:
        try:
            candidate = date(year, month, day)
        except ValueError:
            candidate = None
        if candidate is not None and candidate > today:
            return candidate
        year += 1


def next_monday_holiday(today: date) -> date:
    """The first national holiday after ``today`` that falls on a Monday."""
    day = today + timedelta(days=7 - today.weekday())
    while not jpholiday.is_holiday(day):
        day += timedelta(days=7)
    return day


def three_years_ahead(today: date) -> date:
    try:
        return today.replace(year=today.year + 3)
    except ValueError:  # 29 February
        return today.replace(year=today.year + 3, day=28)


def ci_dates(today: date) -> list[tuple[str, datetime]]:
    """The moved clocks of CI, each after ``today``."""
    first_of_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    return [
        ("3-years-ahead", _at(three_years_ahead(today), 10, 0)),
        ("fiscal-year-end", _at(next_month_day(today, 3, 31), 23, 59)),
        ("year-end", _at(next_month_day(today, 12, 31), 23, 59)),
        ("leap-day", _at(next_month_day(today, 2, 29), 12, 0)),
        ("monday-holiday", _at(next_monday_holiday(today), 10, 0)),
        ("before-day-change", _at(first_of_month, 4, 59)),
        ("after-day-change", _at(first_of_month, 5, 1)),
    ]


if __name__ == "__main__":
    for name, when in ci_dates(datetime.now(UTC).astimezone(JST).date()):
        sys.stdout.write(f"{name}\t{when.isoformat()}\n")
