"""Variant assignment: no two simultaneously valid PINs on one lock are equal."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .v1 import DEFAULT_GRACE, VARIANTS, Grace, PinWindow

__all__ = ["LivePin", "VariantsExhausted", "assign_variant", "overlaps"]


class VariantsExhausted(Exception):
    """All three variants would collide with a PIN already valid at the same time."""


@dataclass(frozen=True, slots=True)
class LivePin:
    """A PIN already issued and not revoked on the lock (with the same key generation)."""

    window: PinWindow
    pin: str


def overlaps(a: PinWindow, b: PinWindow, grace: Grace = DEFAULT_GRACE) -> bool:
    a0, a1 = a.accepted_range(grace)
    b0, b1 = b.accepted_range(grace)
    return a0 < b1 and b0 < a1


def assign_variant(start_slot: int, duration_slots: int, live: Iterable[LivePin],
                   pin_of: Callable[[PinWindow], str],
                   grace: Grace = DEFAULT_GRACE) -> tuple[PinWindow, str]:
    """The lowest variant whose PIN differs from every live PIN valid at an overlapping time.

    A variant already used by a live PIN of the same window is skipped even if its digits
    differ, so each (start, duration, variant) names exactly one booking (the denylist relies
    on it)."""
    live = list(live)
    for c in VARIANTS:
        w = PinWindow(start_slot, duration_slots, c)
        if any(p.window == w for p in live):
            continue
        pin = pin_of(w)
        if any(p.pin == pin and overlaps(p.window, w, grace) for p in live):
            continue
        return w, pin
    raise VariantsExhausted(
        f"no free variant for slot {start_slot} (+{duration_slots}) on this lock")
