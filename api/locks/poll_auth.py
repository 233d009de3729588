"""Authentication of online-lock polls, before any database work.

A poll carries ``X-Lock-Timestamp`` (Unix seconds), ``X-Lock-Nonce`` (32–64 lowercase hex,
used once) and ``X-Lock-Signature`` = hex HMAC-SHA256(K_sync, ts "." nonce "." body). The
headers and the timestamp window are checked without the database; the lock's keys come from
``LockKeyCache`` (one indexed read per lock and minute at most, refusals included), so a flood
of forged polls never reaches the database. The nonce is stored only after the signature
verified, and a replay is refused by the table's primary key.

The PINs of the answer are sealed to the lock: AES-256-GCM under K_seal = HMAC(K_lock,
"pin-seal"), with the lock id and the poll's nonce as associated data, so a recorded answer
neither shows the PINs nor fits another poll.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from api.errors import Unauthorized
from api.models import LockNonce

LOCK_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
NONCE_RE = re.compile(r"^[0-9a-f]{32,64}$")
SIGNATURE_RE = re.compile(r"^[0-9a-f]{64}$")
TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")
KEY_TTL_S = 60.0
KEY_CACHE_SIZE = 4096


@dataclass(frozen=True)
class LockKeys:
    pk: int
    generation: int
    sync: bytes
    seal: bytes


def derive_keys(pk: int, generation: int, lock_key: bytes) -> LockKeys:
    return LockKeys(pk, generation, hmac.new(lock_key, b"sync", hashlib.sha256).digest(),
                    hmac.new(lock_key, b"pin-seal", hashlib.sha256).digest())


def signing_string(timestamp: str, nonce: str, body: bytes) -> bytes:
    return timestamp.encode() + b"." + nonce.encode() + b"." + body


def sign(key: bytes, timestamp: str, nonce: str, body: bytes) -> str:
    return hmac.new(key, signing_string(timestamp, nonce, body), hashlib.sha256).hexdigest()


def check_headers(lock_id: str, timestamp: str, nonce: str, signature: str, *,
                  now: datetime, skew_s: int) -> None:
    """Everything that needs no key: formats and the timestamp window (401 otherwise)."""
    if not LOCK_ID_RE.match(lock_id):
        raise Unauthorized("unknown online lock")
    if not TIMESTAMP_RE.match(timestamp):
        raise Unauthorized("X-Lock-Timestamp must be integer Unix seconds",
                           field="x-lock-timestamp")
    if not NONCE_RE.match(nonce):
        raise Unauthorized("X-Lock-Nonce must be 32-64 lowercase hex characters",
                           field="x-lock-nonce")
    if not SIGNATURE_RE.match(signature):
        raise Unauthorized("X-Lock-Signature must be 64 hex characters",
                           field="x-lock-signature")
    if abs(int(timestamp) - now.timestamp()) > skew_s:
        raise Unauthorized(f"the poll's timestamp is more than {skew_s} s from the server clock",
                           field="x-lock-timestamp", server_time=int(now.timestamp()))


class LockKeyCache:
    """lock_id → its keys (or None for no such online lock), for ``KEY_TTL_S`` seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, LockKeys | None]] = {}

    def get(self, lock_id: str, load: Callable[[], LockKeys | None]) -> LockKeys | None:
        now = self._clock()
        with self._lock:
            hit = self._entries.get(lock_id)
        if hit is not None and now - hit[0] < KEY_TTL_S:
            return hit[1]
        keys = load()
        with self._lock:
            if len(self._entries) >= KEY_CACHE_SIZE:
                self._entries.pop(next(iter(self._entries)))
            self._entries[lock_id] = (now, keys)
        return keys

    def forget(self, lock_id: str) -> None:
        with self._lock:
            self._entries.pop(lock_id, None)


def verify(keys: LockKeys | None, timestamp: str, nonce: str, body: bytes,
           signature: str) -> LockKeys:
    if keys is None:
        raise Unauthorized("unknown online lock")
    if not hmac.compare_digest(sign(keys.sync, timestamp, nonce, body), signature):
        raise Unauthorized("the poll is not signed by this lock's key")
    return keys


def use_nonce(session: Session, lock_pk: int, nonce: str, expires_at: datetime,
              now: datetime) -> None:
    """Store the nonce; 401 if this lock already used it (a replayed poll)."""
    values = {"lock_id": lock_pk, "nonce": nonce, "expires_at": expires_at}
    stmt: postgresql.Insert | sqlite.Insert
    if session.get_bind().dialect.name == "postgresql":
        stmt = postgresql.insert(LockNonce).values(**values).on_conflict_do_nothing()
    else:
        stmt = sqlite.insert(LockNonce).values(**values).on_conflict_do_nothing()
    if session.execute(stmt.returning(LockNonce.nonce)).first() is None:
        raise Unauthorized("nonce already used (replayed poll)", field="x-lock-nonce")
    session.execute(delete(LockNonce).where(LockNonce.lock_id == lock_pk,
                                            LockNonce.expires_at < now))


def nonce_expiry(timestamp: str, now: datetime, skew_s: int) -> datetime:
    sent = now + timedelta(seconds=int(timestamp) - now.timestamp())
    return max(sent, now) + timedelta(seconds=skew_s + 60)


def seal_slots(keys: LockKeys, lock_id: str, nonce: str, slots: list[dict[str, Any]]) -> str:
    iv = os.urandom(12)
    plain = json.dumps(slots, separators=(",", ":")).encode()
    aad = f"{lock_id}|{nonce}".encode()
    return base64.b64encode(iv + AESGCM(keys.seal).encrypt(iv, plain, aad)).decode()
