"""Outbound webhooks signed per the Standard Webhooks specification: headers ``webhook-id``,
``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` (``v1,`` + base64 of
HMAC-SHA256 over ``id.timestamp.body`` with the endpoint's ``whsec_`` secret)."""

from __future__ import annotations

import base64
import ipaddress
import json
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
LOOPBACK_NAMES = {"localhost"}


class WebhookError(Exception):
    """The receiver could not be reached or did not answer 2xx (retried later)."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def url_problem(url: str) -> str | None:
    """Why an endpoint URL is refused: https only, except plain http to this host."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an https:// URL"
    if parts.username or parts.password:
        return "must not carry credentials"
    if parts.scheme == "http" and not _loopback(parts.hostname):
        return "plain http is allowed only to this host (127.0.0.1, ::1, localhost)"
    return None


def _loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def body_of(message_type: str, payload: dict[str, Any], now: datetime) -> str:
    """The request body: the spec's envelope of ``type``, ``timestamp`` and ``data``."""
    return json.dumps({"type": message_type, "timestamp": now.isoformat(), "data": payload},
                      ensure_ascii=False, separators=(",", ":"))


def signed_headers(secret: str, message_id: str, body: str, now: datetime) -> dict[str, str]:
    return {"webhook-id": message_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, now, body),
            "content-type": "application/json"}


def post(http: httpx.Client, url: str, secret: str, message_id: str, message_type: str,
         payload: dict[str, Any], now: datetime) -> None:
    body = body_of(message_type, payload, now)
    try:
        resp = http.post(url, content=body.encode(),
                         headers=signed_headers(secret, message_id, body, now))
    except httpx.HTTPError as err:
        raise WebhookError(f"{type(err).__name__}: {err}") from err
    if not 200 <= resp.status_code < 300:
        raise WebhookError(f"HTTP {resp.status_code}")
