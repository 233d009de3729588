"""The holiday calendar: national holidays (jpholiday), the municipal 年末年始 closure
(12/29–1/3 by default) and extra municipal closed days from the ``closed_day`` table."""

from __future__ import annotations

from datetime import date, timedelta

import jpholiday
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import ClosedDay

NEW_YEAR_CLOSURE = ((12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3))


def national_holidays(start: date, end: date) -> dict[date, str]:
    """祝日法 holidays (振替休日 and 国民の休日 included) between start and end, inclusive."""
    out: dict[date, str] = {}
    for year in range(start.year, end.year + 1):
        for day, name in jpholiday.year_holidays(year):
            if start <= day <= end:
                out[day] = name
    return out


def closed_days(session: Session | None, start: date, end: date) -> dict[date, str]:
    """Every day in [start, end] on which the town hall is closed, with its name."""
    out = national_holidays(start, end)
    day = start
    while day <= end:
        if (day.month, day.day) in NEW_YEAR_CLOSURE:
            out.setdefault(day, "年末年始")
        day += timedelta(days=1)
    if session is not None:
        rows = session.execute(
            select(ClosedDay).where(ClosedDay.day >= start, ClosedDay.day <= end)
        ).scalars()
        for row in rows:
            out[row.day] = row.name
    return out
