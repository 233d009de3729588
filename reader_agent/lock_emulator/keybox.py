"""The offline key box: a keypad, a lock key, its own drifting clock, a persistent throttle,
a denylist and a hash-chained log. Nothing else: no network.

State lives in one JSON file written atomically (temp file, fsync, rename) before any code is
checked, so pulling the power at any moment neither loses a counted failure nor revives a
revoked PIN. The clock is a battery-backed RTC: it keeps running through a power cut unless
the RTC itself is lost, and then guest codes fail closed until a staff sync sets it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.events import chain_hash
from gate.pin.codes import parse_emergency, parse_revocation
from gate.pin.throttle import ThrottleState, allowed_at, record_failure
from gate.pin.v1 import Grace
from gate.signing import canonical_json

from .firmware import firmware_verify, sync_key

__all__ = ["DriftingClock", "EntryResult", "KeyBox"]

SLOT = 900


class DriftingClock:
    """The lock's RTC: set to a value at some true instant, then runs at (1 + ppm·10⁻⁶)."""

    def __init__(self, true_now: Callable[[], float], *, ppm: float = 0.0,
                 offset_s: float = 0.0) -> None:
        self.true_now = true_now
        self.ppm = ppm
        self.set_value = true_now() + offset_s
        self.set_at = true_now()
        self.valid = True

    def now(self) -> float:
        return self.set_value + (self.true_now() - self.set_at) * (1 + self.ppm * 1e-6)

    def set(self, value: float) -> None:
        self.set_value, self.set_at, self.valid = value, self.true_now(), True

    def to_dict(self) -> dict[str, Any]:
        return {"ppm": self.ppm, "set_value": self.set_value, "set_at": self.set_at,
                "valid": self.valid}

    def load(self, d: dict[str, Any]) -> None:
        self.ppm, self.set_value, self.set_at = d["ppm"], d["set_value"], d["set_at"]
        self.valid = d["valid"]


@dataclass(frozen=True, slots=True)
class EntryResult:
    opened: bool
    reason: str  # opened, wrong_code, wait, revoked, denied_denylist, clock_invalid, used
    wait_s: int = 0


class KeyBox:
    """The offline key-box firmware."""

    def __init__(self, lock_id: str, lock_key: bytes, generation: int, state_path: Path,
                 clock: DriftingClock, *, early: int = 1, late: int = 1,
                 battery: float = 100.0) -> None:
        self.lock_id, self.generation = lock_id, generation
        self._key = lock_key
        self.path = Path(state_path)
        self.clock = clock
        self.early, self.late = early, late
        self.throttle = ThrottleState()
        self.denylist: list[list[int]] = []  # [start, duration, variant]
        self.used_emergency: list[list[int]] = []  # [issue_slot, counter]
        self.log: list[dict[str, Any]] = []
        self.seq = 0
        self.last_hash: str | None = None
        self.acked_seq = 0
        self.battery = battery
        self.door_open = False
        self.challenge: str | None = None
        if self.path.exists():
            self._load()
        else:
            self._save()

    # -- persistence -------------------------------------------------------------------------
    def _save(self) -> None:
        data = {"lock_id": self.lock_id, "generation": self.generation,
                "key": self._key.hex(), "throttle": self.throttle.to_dict(),
                "denylist": self.denylist, "used_emergency": self.used_emergency,
                "log": self.log, "seq": self.seq, "last_hash": self.last_hash,
                "acked_seq": self.acked_seq, "battery": self.battery,
                "clock": self.clock.to_dict(), "door_open": self.door_open,
                "challenge": self.challenge}
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def _load(self) -> None:
        d = json.loads(self.path.read_text(encoding="utf-8"))
        self.generation, self._key = d["generation"], bytes.fromhex(d["key"])
        self.throttle = ThrottleState.from_dict(d["throttle"])
        self.denylist, self.used_emergency = d["denylist"], d["used_emergency"]
        self.log, self.seq, self.last_hash = d["log"], d["seq"], d["last_hash"]
        self.acked_seq, self.battery = d["acked_seq"], d["battery"]
        self.clock.load(d["clock"])
        self.door_open, self.challenge = d["door_open"], d["challenge"]

    @classmethod
    def power_cycle(cls, old: KeyBox) -> KeyBox:
        """A power cut and restart: everything in RAM is gone; the state file and RTC remain."""
        return cls(old.lock_id, b"\x00" * 32, 0, old.path, old.clock, early=old.early,
                   late=old.late)

    # -- log -----------------------------------------------------------------------------------
    def _log(self, kind: str, **detail: Any) -> None:
        self.seq += 1
        ev: dict[str, Any] = {"seq": self.seq, "at": int(self.clock.now()), "kind": kind,
                              "detail": detail, "prev_hash": self.last_hash}
        ev["hash"] = chain_hash(ev)
        self.last_hash = ev["hash"]
        self.log.append(ev)

    # -- keypad --------------------------------------------------------------------------------
    def enter(self, code: str) -> EntryResult:
        """A code typed on the keypad followed by the confirm key."""
        now = int(self.clock.now())
        if not allowed_at(self.throttle, now):
            return EntryResult(False, "wait", max(self.throttle.next_allowed - now, 1))
        before = self.throttle
        self.throttle = record_failure(before, now)  # counted first, refunded on success
        self._save()
        result = self._check(code, now)
        if result.reason in ("opened", "revoked"):
            self.throttle = before
        if result.opened:
            self.battery = max(0.0, self.battery - 0.05)
        self._log("open_pin" if result.reason == "opened" and len(code) == 10 else
                  "open_emergency" if result.opened else
                  "revocation_entered" if result.reason == "revoked" else "wrong_code",
                  **self._detail)
        self._save()
        return result

    _detail: dict[str, Any] = {}

    def _check(self, code: str, now: int) -> EntryResult:
        self._detail = {}
        n = now // SLOT
        self._prune(n)
        if len(code) == 10:
            if not self.clock.valid:
                return EntryResult(False, "clock_invalid")
            hit = firmware_verify(self._key, self.lock_id, self.generation, code, n,
                                  self.early, self.late)
            if hit is None:
                return EntryResult(False, "wrong_code")
            if list(hit) in self.denylist:
                self._detail = {"start": hit[0], "duration": hit[1], "variant": hit[2],
                                "denied": True}
                return EntryResult(False, "denied_denylist")
            self._detail = {"start": hit[0], "duration": hit[1], "variant": hit[2]}
            return EntryResult(True, "opened")
        if len(code) == 12 and self.clock.valid:
            grace = Grace(self.early, self.late)
            rev = parse_revocation(self._key, self.lock_id, self.generation, code, n, grace)
            if rev is not None:
                entry = [rev.start_slot, rev.duration_slots, rev.variant]
                if entry not in self.denylist:
                    self.denylist.append(entry)
                self._detail = {"start": entry[0], "duration": entry[1], "variant": entry[2]}
                return EntryResult(False, "revoked")
            emg = parse_emergency(self._key, self.lock_id, self.generation, code, n, grace)
            if emg is not None:
                used = [emg.issue_slot, emg.counter]
                if used in self.used_emergency:
                    return EntryResult(False, "used")
                self.used_emergency.append(used)
                self._detail = {"issue_slot": emg.issue_slot, "counter": emg.counter}
                return EntryResult(True, "opened")
        return EntryResult(False, "wrong_code")

    def _prune(self, n: int) -> None:
        self.denylist = [e for e in self.denylist if e[0] + e[1] + self.late > n]
        self.used_emergency = [e for e in self.used_emergency if e[0] + 4 + self.late > n]

    # -- door sensor ---------------------------------------------------------------------------
    def door(self, opened: bool) -> None:
        self.door_open = opened
        self._log("door_open" if opened else "door_close")
        self._save()

    # -- staff sync ----------------------------------------------------------------------------
    def sync_upload(self) -> dict[str, Any]:
        """What the staff app uploads: unacknowledged log, battery, clock; MAC with K_sync."""
        body = {"lock_id": self.lock_id, "generation": self.generation,
                "clock": self.clock.now() if self.clock.valid else None,
                "battery": round(self.battery, 2),
                "events": [e for e in self.log if e["seq"] > self.acked_seq]}
        mac = hmac.new(sync_key(self._key), canonical_json(body), hashlib.sha256).hexdigest()
        self.challenge = mac  # the answer must name this upload: an old answer cannot replay
        self._save()
        return {**body, "mac": mac}

    def sync_apply(self, command: dict[str, Any]) -> bool:
        """Apply the service's signed answer: set the clock (backwards too), drop acked logs.
        An unauthenticated command changes nothing."""
        body = {k: v for k, v in command.items() if k != "mac"}
        mac = hmac.new(sync_key(self._key), canonical_json(body), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, str(command.get("mac", ""))):
            self._log("sync_rejected")
            self._save()
            return False
        if body.get("lock_id") != self.lock_id or not self.challenge or \
                not hmac.compare_digest(str(body.get("challenge", "")), self.challenge):
            self._log("sync_rejected")
            self._save()
            return False
        self.challenge = None
        old = self.clock.now()
        self.clock.set(float(body["set_clock"]))
        if self.clock.now() < old:  # clamp throttle anchors to the corrected clock
            now = int(self.clock.now())
            shift = int(old) - now
            t = self.throttle
            self.throttle = ThrottleState(t.failures, max(0, t.anchor - shift),
                                          max(0, t.next_allowed - shift))
        self.acked_seq = max(self.acked_seq, int(body["ack_seq"]))
        self.log = [e for e in self.log if e["seq"] > self.acked_seq]
        self._log("clock_set", old=int(old), new=int(self.clock.now()))
        self._save()
        return True

    def set_clock_forward(self, value: float) -> bool:
        """The keypad's own clock menu: only forward moves are accepted without a sync."""
        if value < self.clock.now():
            return False
        self.clock.set(value)
        self._save()
        return True

    def lose_rtc(self) -> None:
        """The RTC backup cell died: the clock is invalid until a staff sync."""
        self.clock.valid = False
        self._save()
