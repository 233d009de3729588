"""The event envelope's hash chain: each event of a device carries the previous event's hash,
so a deletion or an edit on the device shows up at the service."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from .signing import canonical_json

__all__ = ["chain_hash", "verify_chain"]


def chain_hash(event: Mapping[str, Any]) -> str:
    """SHA-256 hex over the previous hash and the canonical JSON of the event (``hash`` left out)."""
    body = {k: v for k, v in event.items() if k != "hash"}
    prev = event.get("prev_hash") or ""
    return hashlib.sha256(prev.encode() + canonical_json(body)).hexdigest()


def verify_chain(events: Iterable[Mapping[str, Any]], prev_hash: str | None) -> int | None:
    """Return the seq of the first event that breaks the chain after ``prev_hash``, or None."""
    expected_prev = prev_hash
    for ev in events:
        if (ev.get("prev_hash") or None) != (expected_prev or None) or ev.get("hash") != chain_hash(ev):
            return int(ev["seq"])
        expected_prev = str(ev["hash"])
    return None
