"""ServiceClient: signed requests per docs/device-protocol.md, error mapping, clock offset."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.signing import request_signing_string
from reader_agent.client import (
    ServiceClient,
    ServiceRejected,
    ServiceUnavailable,
    Unauthorized,
    format_time,
)

DEV = "6f1c2b8e-0000-4000-8000-000000000001"


class Verifier:
    """A stand-in service that checks every header the way the protocol says."""

    def __init__(self, key: Ed25519PrivateKey, server_skew: timedelta = timedelta(0)) -> None:
        self.pub = key.public_key()
        self.skew = server_skew
        self.nonces: set[str] = set()
        self.seen: list[httpx.Request] = []

    def server_now(self) -> datetime:
        return datetime.now(UTC) + self.skew

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        h = request.headers
        assert h["X-Mynagate-Device"] == DEV
        ts, nonce = h["X-Mynagate-Timestamp"], h["X-Mynagate-Nonce"]
        assert len(nonce) == 32 and nonce not in self.nonces
        self.nonces.add(nonce)
        msg = request_signing_string(request.method, request.url.raw_path.decode(), ts, nonce,
                                     request.content)
        self.pub.verify(base64.b64decode(h["X-Mynagate-Signature"]), msg)
        if abs(int(ts) - self.server_now().timestamp()) > 300:
            return httpx.Response(401, json={"title": "clock skew",
                                             "server_time": format_time(self.server_now())})
        if request.url.path.endswith("/heartbeat"):
            return httpx.Response(200, json={"server_time": format_time(self.server_now()),
                                             "clock_offset_ms": 0, "snapshot_version": 1,
                                             "skew_alarm": False})
        if request.url.path.endswith("/events"):
            events = json.loads(request.content)["events"]
            if not events:
                return httpx.Response(422, json={"title": "bad input", "detail": "events empty"})
            return httpx.Response(200, json={"accepted": len(events), "duplicates": 0,
                                             "acked_through_seq": events[-1]["seq"],
                                             "gaps": [], "chain_ok": True})
        if request.url.path.endswith("/snapshot"):
            return httpx.Response(200, json={"q": request.url.query.decode()})
        return httpx.Response(503)


def test_requests_are_signed_and_nonces_fresh():
    key = Ed25519PrivateKey.generate()
    svc = Verifier(key)
    c = ServiceClient("http://svc", DEV, key, httpx.MockTransport(svc))
    assert c.post_events([{"seq": 1}])["accepted"] == 1
    assert c.snapshot(since=7) == {"q": "compact=true&since=7"}  # signed with the query
    c.heartbeat(outbox_pending=0)
    assert len(svc.nonces) == 3


def test_clock_offset_from_heartbeat_and_skew_retry():
    key = Ed25519PrivateKey.generate()
    svc = Verifier(key, server_skew=timedelta(minutes=10))  # our clock is 10 min behind
    c = ServiceClient("http://svc", DEV, key, httpx.MockTransport(svc))
    # First request is 10 min off: 401 with server_time, the client corrects and retries once.
    assert c.post_events([{"seq": 1}])["accepted"] == 1
    assert abs(c.clock_offset_ms - 600_000) < 2000
    c.heartbeat()
    assert abs(c.clock_offset_ms - 600_000) < 500
    assert abs((c.corrected_now() - svc.server_now()).total_seconds()) < 1


def test_error_mapping():
    key = Ed25519PrivateKey.generate()
    c = ServiceClient("http://svc", DEV, key, httpx.MockTransport(Verifier(key)))
    with pytest.raises(ServiceRejected) as exc:
        c.post_events([])
    assert exc.value.status == 422 and exc.value.problem["detail"] == "events empty"
    with pytest.raises(ServiceUnavailable):
        c.snapshot_wait(1, 1)  # 503

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    c.set_transport(httpx.MockTransport(refuse))
    with pytest.raises(ServiceUnavailable):
        c.heartbeat()

    def deny(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"title": "device revoked"})

    c.set_transport(httpx.MockTransport(deny))
    with pytest.raises(Unauthorized):
        c.snapshot()
