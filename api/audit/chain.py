"""The audit log's hash chain: each row's hash covers the previous row's hash and the row's
canonical content, so editing, deleting or reordering any row breaks every hash after it.

Canonical content: compact JSON with sorted keys of ``seq, at, actor, action, entity,
entity_id, before, after`` (``at`` as ISO 8601 in UTC). ``hash = sha256(prev_hash + "\\n" +
content)`` in lowercase hex; the first row's ``prev_hash`` is ``GENESIS``."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


def canonical(*, seq: int, at: datetime, actor: str, action: str, entity: str, entity_id: str,
              before: dict[str, Any] | None, after: dict[str, Any] | None) -> bytes:
    content = {"seq": seq, "at": at.astimezone(UTC).isoformat(), "actor": actor,
               "action": action, "entity": entity, "entity_id": entity_id, "before": before,
               "after": after}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode()


def link_hash(prev_hash: str, content: bytes) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + content).hexdigest()


@dataclass(frozen=True)
class Verification:
    """The result of checking the chain: ``ok``, rows checked, and the first bad row; the
    seq the kept chain starts at and the retention summaries checked before it."""

    ok: bool
    checked: int
    first_bad_id: int | None = None
    first_bad_seq: int | None = None
    reason: str | None = None
    start_seq: int = 1
    summaries: int = 0
