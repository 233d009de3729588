"""The online (Wi-Fi) lock: it polls the service, which pushes its code slots and queued
commands (remote emergency unlock); it uploads battery, clock and its hash-chained log.

Requests carry ``X-Lock-Timestamp``, ``X-Lock-Nonce`` (fresh random hex, once) and
``X-Lock-Signature`` = hex HMAC-SHA256(K_sync, timestamp "." nonce "." body); answers are
signed the same way over the same nonce, so a fake service cannot push codes or open the door
and an old answer cannot be fed back. The answer's code slots come sealed to the lock
(AES-256-GCM under K_seal, associated data "lock_id|nonce")."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gate.events import chain_hash
from gate.pin.throttle import ThrottleState, allowed_at, record_failure

from .firmware import sync_key
from .keybox import EntryResult

__all__ = ["OnlineLock", "sign_body"]


def sign_body(key: bytes, timestamp: str, nonce: str, body: bytes) -> str:
    message = timestamp.encode() + b"." + nonce.encode() + b"." + body
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def seal_key(lock_key: bytes) -> bytes:
    """The key the service seals the pushed code slots with."""
    return hmac.new(lock_key, b"pin-seal", hashlib.sha256).digest()


class OnlineLock:
    """An online lock with ``slot_limit`` code slots."""

    def __init__(self, lock_id: str, lock_key: bytes, http: httpx.Client, *,
                 now: Callable[[], float], slot_limit: int = 10, battery: float = 100.0,
                 state_path: Path | None = None) -> None:
        self.lock_id = lock_id
        self._sync = sync_key(lock_key)
        self._seal = seal_key(lock_key)
        self.http = http
        self.now = now
        self.slot_limit = slot_limit
        self.slots: dict[int, dict[str, Any]] = {}
        self.battery = battery
        self.throttle = ThrottleState()
        self.log: list[dict[str, Any]] = []
        self.seq = 0
        self.last_hash: str | None = None
        self.acked_seq = 0
        self.door_open = False
        self.path = state_path
        if self.path is not None and self.path.exists():
            d = json.loads(self.path.read_text(encoding="utf-8"))
            self.throttle = ThrottleState.from_dict(d["throttle"])
            self.slots = {int(k): v for k, v in d["slots"].items()}
            self.log, self.seq, self.last_hash = d["log"], d["seq"], d["last_hash"]
            self.acked_seq = d["acked_seq"]

    def _save(self) -> None:
        """Flash write (temp file, fsync, rename): throttle, slots and log survive power loss."""
        if self.path is None:
            return
        data = {"throttle": self.throttle.to_dict(), "slots": self.slots, "log": self.log,
                "seq": self.seq, "last_hash": self.last_hash, "acked_seq": self.acked_seq}
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def _log(self, kind: str, **detail: Any) -> None:
        self.seq += 1
        ev: dict[str, Any] = {"seq": self.seq, "at": int(self.now()), "kind": kind,
                              "detail": detail, "prev_hash": self.last_hash}
        ev["hash"] = chain_hash(ev)
        self.last_hash = ev["hash"]
        self.log.append(ev)

    def poll(self) -> dict[str, Any]:
        """One poll: upload, then take the pushed slots and run the commands."""
        body = json.dumps({"clock": self.now(), "battery": round(self.battery, 2),
                           "slot_limit": self.slot_limit,
                           "events": [e for e in self.log if e["seq"] > self.acked_seq]},
                          separators=(",", ":")).encode()
        ts = str(int(self.now()))
        nonce = secrets.token_hex(16)
        r = self.http.post(f"/api/v1/locks/{self.lock_id}/poll", content=body, headers={
            "content-type": "application/json", "X-Lock-Timestamp": ts, "X-Lock-Nonce": nonce,
            "X-Lock-Signature": sign_body(self._sync, ts, nonce, body)})
        r.raise_for_status()
        sig = r.headers.get("X-Lock-Signature", "")
        rts = r.headers.get("X-Lock-Timestamp", "")
        if not hmac.compare_digest(sign_body(self._sync, rts, nonce, r.content), sig):
            raise RuntimeError("unsigned answer from the service")
        answer: dict[str, Any] = r.json()
        if answer.get("nonce") != nonce:
            raise RuntimeError("the answer belongs to another poll")
        slots = self._unseal(answer["sealed_slots"], nonce)[: self.slot_limit]
        self.slots = {int(s["slot"]): s for s in slots}
        self.acked_seq = max(self.acked_seq, int(answer["ack_seq"]))
        self.log = [e for e in self.log if e["seq"] > self.acked_seq]
        for cmd in answer.get("commands", []):
            if cmd["kind"] == "unlock":
                self._log("open_remote", command_id=cmd["id"])
        self._save()
        return answer

    def _unseal(self, sealed: str, nonce: str) -> list[dict[str, Any]]:
        raw = base64.b64decode(sealed)
        plain = AESGCM(self._seal).decrypt(raw[:12], raw[12:], f"{self.lock_id}|{nonce}".encode())
        slots: list[dict[str, Any]] = json.loads(plain)
        return slots

    def enter(self, code: str) -> EntryResult:
        now = int(self.now())
        if not allowed_at(self.throttle, now):
            return EntryResult(False, "wait", self.throttle.next_allowed - now)
        before = self.throttle
        self.throttle = record_failure(before, now)
        self._save()  # counted before the check, refunded on success
        for slot, s in self.slots.items():
            ok = hmac.compare_digest(str(s["code"]), code)
            if ok and s["valid_from"] <= now < s["valid_until"]:
                self.throttle = before
                self.battery = max(0.0, self.battery - 0.05)
                self._log("open_pin", slot=slot)
                self._save()
                return EntryResult(True, "opened")
        self._log("wrong_code")
        self._save()
        return EntryResult(False, "wrong_code")

    def door(self, opened: bool) -> None:
        self.door_open = opened
        self._log("door_open" if opened else "door_close")
        self._save()
