"""A small in-memory stand-in for the device API, for fast agent unit tests.

It checks signatures and nonces like the real service and is idempotent by event id and by
(device, seq); it can be made to vanish (``down``) and to lose replies after storing
(``drop_reply_after_store``). The end-to-end tests use the real service instead.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.events import chain_hash
from gate.signing import key_id, load_public_key, public_key_b64, request_signing_string

from .helpers import payload, signed


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class FakeService:
    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.tokens: set[str] = set()
        self.devices: dict[str, str] = {}
        self.nonces: set[str] = set()
        self.events: dict[str, dict[str, Any]] = {}
        self.by_seq: dict[tuple[str, int], str] = {}
        self.posts = 0
        self.down = False
        self.drop_reply_after_store = 0
        self.version = 1
        self.credentials: dict[str, dict[str, Any]] = {}
        self.changed_at: dict[str, int] = {}
        self.door_mode = "access"
        self.cond = threading.Condition()
        self.lock = threading.Lock()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def new_token(self) -> str:
        t = uuid.uuid4().hex
        self.tokens.add(t)
        return t

    def set_credential(self, c: dict[str, Any]) -> None:
        with self.cond:
            self.version += 1
            self.credentials[c["ref"]] = c
            self.changed_at[c["ref"]] = self.version
            self.cond.notify_all()

    def snapshot_doc(self, device_id: str, since: int | None) -> dict[str, Any]:
        creds = [c for r, c in self.credentials.items()
                 if since is None or self.changed_at[r] > since]
        return signed(payload(version=self.version, since=since, issued_at=datetime.now(UTC),
                              credentials=creds, device_id=device_id,
                              door_mode=self.door_mode), self.key)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        path = request.url.path.removeprefix("/device/v1")
        if path == "/enroll":
            body = json.loads(request.content)
            if body["enrollment_token"] not in self.tokens:
                return httpx.Response(401, json={"title": "bad token"})
            self.tokens.discard(body["enrollment_token"])
            dev = str(uuid.uuid4())
            self.devices[dev] = body["public_key"]
            return httpx.Response(200, json={
                "device_id": dev, "service_public_key": public_key_b64(self.key.public_key()),
                "service_key_id": key_id(self.key.public_key())})
        h = request.headers
        dev = h.get("X-Mynagate-Device", "")
        if dev not in self.devices:
            return httpx.Response(401, json={"title": "unknown device"})
        nonce = h["X-Mynagate-Nonce"]
        msg = request_signing_string(request.method, request.url.raw_path.decode(),
                                     h["X-Mynagate-Timestamp"], nonce, request.content)
        try:
            load_public_key(self.devices[dev]).verify(
                base64.b64decode(h["X-Mynagate-Signature"]), msg)
        except Exception:
            return httpx.Response(401, json={"title": "bad signature"})
        with self.lock:
            if (dev, nonce) in self.nonces:
                return httpx.Response(401, json={"title": "replay"})
            self.nonces.add((dev, nonce))  # type: ignore[arg-type]
        q = request.url.params
        if path == "/heartbeat":
            return httpx.Response(200, json={"server_time": _now(), "clock_offset_ms": 0,
                                             "snapshot_version": self.version,
                                             "skew_alarm": False})
        if path == "/snapshot":
            since = int(q["since"]) if "since" in q else None
            return httpx.Response(200, json=self.snapshot_doc(dev, since))
        if path == "/snapshot/wait":
            v = int(q["version"])
            with self.cond:
                self.cond.wait_for(lambda: self.version > v, timeout=float(q["timeout"]))
                return httpx.Response(200, json={"version": self.version})
        if path == "/events":
            return self._events(dev, json.loads(request.content)["events"])
        return httpx.Response(404, json={"title": "not found"})

    def _events(self, dev: str, events: list[dict[str, Any]]) -> httpx.Response:
        accepted = dup = 0
        chain_ok = True
        with self.lock:
            self.posts += 1
            for e in events:
                if e["id"] in self.events or (dev, e["seq"]) in self.by_seq:
                    dup += 1
                    continue
                if e["hash"] != chain_hash(e):
                    chain_ok = False
                self.events[e["id"]] = e
                self.by_seq[(dev, e["seq"])] = e["id"]
                accepted += 1
            if self.drop_reply_after_store > 0:
                self.drop_reply_after_store -= 1
                raise httpx.ReadTimeout("reply lost")
            seqs = sorted(s for d, s in self.by_seq if d == dev)
            through = 0
            for s in seqs:
                if s != through + 1:
                    break
                through = s
        return httpx.Response(200, json={"accepted": accepted, "duplicates": dup,
                                         "acked_through_seq": through, "gaps": [],
                                         "chain_ok": chain_ok})


class FakeHTTPServer:
    """Serves a FakeService over real HTTP on loopback (for agent subprocesses)."""

    def __init__(self, svc: FakeService) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        fake = svc

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _do(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                url = f"http://127.0.0.1{self.path}"
                req = httpx.Request(self.command, url, headers=dict(self.headers.items()),
                                    content=body)
                try:
                    resp = fake.handle(req)
                except httpx.TransportError:
                    self.close_connection = True
                    return
                data = resp.content
                self.send_response(resp.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _do  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                return  # a client killed mid-request (the point of the kill -9 test)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
