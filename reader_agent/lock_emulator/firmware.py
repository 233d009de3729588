"""The key box's own PIN v1 check, written apart from ``gate.pin`` on the standard library
only (HKDF by hand from RFC 5869), so the test vectors check two implementations."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["firmware_lock_key", "firmware_pin", "firmware_verify", "sync_key"]


def firmware_lock_key(master: bytes, lock_id: str, generation: int) -> bytes:
    """RFC 5869 HKDF-SHA256: extract with a zero salt, one expand block (L = 32)."""
    prk = hmac.new(b"\x00" * 32, master, hashlib.sha256).digest()
    info = b"mng-pin/v1|" + lock_id.encode() + b"|" + str(generation).encode()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def sync_key(lock_key: bytes) -> bytes:
    """The key authenticating the lock's uploads and the service's clock settings."""
    return hmac.new(lock_key, b"sync", hashlib.sha256).digest()


def _tag(lock_key: bytes, lock_id: str, generation: int, start: int, duration: int,
         variant: int) -> str:
    kg = hmac.new(lock_key, b"guest", hashlib.sha256).digest()
    lid = lock_id.encode()
    msg = (b"MNG-PIN-v1" + len(lid).to_bytes(1, "big") + lid + generation.to_bytes(4, "big")
           + start.to_bytes(8, "big") + duration.to_bytes(2, "big") + variant.to_bytes(1, "big"))
    mac = hmac.new(kg, msg, hashlib.sha256).digest()
    off = mac[31] & 15
    value = int.from_bytes(mac[off:off + 4], "big") & 0x7FFFFFFF
    return str(value % 1_000_000).rjust(6, "0")


def firmware_pin(lock_key: bytes, lock_id: str, generation: int, start: int, duration: int,
                 variant: int) -> str:
    header = (start % 96) * 96 + duration - 1
    return str(header).rjust(4, "0") + _tag(lock_key, lock_id, generation, start, duration,
                                             variant)


def firmware_verify(lock_key: bytes, lock_id: str, generation: int, pin: str, now_slot: int,
                    early: int = 1, late: int = 1) -> tuple[int, int, int] | None:
    """(start, duration, variant) the PIN opens at ``now_slot``, else None (steps 1-3)."""
    if len(pin) != 10 or not pin.isdigit():
        return None
    header = int(pin[:4])
    if header >= 9216:
        return None
    start_mod, duration = divmod(header, 96)
    duration += 1
    start = now_slot + early
    while start % 96 != start_mod:
        start -= 1
    if not (start - early <= now_slot < start + duration + late):
        return None
    hit = None
    for c in range(3):
        same = hmac.compare_digest(_tag(lock_key, lock_id, generation, start, duration, c),
                                   pin[4:])
        if same and hit is None:
            hit = (start, duration, c)
    return hit
