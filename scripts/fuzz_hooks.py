"""Schemathesis hooks of the fuzz step (scripts/fuzz.py loads them via SCHEMATHESIS_HOOKS).

- ``/device/v1/*`` requests (but enroll) are signed as the device the harness enrolled, exactly
  as the reader agent signs them (``gate.signing.request_signing_string`` over the path, query
  and body bytes that go on the wire), so the fuzzed bodies reach the endpoints and not only
  the signature check.
- The booking webhook is signed with the service's webhook secret, as the booking system
  signs it. (Online-lock polls stay unsigned: each lock has its own key; their signature
  check is tested in tests/security/test_lock_poll.py.)
- ``/me/*`` requests carry the token of a 課長 (a supervisor user with a staff record), since
  the admin has no timesheet of their own.
- The harness's own users and API tokens are never the target of a PATCH or a revoke (a
  fuzzed ``role`` or revoke would lock the rest of the run out), and the snapshot long-poll waits
  at most 1 s. Nothing else of a generated case is changed.
- Check ``problem_details_on_error``: every 4xx/5xx answer is ``application/problem+json``
  (RFC 9457), as docs/security.md promises; ``not_a_server_error`` is schemathesis' own.

Settings come from the environment the harness sets: MYNAGATE_FUZZ_AGENT_DIR (the enrolled
device's data dir), MYNAGATE_FUZZ_STAFF_TOKEN, MYNAGATE_FUZZ_USER_IDS and MYNAGATE_FUZZ_TOKEN_IDS
(comma-separated).
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from functools import cache
from pathlib import Path
from typing import Any

import requests
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.bookings.service import webhook_signature
from gate.signing import request_signing_string
from reader_agent.keys import load_device_key, load_identity

PROBLEM_JSON = "application/problem+json"
DEVICE_PREFIX = "/device/v1/"
UNSIGNED = {"/device/v1/enroll"}
SELF_SERVICE_PREFIX = "/me/"
WEBHOOK = "/api/v1/bookings/webhook"
MAX_WAIT_S = 1


@cache
def _device() -> tuple[str, Ed25519PrivateKey]:
    agent_dir = Path(os.environ["MYNAGATE_FUZZ_AGENT_DIR"])
    return load_identity(agent_dir).device_id, load_device_key(agent_dir)


class DeviceSigner(requests.auth.AuthBase):
    """Signs the prepared request, whose body and path are final by then."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        device_id, key = _device()
        body = r.body or b""
        raw = body.encode() if isinstance(body, str) else body
        assert isinstance(raw, bytes), "streamed bodies are not generated"
        ts, nonce = str(int(time.time())), secrets.token_hex(16)
        sig = key.sign(request_signing_string(r.method or "GET", r.path_url, ts, nonce, raw))
        r.headers.update({"X-Mynagate-Device": device_id, "X-Mynagate-Timestamp": ts,
                          "X-Mynagate-Nonce": nonce,
                          "X-Mynagate-Signature": base64.b64encode(sig).decode()})
        return r


class WebhookSigner(requests.auth.AuthBase):
    """Signs as the booking system does (HMAC-SHA256 of ``timestamp "." body``)."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body or b""
        raw = body.encode() if isinstance(body, str) else body
        assert isinstance(raw, bytes), "streamed bodies are not generated"
        ts = str(int(time.time()))
        secret = os.environ["MYNAGATE_BOOKING_WEBHOOK_SECRET"]
        r.headers.update({"X-Mynagate-Timestamp": ts,
                          "X-Mynagate-Signature": webhook_signature(secret, ts, raw)})
        return r


class Bearer(requests.auth.AuthBase):
    """Another API token than the run's admin one (the CLI's header is set before this)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


@cache
def _protected() -> dict[str, set[int]]:
    return {name: {int(x) for x in os.environ[var].split(",")}
            for name, var in (("user_id", "MYNAGATE_FUZZ_USER_IDS"),
                              ("token_id", "MYNAGATE_FUZZ_TOKEN_IDS"))}


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case,
                kwargs: dict[str, Any]) -> None:
    path = case.operation.path
    if path.startswith(DEVICE_PREFIX) and path not in UNSIGNED:
        kwargs["auth"] = DeviceSigner()
    elif path == WEBHOOK:
        kwargs["auth"] = WebhookSigner()
    elif path.startswith(SELF_SERVICE_PREFIX):  # the caller's own records: a staff member's
        kwargs["auth"] = Bearer(os.environ["MYNAGATE_FUZZ_STAFF_TOKEN"])
    if path.endswith("/snapshot/wait") and (case.query is None or isinstance(case.query, dict)):
        query = case.query if case.query is not None else {}
        wait = query.get("timeout")
        query["timeout"] = min(wait, MAX_WAIT_S) if isinstance(wait, int) else MAX_WAIT_S
        case.query = query
    params = case.path_parameters if isinstance(case.path_parameters, dict) else {}
    for name, ids in _protected().items():
        for own in ids:
            if name in params and _same_id(params[name], own):
                params[name] = own + 1_000_000  # some other (absent) row: a 404, still fuzzed


def _same_id(value: Any, own: int) -> bool:
    """Whether a generated path value would be read by the service as the id ``own``
    (``1``, ``"01"``, ``" +1"``, ``True``, ``1.0``)."""
    text = str(int(value)) if isinstance(value, bool) else str(value)
    try:
        return int(text.strip()) == own
    except ValueError:
        try:
            return float(text) == own
        except (ValueError, OverflowError):
            return False


@schemathesis.check
def problem_details_on_error(ctx: schemathesis.CheckContext, response: schemathesis.Response,
                             case: schemathesis.Case) -> bool | None:
    """Every 4xx/5xx answer is an RFC 9457 problem (``application/problem+json``)."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.split(";")[0].strip() != PROBLEM_JSON:
        raise AssertionError(f"{response.status_code} answered as {content_type!r}, not "
                             f"{PROBLEM_JSON}")
    return True
