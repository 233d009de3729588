"""Bounded integer types shared by the schemas and endpoints of every domain.

Every integer of a request fits the database's signed 64-bit column: a larger one answers 422
naming the field instead of overflowing in the driver (a 500). Use ``Int64`` for any integer
field or parameter, ``Id`` for row ids, ``Cursor`` for paging cursors and ``Int32`` for a
value stored in a 32-bit column.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from annotated_types import Interval
from pydantic import AwareDatetime

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

Int64 = Annotated[int, Interval(ge=INT64_MIN, le=INT64_MAX)]
# For the columns that are 32-bit (plain ``Mapped[int]`` columns that are not ids).
Int32 = Annotated[int, Interval(ge=INT32_MIN, le=INT32_MAX)]
Id = Annotated[int, Interval(ge=1, le=INT64_MAX)]
Cursor = Annotated[int, Interval(ge=0, le=INT64_MAX)]

# Days and instants of the service's business (bookings, attendance days, 発令): 2000–2100.
# Outside it a date makes no sense here, and would overflow the slot and day arithmetic
# (a booking before 1970 has a negative PIN slot): 422 naming the field.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
BusinessDate = Annotated[date, Interval(ge=FIRST_DAY, le=LAST_DAY)]
BusinessTime = Annotated[AwareDatetime, Interval(
    ge=datetime(2000, 1, 1, tzinfo=UTC), lt=datetime(2101, 1, 1, tzinfo=UTC))]



def clamp_int32(value: int) -> int:
    """A measured value (an offset) stored in a 32-bit column: saturated, never overflowing."""
    return max(INT32_MIN, min(INT32_MAX, value))


__all__ = ["FIRST_DAY", "INT32_MAX", "INT32_MIN", "INT64_MAX", "INT64_MIN", "LAST_DAY",
           "BusinessDate", "BusinessTime", "Cursor", "Id", "Int32", "Int64", "clamp_int32"]
