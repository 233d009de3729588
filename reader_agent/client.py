"""The agent's HTTP client for ``/device/v1`` (see docs/device-protocol.md).

Every request but enrollment is signed with the device key. The transport is swappable
(``httpx.BaseTransport``) so tests can make the service vanish.

Exceptions::

    ClientError
    ├── ServiceUnavailable     connection refused/reset, timeout, 5xx: retry later
    │   ├── TimedOut           no answer within the request's timeout
    │   └── ServiceBusy        429/503: overloaded; ``retry_after`` (s) from Retry-After
    └── ServiceRejected        4xx with its problem-details body: retrying will not help
        ├── Unauthorized       401 (unknown or revoked device, bad signature, replay, skew)
        └── ProtocolTooOld     426: the service no longer serves this agent's protocol version
"""

from __future__ import annotations

import base64
import logging
import secrets
import ssl
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.protocol import PROTOCOL, PROTOCOL_HEADER, SUPPORTED_HEADER, ProtocolVersion
from gate.signing import canonical_json, public_key_b64, request_signing_string

log = logging.getLogger(__name__)

PREFIX = "/device/v1"
AGENT_VERSION = "0.1.0"


class ClientError(Exception):
    """Base of every error talking to the service."""


class ServiceUnavailable(ClientError):
    """The service could not be reached or failed (connection error, timeout, 5xx)."""


class TimedOut(ServiceUnavailable):
    """No answer within the timeout (the service may still finish the work: resend is safe,
    event ids make it idempotent)."""


class ServiceBusy(ServiceUnavailable):
    """429 or 503: the service refused the work for now; come back after ``retry_after``."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(f"service answered {status} (busy), retry after {retry_after} s")


def _retry_after(resp: httpx.Response) -> float | None:
    """Retry-After in seconds (delay-seconds form; an HTTP date counts as unknown), bounded."""
    try:
        return min(max(float(resp.headers.get("Retry-After", "")), 0.0), 300.0)
    except ValueError:
        return None


class ServiceRejected(ClientError):
    """The service refused the request (4xx). ``problem`` holds the problem-details body."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        detail = problem.get("detail") or problem.get("title") or ""
        super().__init__(f"service answered {status}: {detail}")


class Unauthorized(ServiceRejected):
    """401: the device is unknown, pending or revoked, or the request did not verify."""


class ProtocolTooOld(ServiceRejected):
    """426: this agent is too old for the service; upgrade it (docs/upgrade.md)."""


def format_time(dt: datetime) -> str:
    """RFC 3339 UTC with milliseconds, as the protocol wants."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_time(s: str) -> datetime:
    dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def tls_verify(ca_file: Path | None) -> ssl.SSLContext | bool:
    """What httpx verifies the service's certificate against: the system's trust store, or
    only the CA bundle given (a town's own CA or a self-signed certificate)."""
    return ssl.create_default_context(cafile=str(ca_file)) if ca_file is not None else True


def _raise_for(resp: httpx.Response) -> None:
    if resp.status_code < 400:
        return
    if resp.status_code in (429, 503):
        raise ServiceBusy(resp.status_code, _retry_after(resp))
    if resp.status_code >= 500:
        raise ServiceUnavailable(f"service answered {resp.status_code}")
    try:
        problem = resp.json()
        if not isinstance(problem, dict):
            problem = {"detail": str(problem)}
    except ValueError:
        problem = {"detail": resp.text[:200]}
    if resp.status_code == 426:
        log.error("agent.protocol.too_old ours=%s service_supports=%s: upgrade this agent "
                  "(docs/upgrade.md)", resp.request.headers.get(PROTOCOL_HEADER),
                  problem.get("supported"))
        raise ProtocolTooOld(resp.status_code, problem)
    cls = Unauthorized if resp.status_code == 401 else ServiceRejected
    raise cls(resp.status_code, problem)


def _send(http: httpx.Client, request: httpx.Request) -> httpx.Response:
    try:
        return http.send(request)
    except httpx.TimeoutException as err:
        raise TimedOut(f"{type(err).__name__}: {err}") from err
    except (httpx.TransportError, OSError) as err:
        raise ServiceUnavailable(f"{type(err).__name__}: {err}") from err


def enroll(
    base_url: str,
    token: str,
    private_key: Ed25519PrivateKey,
    *,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 10.0,
    verify: ssl.SSLContext | bool = True,
    protocol: ProtocolVersion = PROTOCOL,
) -> dict[str, Any]:
    """Enroll with a one-time token: register our public key, get the service's key back."""
    body = {"enrollment_token": token, "public_key": public_key_b64(private_key.public_key()),
            "agent_version": AGENT_VERSION}
    with httpx.Client(base_url=base_url, transport=transport, timeout=timeout,
                      verify=verify) as http:
        req = http.build_request("POST", f"{PREFIX}/enroll", content=canonical_json(body),
                                 headers={"Content-Type": "application/json",
                                          PROTOCOL_HEADER: str(protocol)})
        resp = _send(http, req)
        _raise_for(resp)
        result: dict[str, Any] = resp.json()
        return result


class ServiceClient:
    """Signed requests to the device API, with clock-offset tracking from heartbeats.

    ``clock`` returns the device's own time (defaults to the system clock); every outgoing
    timestamp is that time corrected by the last measured offset.
    """

    def __init__(
        self,
        base_url: str,
        device_id: str,
        private_key: Ed25519PrivateKey,
        transport: httpx.BaseTransport | None = None,
        *,
        timeout: float = 10.0,
        clock: Callable[[], datetime] | None = None,
        verify: ssl.SSLContext | bool = True,
        protocol: ProtocolVersion = PROTOCOL,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.device_id = device_id
        self._key = private_key
        self._timeout = timeout
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._offset_ms = 0
        self.offset_measured = False
        self._transport = transport
        self._verify = verify
        self.protocol = protocol
        self.service_protocols = ""  # the service's X-Mynagate-Protocol-Supported, last seen
        self._http = self._new_http()

    # --- transport ---------------------------------------------------------------------
    def _new_http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, transport=self._transport,
                            timeout=self._timeout, verify=self._verify)

    def set_transport(self, transport: httpx.BaseTransport | None) -> None:
        """Swap the transport (tests use this to make the service vanish and return)."""
        old = self._http
        self._transport = transport
        self._http = self._new_http()
        old.close()

    def close(self) -> None:
        self._http.close()

    # --- time ---------------------------------------------------------------------------
    @property
    def clock_offset_ms(self) -> int:
        return self._offset_ms

    def device_now(self) -> datetime:
        return self._clock()

    def corrected_now(self) -> datetime:
        from datetime import timedelta

        return self._clock() + timedelta(milliseconds=self._offset_ms)

    def _set_offset(self, offset_ms: int) -> None:
        with self._lock:
            self._offset_ms = int(offset_ms)
            self.offset_measured = True

    # --- signed requests ------------------------------------------------------------------
    def _signed(self, method: str, path: str, *, body: Any = None,
                params: dict[str, Any] | None = None, timeout: float | None = None,
                retry_skew: bool = True) -> httpx.Response:
        content = canonical_json(body) if body is not None else b""
        headers = {"X-Mynagate-Device": self.device_id, PROTOCOL_HEADER: str(self.protocol)}
        if body is not None:
            headers["Content-Type"] = "application/json"
        req = self._http.build_request(
            method, PREFIX + path, content=content or None, params=params, headers=headers,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT)
        ts = str(int(self.corrected_now().timestamp()))
        nonce = secrets.token_hex(16)
        raw_path = req.url.raw_path.decode()
        sig = self._key.sign(request_signing_string(method, raw_path, ts, nonce, content))
        req.headers["X-Mynagate-Timestamp"] = ts
        req.headers["X-Mynagate-Nonce"] = nonce
        req.headers["X-Mynagate-Signature"] = base64.b64encode(sig).decode()
        resp = _send(self._http, req)
        self.service_protocols = resp.headers.get(SUPPORTED_HEADER, self.service_protocols)
        if resp.status_code == 401 and retry_skew:
            server_time = _server_time_of(resp)
            if server_time is not None:
                offset = int((server_time - self.device_now()).total_seconds() * 1000)
                if abs(offset - self._offset_ms) > 1000:
                    log.warning("agent.client.clock_corrected offset_ms=%d", offset)
                    self._set_offset(offset)
                    return self._signed(method, path, body=body, params=params,
                                        timeout=timeout, retry_skew=False)
        _raise_for(resp)
        return resp

    def heartbeat(self, **fields: Any) -> dict[str, Any]:
        """Send a heartbeat and refine the clock offset with the round-trip midpoint."""
        t0 = time.monotonic()
        device_t0 = self.device_now()
        body = {"device_time": format_time(device_t0), **fields}
        resp = self._signed("POST", "/heartbeat", body=body)
        rtt = time.monotonic() - t0
        result: dict[str, Any] = resp.json()
        server_time = parse_time(result["server_time"])
        # The server stamped its time somewhere in the round trip: assume the midpoint.
        from datetime import timedelta

        midpoint = device_t0 + timedelta(seconds=rtt / 2)
        self._set_offset(round((server_time - midpoint).total_seconds() * 1000))
        result["rtt_ms"] = round(rtt * 1000, 1)
        return result

    def snapshot(self, since: int | None = None) -> dict[str, Any]:
        # compact: a delta carries only what changed (a service without it ignores the flag)
        params: dict[str, Any] = {"compact": "true"}
        if since is not None:
            params["since"] = since
        doc: dict[str, Any] = self._signed("GET", "/snapshot", params=params).json()
        return doc

    def config(self, have: int | None = None) -> dict[str, Any] | None:
        """This device's signed config bundle; None (204) when the service has none newer
        than ``have`` or none at all."""
        resp = self._signed("GET", "/config", params={"have": have} if have is not None else None)
        if resp.status_code == 204:
            return None
        doc: dict[str, Any] = resp.json()
        return doc

    def snapshot_wait(self, version: int, timeout: float = 25.0) -> int:
        resp = self._signed("GET", "/snapshot/wait",
                            params={"version": version, "timeout": int(timeout)},
                            timeout=timeout + 10)
        return int(resp.json()["version"])

    def post_events(self, events: list[dict[str, Any]],
                    timeout: float | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._signed("POST", "/events", body={"events": events},
                                              timeout=timeout).json()
        return result

    def decide(self, door_id: int, credential_ref: str, pin_verified: bool) -> dict[str, Any]:
        body = {"door_id": door_id, "credential_ref": credential_ref,
                "pin_verified": pin_verified}
        result: dict[str, Any] = self._signed("POST", "/decide", body=body).json()
        return result


def _server_time_of(resp: httpx.Response) -> datetime | None:
    try:
        body = resp.json()
        return parse_time(body["server_time"]) if isinstance(body, dict) and \
            body.get("server_time") else None
    except (ValueError, KeyError, TypeError):
        return None
