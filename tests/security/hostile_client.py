"""A separate process that keeps 100 hostile requests in flight against a service (loopback
only, a bounded number of rounds). Prints one JSON line: when every client was under way,
when the first one finished, the status codes it got, and the requests closed without an
answer (counted, not raised: one lost connection must not hide the rest of the run)."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import httpx

HOSTILE = 100


def hostile(i: int, admin_token: str) -> tuple[str, bytes, dict[str, str]]:
    """One of four kinds of hostile request, each near the size its route allows."""
    now = str(int(time.time()))
    match i % 4:
        case 0:  # an unsigned lock poll (was: a database read before the signature check)
            return "/api/v1/locks/aso-gym-01/poll", b"{" + b" " * 16_000 + b"}", {
                "X-Lock-Timestamp": now, "X-Lock-Nonce": "ab" * 16,
                "X-Lock-Signature": "00" * 32}
        case 1:  # a forged webhook
            return "/api/v1/bookings/webhook", b'{"event": "booking.paid"' + b" " * 60_000 + \
                b"}", {"X-Mynagate-Timestamp": now, "X-Mynagate-Signature": "00" * 32}
        case 2:  # an admin CSV import of junk (parsed in the thread pool)
            rows = b"".join(b"x,%d,junk,2026-13-45,\n" % n for n in range(20_000))
            return "/api/v1/bookings/import", rows, {
                "Authorization": f"Bearer {admin_token}", "Content-Type": "text/csv"}
        case _:  # an unsigned device event batch
            return "/device/v1/events", b'{"events": []' + b" " * 200_000 + b"}", {
                "Content-Type": "application/json"}


async def attack(url: str, admin_token: str, rounds: int) -> dict[str, object]:
    started = 0
    first_done: float | None = None
    statuses: dict[int, int] = {}
    dropped: dict[str, int] = {}  # requests the service closed without an answer, by error
    all_started = asyncio.Event()
    async with httpx.AsyncClient(base_url=url, timeout=120,
                                 limits=httpx.Limits(max_connections=HOSTILE + 10)) as http:
        async def client(i: int) -> None:
            nonlocal started, first_done
            path, body, headers = hostile(i, admin_token)
            started += 1
            if started == HOSTILE:
                all_started.set()
            for _ in range(rounds):
                try:
                    r = await http.post(path, content=body, headers=headers)
                except httpx.TransportError as err:  # e.g. a 413 answered mid-body, then closed
                    kind = type(err).__name__
                    dropped[kind] = dropped.get(kind, 0) + 1
                    continue
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if first_done is None:
                first_done = time.monotonic()

        tasks = [asyncio.create_task(client(i)) for i in range(HOSTILE)]
        await all_started.wait()
        under_way = time.monotonic()
        print(json.dumps({"under_way": under_way}), flush=True)
        await asyncio.gather(*tasks)
    return {"first_done": first_done, "statuses": statuses, "dropped": dropped}


if __name__ == "__main__":
    result = asyncio.run(attack(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    print(json.dumps(result), flush=True)
