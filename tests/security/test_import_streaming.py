"""Finding 9 of issue 9: import bodies are streamed into a spooled file (bounded memory),
parsed from it one line at a time (the rest of the file is never read past the row limit),
and the byte limit and the admin token are enforced before the body has been read in full."""

from __future__ import annotations

import asyncio
import io
import json
import tracemalloc

import pytest
from starlette.requests import Request
from starlette.types import Message

from api.csv_import import (
    MAX_IMPORTS_IN_FLIGHT,
    MAX_ROWS,
    SPOOL_MEMORY,
    ImportTooLarge,
    csv_rows,
    spooled_body,
)
from api.errors import TooManyRequests
from api.limits import MIB, limit_for
from tests.security.test_body_limits import _raw_request

IMPORTS = ("/api/v1/bookings/import", "/admin/overtime/orders/import",
           "/admin/attendance/leave/import")
CHUNK = 64 * 1024


def _request(total: int, app: object = None) -> Request:
    """A real Starlette request whose body arrives in 64 KiB chunks, as uvicorn delivers it."""
    left = total

    async def receive() -> Message:
        nonlocal left
        size = min(CHUNK, left)
        left -= size
        return {"type": "http.request", "body": b"x" * size, "more_body": left > 0}

    return Request({"type": "http", "method": "POST", "path": "/", "headers": [], "app": app},
                   receive)


def test_a_spooled_body_keeps_at_most_the_spool_size_in_memory(app):
    total = 8 * MIB

    async def spool() -> tuple[int, int]:
        body = spooled_body(_request(total, app))
        tracemalloc.start()
        try:
            file = await body.__anext__()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        size = len(file.read())  # read back only to check nothing was lost
        await body.aclose()
        return peak, size

    peak, size = asyncio.run(spool())
    assert size == total
    # The memory part and one rollover copy of it; reading the body whole would take 8 MiB.
    assert peak < 3 * SPOOL_MEMORY, peak


def test_rows_past_the_limit_are_refused_without_reading_the_rest_of_the_file():
    file = io.BytesIO(b"head\n" + b"row\n" * (MAX_ROWS * 5))
    rows = csv_rows(file)
    with pytest.raises(ImportTooLarge) as err:
        for _ in rows:
            pass
    assert err.value.extra == {"line": MAX_ROWS + 2, "max_rows": MAX_ROWS}
    assert file.tell() < len(file.getvalue()) / 4  # parsed from the file, not loaded whole


@pytest.mark.parametrize("path", IMPORTS)
def test_an_import_body_is_stopped_past_10_mib_before_its_end(live_server, admin_token, path):
    """A chunked body, never finished: the service answers 413 once it passes 10 MiB."""
    assert limit_for(path).max_bytes == 10 * MIB
    framed = f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n"
    status, headers, body = _raw_request(live_server.port, (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
        f"Authorization: Bearer {admin_token}\r\nTransfer-Encoding: chunked\r\n\r\n"),
        [framed] * (10 * MIB // CHUNK + 2))
    assert status == 413
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["max_bytes"] == 10 * MIB


@pytest.mark.parametrize("path", IMPORTS)
def test_an_import_without_a_token_is_refused_before_its_body_is_read(live_server, path):
    """One chunk of a body that never ends: the 401 comes without waiting for the rest."""
    framed = f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n"
    status, headers, _body = _raw_request(live_server.port, (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"), [framed])
    assert status == 401 and headers["content-type"] == "application/problem+json"


def test_at_most_two_imports_run_at_once_and_the_next_is_told_when_to_retry(app):
    """Each running import holds a database connection: past the bound the next one is a
    429 with its retry time (before its parse), and a finished import frees its slot."""
    async def run() -> None:
        running = [spooled_body(_request(1000, app)) for _ in range(MAX_IMPORTS_IN_FLIGHT)]
        for body in running:
            await body.__anext__()
        extra = spooled_body(_request(1000, app))
        with pytest.raises(TooManyRequests) as err:
            await extra.__anext__()
        assert err.value.extra == {"retry_after": 5}
        await running[0].aclose()
        again = spooled_body(_request(1000, app))
        assert len((await again.__anext__()).read()) == 1000
        for body in (again, *running[1:]):
            await body.aclose()

    asyncio.run(run())
