"""Offline PIN format v1: keys, tags, issue and verify (docs/pin-spec.md).

A PIN is 10 digits: header H (4 digits) then tag T (6 digits).

- H = (start_slot mod 96) * 96 + (duration_slots - 1); H >= 9216 is reserved.
- K = HKDF-SHA256(master, salt empty, info "mng-pin/v1|<lock id>|<generation>", 32 bytes).
- K_guest = HMAC-SHA256(K, "guest").
- T = dynamic truncation of HMAC-SHA256(K_guest, m) mod 10^6, zero-padded.

Everything here is pure: time comes in as ``now`` (a slot number or unix seconds).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "DEFAULT_GRACE",
    "MAX_DURATION",
    "RESERVED_HEADER_MIN",
    "SLOT_SECONDS",
    "SLOTS_PER_DAY",
    "Grace",
    "PinWindow",
    "decode_header",
    "derive_lock_key",
    "encode_header",
    "guest_key",
    "guest_message",
    "guest_tag",
    "issue_pin",
    "max_chunk",
    "recover_start",
    "slot_of",
    "split_days",
    "truncate",
    "verify_pin",
    "window_contains",
]

SLOT_SECONDS = 900
SLOTS_PER_DAY = 96
MAX_DURATION = 96
RESERVED_HEADER_MIN = 9216
TAG_DIGITS = 6
VARIANTS = (0, 1, 2)


@dataclass(frozen=True, slots=True)
class Grace:
    """Slots accepted before the start (early) and after the end (late)."""

    early: int = 1
    late: int = 1


DEFAULT_GRACE = Grace()


@dataclass(frozen=True, slots=True)
class PinWindow:
    """What a guest PIN stands for on one lock key."""

    start_slot: int
    duration_slots: int
    variant: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.duration_slots <= MAX_DURATION:
            raise ValueError("duration_slots must be 1..96")
        if self.start_slot < 0:
            raise ValueError("start_slot must not be negative")
        if self.variant not in VARIANTS:
            raise ValueError("variant must be 0, 1 or 2")

    @property
    def end_slot(self) -> int:
        return self.start_slot + self.duration_slots

    def accepted_range(self, grace: Grace = DEFAULT_GRACE) -> tuple[int, int]:
        """Half-open slot range [first, stop) in which the lock accepts the PIN.

        The start is recovered from its residue mod 96 (the latest one not after now + early),
        so the range also stops where that recovery moves on to the next day: a window longer
        than 96 - early - late slots loses its last slots (``split_days`` never issues one)."""
        stop = min(self.end_slot + grace.late, self.start_slot + SLOTS_PER_DAY - grace.early)
        return self.start_slot - grace.early, stop


def slot_of(unix_seconds: float) -> int:
    """n = floor(unix / 900)."""
    return int(unix_seconds // SLOT_SECONDS)


def derive_lock_key(master: bytes, lock_id: str, generation: int) -> bytes:
    """K = HKDF-SHA256(master, empty salt, info "mng-pin/v1|lock|gen", 32)."""
    if len(master) < 16:
        raise ValueError("the master secret must be at least 128 bits")
    info = f"mng-pin/v1|{lock_id}|{generation}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def guest_key(lock_key: bytes) -> bytes:
    return hmac.new(lock_key, b"guest", hashlib.sha256).digest()


def encode_header(start_slot: int, duration_slots: int) -> int:
    if not 1 <= duration_slots <= MAX_DURATION:
        raise ValueError("duration_slots must be 1..96")
    return (start_slot % SLOTS_PER_DAY) * SLOTS_PER_DAY + (duration_slots - 1)


def decode_header(header: int) -> tuple[int, int]:
    """(start slot mod 96, duration slots) of a guest header; ValueError if reserved."""
    if not 0 <= header < RESERVED_HEADER_MIN:
        raise ValueError("reserved or invalid header")
    return header // SLOTS_PER_DAY, header % SLOTS_PER_DAY + 1


def guest_message(lock_id: str, generation: int, start_slot: int, duration_slots: int,
                  variant: int) -> bytes:
    lid = lock_id.encode()
    if len(lid) > 255:
        raise ValueError("lock id longer than 255 bytes")
    return (b"MNG-PIN-v1" + bytes([len(lid)]) + lid + struct.pack(">I", generation)
            + struct.pack(">Q", start_slot) + struct.pack(">H", duration_slots)
            + bytes([variant]))


def truncate(mac: bytes, modulus: int) -> int:
    """RFC 4226 dynamic truncation of a MAC (any length >= 20), mod ``modulus``."""
    offset = mac[-1] & 0x0F
    code = int.from_bytes(mac[offset:offset + 4], "big") & 0x7FFFFFFF
    return code % modulus


def guest_tag(lock_key: bytes, lock_id: str, generation: int, start_slot: int,
              duration_slots: int, variant: int) -> str:
    m = guest_message(lock_id, generation, start_slot, duration_slots, variant)
    mac = hmac.new(guest_key(lock_key), m, hashlib.sha256).digest()
    return f"{truncate(mac, 10 ** TAG_DIGITS):06d}"


def issue_pin(lock_key: bytes, lock_id: str, generation: int, window: PinWindow) -> str:
    """The 10-digit guest PIN of ``window`` on the lock key."""
    header = encode_header(window.start_slot, window.duration_slots)
    tag = guest_tag(lock_key, lock_id, generation, window.start_slot, window.duration_slots,
                    window.variant)
    return f"{header:04d}{tag}"


def recover_start(start_mod: int, now_slot: int, grace: Grace = DEFAULT_GRACE) -> int:
    """The latest slot congruent to ``start_mod`` (mod 96) not after now + early grace."""
    limit = now_slot + grace.early
    return limit - ((limit - start_mod) % SLOTS_PER_DAY)


def window_contains(window: PinWindow, now_slot: int, grace: Grace = DEFAULT_GRACE) -> bool:
    first, stop = window.accepted_range(grace)
    return first <= now_slot < stop


def verify_pin(lock_key: bytes, lock_id: str, generation: int, pin: str, now_slot: int,
               grace: Grace = DEFAULT_GRACE) -> PinWindow | None:
    """The window a guest PIN opens now, or None. Denylist and logging are the caller's."""
    if len(pin) != 10 or not pin.isdigit():
        return None
    header = int(pin[:4])
    if header >= RESERVED_HEADER_MIN:
        return None
    start_mod, duration = decode_header(header)
    start = recover_start(start_mod, now_slot, grace)
    if start < 0:
        return None
    if not start - grace.early <= now_slot < start + duration + grace.late:
        return None
    found: PinWindow | None = None
    for c in VARIANTS:  # all three, so timing does not tell which variant matched
        tag = guest_tag(lock_key, lock_id, generation, start, duration, c)
        if hmac.compare_digest(tag.encode(), pin[4:].encode()) and found is None:
            found = PinWindow(start, duration, c)
    return found


def max_chunk(grace: Grace = DEFAULT_GRACE) -> int:
    """The longest window a lock accepts whole, grace included (94 slots with the default)."""
    return min(MAX_DURATION, SLOTS_PER_DAY - grace.early - grace.late)


def split_days(start_slot: int, end_slot: int, grace: Grace = DEFAULT_GRACE
               ) -> list[tuple[int, int]]:
    """(start, duration) chunks covering [start_slot, end_slot), one code per (almost) day:
    each at most ``max_chunk(grace)`` slots so that it is accepted whole with its grace."""
    if end_slot <= start_slot:
        raise ValueError("end must be after start")
    chunks: list[tuple[int, int]] = []
    s = start_slot
    while s < end_slot:
        d = min(max_chunk(grace), end_slot - s)
        chunks.append((s, d))
        s += d
    return chunks
