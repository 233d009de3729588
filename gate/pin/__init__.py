"""Facility PINs: offline format v1, reserved codes, throttling, variants and lock rules.

Pure functions over frozen dataclasses with ``now`` passed in (docs/pin-spec.md)."""

from .codes import EmergencyCode, emergency_code, parse_emergency, parse_revocation, revocation_code
from .throttle import ThrottleState, allowed_at, record_failure, wait_after
from .v1 import (
    DEFAULT_GRACE,
    SLOT_SECONDS,
    Grace,
    PinWindow,
    decode_header,
    derive_lock_key,
    encode_header,
    issue_pin,
    slot_of,
    split_days,
    verify_pin,
)
from .variants import LivePin, VariantsExhausted, assign_variant

__all__ = [
    "DEFAULT_GRACE",
    "SLOT_SECONDS",
    "EmergencyCode",
    "Grace",
    "LivePin",
    "PinWindow",
    "ThrottleState",
    "VariantsExhausted",
    "allowed_at",
    "assign_variant",
    "decode_header",
    "derive_lock_key",
    "emergency_code",
    "encode_header",
    "issue_pin",
    "parse_emergency",
    "parse_revocation",
    "record_failure",
    "revocation_code",
    "slot_of",
    "split_days",
    "verify_pin",
    "wait_after",
]
