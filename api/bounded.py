"""Bounded integer types shared by the schemas and endpoints of every domain.

Every integer of a request fits the database's signed 64-bit column: a larger one answers 422
naming the field instead of overflowing in the driver (a 500). Use ``Int64`` for any integer
field or parameter, ``Id`` for row ids and ``Cursor`` for paging cursors.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

Int64 = Annotated[int, Interval(ge=INT64_MIN, le=INT64_MAX)]
Id = Annotated[int, Interval(ge=1, le=INT64_MAX)]
Cursor = Annotated[int, Interval(ge=0, le=INT64_MAX)]

__all__ = ["INT64_MAX", "INT64_MIN", "Cursor", "Id", "Int64"]
