"""Finding 3 of issue 9: bodies are bounded while they are read, event data per kind."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from api import limits
from api.limits import BODY_LIMITS, MIB, limit_for
from tests.device_protocol.signer import World, enroll, make_events

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def _raw_request(port: int, head: str, chunks: list[bytes] = ()) -> tuple[int, dict, bytes]:  # type: ignore[assignment]
    """Send a request head and some body chunks on a raw socket, then read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: that is the point
        data = b""
        while b"\r\n\r\n" not in data:
            part = sock.recv(65536)
            if not part:
                break
            data += part
        head_raw, _, rest = data.partition(b"\r\n\r\n")
        lines = head_raw.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
        while len(rest) < int(headers.get("content-length", "0")):
            part = sock.recv(65536)
            if not part:
                break
            rest += part
        return int(lines[0].split()[1]), headers, rest


def test_declared_300_mb_event_body_is_refused_before_any_byte_is_read(live_server):
    status, headers, body = _raw_request(live_server.port, (
        "POST /device/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {300 * MIB}\r\n\r\n"))
    assert status == 413
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == 413 and problem["max_bytes"] == 4 * MIB


def _closed_cleanly(sock: socket.socket) -> bool:
    """After the answer: the server's close is a FIN (b""), not a reset."""
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return False


def test_a_refused_body_of_known_length_is_read_so_the_answer_survives(live_server):
    # Closing with the body unread resets the connection, which can destroy the 413 before
    # a proxy reads it (nginx then answers 502): the body is dropped first, then the close is clean.
    body = b"x" * (200 * 1024)
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
            sock.sendall((f"POST /device/v1/heartbeat HTTP/1.1\r\nHost: x\r\nContent-Type: "
                          f"application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode())
            sock.sendall(body)
            data = b""
            while b"max_bytes" not in data:
                part = sock.recv(65536)
                assert part, data
                data += part
            assert data.startswith(b"HTTP/1.1 413 ")
            time.sleep(0.05)
            assert _closed_cleanly(sock)


def test_a_body_announced_but_never_sent_still_gets_its_413(live_server, monkeypatch):
    monkeypatch.setattr(limits, "DRAIN_S", 0.3)
    status, _, body = _raw_request(live_server.port, (
        "POST /device/v1/heartbeat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {100 * 1024}\r\n\r\n"), [b"x" * 10])
    assert status == 413 and json.loads(body)["max_bytes"] == 4096


def test_chunked_body_is_stopped_once_past_the_limit_without_its_end(live_server):
    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    # 80 KiB past the webhook's 64 KiB, and never the final 0-length chunk.
    status, headers, body = _raw_request(live_server.port, (
        "POST /api/v1/bookings/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
        "\r\nTransfer-Encoding: chunked\r\n\r\n"), [framed, framed])
    assert status == 413
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["max_bytes"] == 64 * 1024


@pytest.mark.parametrize(("path", "limit"), [
    ("/device/v1/enroll", 4096), ("/device/v1/heartbeat", 4096),
    ("/api/v1/locks/box-1/poll", 16 * 1024), ("/api/v1/bookings/webhook", 64 * 1024),
    ("/admin/staff", 256 * 1024), ("/admin/enrollments", 64 * 1024),
])
def test_each_route_answers_413_one_byte_past_its_limit(client, path: str, limit: int):
    assert limit_for(path).max_bytes == limit
    r = client.post(path, content=b"{" + b" " * limit + b"}",
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["max_bytes"] == limit


def test_a_body_within_the_limit_is_read_normally(client):
    r = client.post("/device/v1/enroll", json={"enrollment_token": "x" * 20,
                                               "public_key": "A" * 44})
    assert r.status_code == 401  # past the limit check, refused by the token


def _post_one(admin, data: dict, kind: str = "door_state"):  # type: ignore[no-untyped-def]
    dev, _ = enroll(admin)
    return dev.post_events(make_events(1, kind=kind, data=data))


def test_event_data_of_50_kb_is_refused_naming_the_field(admin):
    r = _post_one(admin, {"state": "closed", "note": "x" * 50_000})
    assert r.status_code == 422
    assert r.json()["field"] == "events[0].data" and "2048" in r.json()["detail"]


@pytest.mark.parametrize(("kind", "data", "word"), [
    ("door_state", {"state": "ajar"}, "data.state"),
    ("door_state", {}, "data.state"),
    ("clock_punch", {"business_date": "2026-11-27"}, "data.punch"),
    ("clock_punch", {"punch": "in", "business_date": "not a date"}, "data.business_date"),
    ("alarm", {"active": True}, "data.alarm"),
    ("tap", {"apdus": "many"}, "data.apdus"),
    ("tap", {"a": {"b": {"c": {"d": 1}}}}, "nested"),
    ("tap", {f"k{i}": i for i in range(40)}, "keys"),
])
def test_event_data_is_checked_per_kind(admin, kind: str, data: dict, word: str):
    r = _post_one(admin, data, kind)
    assert r.status_code == 422, r.text
    assert word in r.json()["detail"]


def test_event_data_the_agent_sends_passes(admin, database):
    world = World(database)
    dev, _ = enroll(admin, door_ids=[world.archive.id])
    ev = make_events(1, kind="alarm", data={"alarm": "clock_skew", "active": True,
                                            "offset_ms": 9000, "threshold_ms": 5000})
    ev += make_events(1, start_seq=2, prev_hash=ev[0]["hash"], kind="tap",
                      door_id=world.archive.id, granted=False, reason="no_permission",
                      data={"auth": "staff_ap", "offline": False, "snapshot_version": 3,
                            "reader": "r1", "apdus": 4, "transport_ms": 12.5,
                            "card_ms": 30.1, "future_key": "kept"})
    r = dev.post_events(ev)
    assert r.status_code == 200 and r.json()["accepted"] == 2


def test_every_body_limit_is_documented():
    text = DOC.read_text()
    for rule in BODY_LIMITS:
        assert f"`{rule.pattern.pattern}`" in text, rule.pattern.pattern
        assert f"{rule.max_bytes:,}" in text, rule.max_bytes


def test_an_unsigned_event_batch_is_refused_before_it_is_parsed(client):
    # Broken JSON and a schema-breaking batch both get the 401 of the missing signature: the
    # batch is parsed (in the thread pool) only after the signature verified.
    for body in (b'{"events": [' + b"1," * 100_000, b'{"events": "x"}'):
        r = client.post("/device/v1/events", content=body,
                        headers={"Content-Type": "application/json"})
        assert r.status_code == 401, r.text


def test_a_signed_batch_with_broken_json_is_a_422(admin):
    dev, _ = enroll(admin)
    full = "/device/v1/events"
    body = b'{"events": [}'
    headers = dev.sign("POST", full, body) | {"Content-Type": "application/json"}
    r = admin.post(full, content=body, headers=headers)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
