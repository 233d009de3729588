"""Codes from the reserved header range (first four digits >= 9216): 12 digits each.

Revocation code (first four digits 9216..9492)::

    V = 921600000000 + (((start mod 96) * 96 + duration - 1) * 3 + c) * 10^6 + R
    R = trunc(HMAC-SHA256(K_rev, "MNG-REV-v1" || lock || gen || start || duration || c)) mod 10^6
    K_rev = HMAC-SHA256(K, "revoke")

Emergency code (first four digits 9700..9795), one-time, valid for 4 slots (1 h)::

    V = 970000000000 + ((issue_slot mod 96) * 10 + counter) * 10^7 + E
    E = trunc(HMAC-SHA256(K_emg, "MNG-EMG-v1" || lock || gen || issue_slot || counter)) mod 10^7
    K_emg = HMAC-SHA256(K, "emergency")
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

from .v1 import (
    DEFAULT_GRACE,
    SLOTS_PER_DAY,
    Grace,
    PinWindow,
    encode_header,
    recover_start,
    truncate,
)

__all__ = [
    "EMERGENCY_SLOTS",
    "REVOCATION_HORIZON_DAYS",
    "EmergencyCode",
    "emergency_code",
    "parse_emergency",
    "parse_revocation",
    "revocation_code",
]

REV_BASE = 921_600_000_000
REV_MAX = REV_BASE + 9216 * 3 * 10 ** 6
EMG_BASE = 970_000_000_000
EMG_MAX = EMG_BASE + 96 * 10 * 10 ** 7
EMERGENCY_SLOTS = 4
EMERGENCY_COUNTERS = 10
# A revocation code may name a PIN whose window starts up to this many days ahead.
REVOCATION_HORIZON_DAYS = 14


def _lock_part(lock_id: str, generation: int) -> bytes:
    lid = lock_id.encode()
    return bytes([len(lid)]) + lid + struct.pack(">I", generation)


def _revocation_mac(lock_key: bytes, lock_id: str, generation: int, w: PinWindow) -> int:
    k = hmac.new(lock_key, b"revoke", hashlib.sha256).digest()
    m = (b"MNG-REV-v1" + _lock_part(lock_id, generation) + struct.pack(">Q", w.start_slot)
         + struct.pack(">H", w.duration_slots) + bytes([w.variant]))
    return truncate(hmac.new(k, m, hashlib.sha256).digest(), 10 ** 6)


def revocation_code(lock_key: bytes, lock_id: str, generation: int, window: PinWindow) -> str:
    """The 12-digit code that puts ``window`` on the lock's denylist."""
    payload = encode_header(window.start_slot, window.duration_slots) * 3 + window.variant
    value = REV_BASE + payload * 10 ** 6 + _revocation_mac(lock_key, lock_id, generation, window)
    return f"{value:012d}"


def parse_revocation(lock_key: bytes, lock_id: str, generation: int, code: str, now_slot: int,
                     grace: Grace = DEFAULT_GRACE) -> PinWindow | None:
    """The guest window a revocation code names, if authentic and not yet over; else None.

    The start is the earliest slot with the header's residue whose window (plus late grace)
    has not ended, or one of the following days up to the horizon."""
    if len(code) != 12 or not code.isdigit():
        return None
    value = int(code)
    if not REV_BASE <= value < REV_MAX:
        return None
    payload, mac = divmod(value - REV_BASE, 10 ** 6)
    header, variant = divmod(payload, 3)
    start_mod, duration = header // SLOTS_PER_DAY, header % SLOTS_PER_DAY + 1
    # earliest start with this residue whose window still matters now
    first = now_slot - duration - grace.late + 1
    start = first + ((start_mod - first) % SLOTS_PER_DAY)
    found: PinWindow | None = None
    # Candidates run from the earliest still-relevant start up to the horizon counted from now
    # (one more day than the horizon when the earliest candidate lies in the past).
    for day in range(REVOCATION_HORIZON_DAYS + 2):
        w = PinWindow(start + day * SLOTS_PER_DAY, duration, variant)
        if w.start_slot - now_slot > REVOCATION_HORIZON_DAYS * SLOTS_PER_DAY:
            break
        ok = hmac.compare_digest(
            f"{_revocation_mac(lock_key, lock_id, generation, w):06d}".encode(),
            f"{mac:06d}".encode())
        if ok and found is None:
            found = w
    return found


@dataclass(frozen=True, slots=True)
class EmergencyCode:
    issue_slot: int
    counter: int

    @property
    def stop_slot(self) -> int:
        return self.issue_slot + EMERGENCY_SLOTS


def _emergency_mac(lock_key: bytes, lock_id: str, generation: int, issue_slot: int,
                   counter: int) -> int:
    k = hmac.new(lock_key, b"emergency", hashlib.sha256).digest()
    m = (b"MNG-EMG-v1" + _lock_part(lock_id, generation) + struct.pack(">Q", issue_slot)
         + bytes([counter]))
    return truncate(hmac.new(k, m, hashlib.sha256).digest(), 10 ** 7)


def emergency_code(lock_key: bytes, lock_id: str, generation: int, issue_slot: int,
                   counter: int) -> str:
    """A one-time 12-digit code valid from ``issue_slot`` for one hour (4 slots)."""
    if not 0 <= counter < EMERGENCY_COUNTERS:
        raise ValueError("counter must be 0..9")
    payload = (issue_slot % SLOTS_PER_DAY) * EMERGENCY_COUNTERS + counter
    value = EMG_BASE + payload * 10 ** 7 + _emergency_mac(lock_key, lock_id, generation,
                                                          issue_slot, counter)
    return f"{value:012d}"


def parse_emergency(lock_key: bytes, lock_id: str, generation: int, code: str, now_slot: int,
                    grace: Grace = DEFAULT_GRACE) -> EmergencyCode | None:
    """The emergency code if authentic and within its hour (± grace); one-time use is the
    lock's job (it remembers used codes until they expire)."""
    if len(code) != 12 or not code.isdigit():
        return None
    value = int(code)
    if not EMG_BASE <= value < EMG_MAX:
        return None
    payload, mac = divmod(value - EMG_BASE, 10 ** 7)
    slot_mod, counter = divmod(payload, EMERGENCY_COUNTERS)
    issue = recover_start(slot_mod, now_slot, grace)
    if not issue - grace.early <= now_slot < issue + EMERGENCY_SLOTS + grace.late:
        return None
    expected = _emergency_mac(lock_key, lock_id, generation, issue, counter)
    if not hmac.compare_digest(f"{expected:07d}".encode(), f"{mac:07d}".encode()):
        return None
    return EmergencyCode(issue, counter)
