"""What the CSV imports share (the booking CSV, the 庶務事務 overtime orders and leave): the
body streamed into a spooled temporary file, rows decoded and parsed one line at a time from
it, a row limit and a line-length limit, formula cells refused, and at most the first
:data:`MAX_REPORTED_ERRORS` errors reported with their count.

``ImportBody`` is the one ``async`` step: it reads the request stream chunk by chunk into a
``SpooledTemporaryFile`` (the first :data:`SPOOL_MEMORY` bytes in memory, the rest on disk,
written from the thread pool); ``api.limits.BodyLimitMiddleware`` stops the stream with 413
as soon as it passes the route's byte limit. The endpoints are sync ``def`` (thread pool), so
parsing and the database work never block the event loop.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from tempfile import SpooledTemporaryFile
from typing import IO, Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from api.errors import BadRequest, MynagateError, TooManyRequests
from api.limits import KIB, MIB

__all__ = ["FORMULA_MESSAGE", "FORMULA_START", "MAX_LINE_BYTES", "MAX_REPORTED_ERRORS",
           "MAX_IMPORTS_IN_FLIGHT", "MAX_ROWS", "SPOOL_MEMORY", "ImportBody", "ImportTooLarge", "RowErrors", "csv_rows", "headed_rows",
           "formula_columns", "spooled_body"]

MAX_ROWS = 20_000
MAX_REPORTED_ERRORS = 100
# A physical line of any import is far shorter; a longer one is refused before it is decoded.
MAX_LINE_BYTES = 64 * KIB
# The part of an import body kept in memory; the rest of it (up to the route's byte limit)
# goes to a temporary file.
SPOOL_MEMORY = 1 * MIB
# Imports parsed at once per service process: each holds a database connection while it runs,
# so a burst of imports can never take the pool from every other route (finding 2).
MAX_IMPORTS_IN_FLIGHT = 2
IMPORT_RETRY_AFTER_S = 5
# What a spreadsheet would run as a formula (the exports neutralise the same starts).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMULA_MESSAGE = ("starts like a spreadsheet formula (=, +, -, @, tab or CR); a spreadsheet "
                   "would run it: remove that first character")


class ImportTooLarge(MynagateError):
    """413: the file passes the row limit or a line the line-length limit (names the line)."""

    status, title = 413, "Content too large"


class RowErrors:
    """The line errors of an import: all counted, the first :data:`MAX_REPORTED_ERRORS` kept."""

    def __init__(self) -> None:
        self.first: list[dict[str, Any]] = []
        self.count = 0

    def add(self, line: int, field: str, message: str) -> None:
        self.count += 1
        if len(self.first) < MAX_REPORTED_ERRORS:
            self.first.append({"line": line, "field": field, "message": message})

    def __bool__(self) -> bool:
        return self.count > 0

    def rejected(self, detail: str) -> BadRequest:
        """400, nothing imported: the first errors and their count (``error_count``)."""
        return BadRequest(detail, field="file", errors=self.first, error_count=self.count)


def _to_disk(spool: SpooledTemporaryFile[bytes], chunk: bytes) -> None:
    spool.rollover()  # a no-op once on disk; never lets one big chunk grow the memory part
    spool.write(chunk)


_create_lock = threading.Lock()


def _import_slots(request: Request) -> threading.BoundedSemaphore:
    """The app's import slots, made on first use (an import-only app state)."""
    slots: threading.BoundedSemaphore | None = getattr(request.app.state, "import_slots", None)
    if slots is None:
        with _create_lock:
            slots = getattr(request.app.state, "import_slots", None)
            if slots is None:
                slots = threading.BoundedSemaphore(MAX_IMPORTS_IN_FLIGHT)
                request.app.state.import_slots = slots
    return slots


async def spooled_body(request: Request) -> AsyncIterator[IO[bytes]]:
    """FastAPI dependency: the request body, streamed into a spooled temporary file (closed
    after the request), positioned at its start. Only memory writes happen on the loop. Once
    the body is in, the import takes one of :data:`MAX_IMPORTS_IN_FLIGHT` slots for the rest of
    the request, or answers 429 at once (a slow sender holds no slot)."""
    spool: SpooledTemporaryFile[bytes] = SpooledTemporaryFile(max_size=SPOOL_MEMORY)
    try:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > SPOOL_MEMORY:
                await run_in_threadpool(_to_disk, spool, chunk)
            else:
                spool.write(chunk)
        await run_in_threadpool(spool.seek, 0)
        slots = _import_slots(request)
        if not slots.acquire(blocking=False):
            raise TooManyRequests(f"{MAX_IMPORTS_IN_FLIGHT} imports are running already; retry "
                                  f"after {IMPORT_RETRY_AFTER_S} s",
                                  retry_after=IMPORT_RETRY_AFTER_S)
        try:
            yield spool
        finally:
            slots.release()
    finally:
        spool.close()


ImportBody = Annotated[IO[bytes], Depends(spooled_body)]


def _lines(file: IO[bytes], encoding: str, label: str) -> Iterator[str]:
    """Decode one physical line at a time (CP932 and UTF-8 never use 0x0A inside a
    character), so an undecodable byte is reported with its line; a line is never read past
    :data:`MAX_LINE_BYTES`."""
    n = 0
    while line := file.readline(MAX_LINE_BYTES + 1):
        n += 1
        if len(line) > MAX_LINE_BYTES:
            raise ImportTooLarge(f"line {n}: longer than {MAX_LINE_BYTES} bytes", field="file",
                                 line=n, max_line_bytes=MAX_LINE_BYTES)
        try:
            yield line.decode(encoding)
        except UnicodeDecodeError as err:
            raise BadRequest(f"line {n}: the file is not {label} (byte {err.start + 1} of the "
                             "line)", field="file", line=n) from None


def csv_rows(file: IO[bytes], *, encoding: str = "utf-8-sig", label: str = "UTF-8",
             max_rows: int = MAX_ROWS) -> Iterator[tuple[int, list[str]]]:
    """``(line number, cells)`` of every non-blank row of ``file``, the header first, read
    one line at a time; 413 naming the line as soon as the file has more than ``max_rows``
    data rows (the rest of the file is never read)."""
    reader = csv.reader(_lines(file, encoding, label))
    rows = -1  # the header is not a data row
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:  # a field past csv's own size limit, an unclosed quote
            raise BadRequest(f"line {reader.line_num}: not valid CSV ({err})", field="file",
                             line=reader.line_num) from None
        if not any(cell.strip() for cell in row):
            continue
        rows += 1
        if rows > max_rows:
            raise ImportTooLarge(f"line {reader.line_num}: more than {max_rows} rows; split "
                                 "the file", field="file", line=reader.line_num,
                                 max_rows=max_rows)
        yield reader.line_num, row


def headed_rows(file: IO[bytes], columns: Sequence[str], *, encoding: str,
                label: str) -> Iterator[tuple[int, list[str]]]:
    """The data rows of ``file`` (as :func:`csv_rows`) once its first line is checked to be
    the header ``columns`` (400 naming line 1 otherwise)."""
    lines = csv_rows(file, encoding=encoding, label=label)
    _n, header = next(lines, (1, None))
    if header is None or [h.strip() for h in header[:len(columns)]] != list(columns):
        raise BadRequest(f"1行目は見出し {','.join(columns)} が必要です", field="header", line=1)
    return lines


def formula_columns(row: Sequence[str], names: Sequence[str | None]) -> list[str]:
    """The names of the cells of ``row`` that a spreadsheet would run as a formula."""
    return [(names[i] if i < len(names) else None) or f"column {i + 1}"
            for i, cell in enumerate(row)
            if cell.startswith(FORMULA_START) or cell.strip().startswith(FORMULA_START)]
