"""Test helpers for the agent: signed snapshot payloads and a stand-in card result."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.policy import Reason
from gate.signing import sign_document

DEVICE_ID = "6f1c2b8e-0000-4000-8000-000000000001"


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def payload(*, version: int = 1, since: int | None = None, issued_at: datetime,
            credentials: list[dict[str, Any]] | None = None, door_mode: str = "access",
            fail_open: bool = False, device_id: str = DEVICE_ID,
            assurance: str = "card") -> dict[str, Any]:
    """A snapshot payload with door 1, staff 3 (山田) in group 1, all-week schedule."""
    return {
        "format": 1, "device_id": device_id, "version": version, "since": since,
        "full": since is None, "issued_at": iso(issued_at), "timezone": "Asia/Tokyo",
        "doors": [{"id": 1, "code": "shoko", "name": "書庫", "mode": door_mode,
                   "assurance": assurance, "lockdown": False, "fail_open": fail_open}],
        "credentials": credentials if credentials is not None else [cred("aa" * 16)],
        "staff": [{"id": 3, "display_name": "山田", "active_from": "2020-04-01",
                   "active_until": None, "group_ids": [1]}],
        "permissions": [{"group_id": 1, "door_id": 1, "schedule_id": 1}],
        "schedules": [{"id": 1, "allow_closed_days": True,
                       "windows": [{"weekday": d, "start_minute": 0, "end_minute": 1440}
                                   for d in range(7)]}],
        "closed_days": [],
    }


def cred(ref: str, status: str = "active", staff_id: int = 3,
         public_key: bytes = b"\x04" + b"\x01" * 64, kind: str = "staff_ap") -> dict[str, Any]:
    return {"ref": ref, "kind": kind, "staff_id": staff_id, "status": status,
            "public_key": base64.b64encode(public_key).decode(), "not_after": None}


def signed(p: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    return sign_document(p, key)


@dataclass(frozen=True)
class FakeResult:
    ok: bool
    kind: str | None
    credential_ref: str | None
    failure: Reason | None = None
    detail: str | None = None


def fake_card(ref: str, ok: bool = True, failure: Reason | None = None):  # type: ignore[no-untyped-def]
    """An authenticator standing in for the card layer (only where the card is not the point)."""
    def authenticate(ctx):  # type: ignore[no-untyped-def]
        known = ctx.lookup_public_key(ref) is not None
        good = ok and known
        return FakeResult(good, "staff_ap", ref,
                          None if good else (failure or (Reason.UNKNOWN_CREDENTIAL if not known
                                                         else Reason.CARD_AUTH_FAILED)))
    return authenticate
