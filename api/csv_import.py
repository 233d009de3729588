"""What the CSV imports share (the booking CSV, the 庶務事務 overtime orders): the body read off
the event loop, rows decoded and parsed one line at a time, a row limit, formula cells
refused, and at most the first :data:`MAX_REPORTED_ERRORS` errors reported with their count.

The request body is read by ``api.limits.RawBody`` and bounded by the per-route body limit; the endpoints are sync ``def``
(run in the thread pool), so parsing and the database work never block the event loop.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from typing import Any

from api.errors import BadRequest

__all__ = ["FORMULA_MESSAGE", "FORMULA_START", "MAX_REPORTED_ERRORS", "MAX_ROWS", "csv_rows",
           "formula_columns", "rejected"]

MAX_ROWS = 20_000
MAX_REPORTED_ERRORS = 100
# What a spreadsheet would run as a formula (the exports neutralise the same starts).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMULA_MESSAGE = ("starts like a spreadsheet formula (=, +, -, @, tab or CR); a spreadsheet "
                   "would run it: remove that first character")


def rejected(detail: str, errors: Sequence[dict[str, Any]]) -> BadRequest:
    """400, nothing imported: the first :data:`MAX_REPORTED_ERRORS` errors and their count."""
    return BadRequest(detail, field="file", errors=list(errors[:MAX_REPORTED_ERRORS]),
                      error_count=len(errors))


def _lines(raw: bytes, encoding: str, label: str) -> Iterator[str]:
    """Decode one line at a time (CP932 and UTF-8 never use 0x0A inside a character), so an
    undecodable byte is reported with its line."""
    for n, line in enumerate(io.BytesIO(raw), start=1):
        try:
            yield line.decode(encoding)
        except UnicodeDecodeError as err:
            raise BadRequest(f"line {n}: the file is not {label} (byte {err.start + 1} of the "
                             "line)", field="file", line=n) from None


def csv_rows(raw: bytes, *, encoding: str = "utf-8-sig", label: str = "UTF-8",
             max_rows: int = MAX_ROWS) -> Iterator[tuple[int, list[str]]]:
    """``(line number, cells)`` of every non-blank row, the header first; 400 naming the line
    as soon as the file has more than ``max_rows`` data rows."""
    reader = csv.reader(_lines(raw, encoding, label))
    rows = -1  # the header is not a data row
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        rows += 1
        if rows > max_rows:
            raise BadRequest(f"line {reader.line_num}: more than {max_rows} rows; split the "
                             "file", field="file", line=reader.line_num, max_rows=max_rows)
        yield reader.line_num, row


def formula_columns(row: Sequence[str], names: Sequence[str | None]) -> list[str]:
    """The names of the cells of ``row`` that a spreadsheet would run as a formula."""
    return [(names[i] if i < len(names) else None) or f"column {i + 1}"
            for i, cell in enumerate(row)
            if cell.startswith(FORMULA_START) or cell.strip().startswith(FORMULA_START)]
