"""The keypad's wrong-code throttle: a pure, persistable state machine.

- The first 5 failures are free; from the 6th on, each failure imposes a wait before the next
  attempt of 1 min, doubling up to 60 min (1, 2, 4, 8, 16, 32, 60, 60, ...).
- The failure count decays by one for each full hour without a failure. It is not reset by a
  successful code (a guest's success must not wipe out an attacker's count).
- The state is a small JSON-able record; the lock writes it *before* checking a code (the
  attempt is counted as a failure first and refunded on success), so cutting the power during
  a check never grants a free guess.
- If the clock reads earlier than the state's anchor (it only moves back through an
  authenticated sync), no decay is granted and the wait is measured from the anchor.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

__all__ = ["FREE_FAILURES", "ThrottleState", "allowed_at", "record_failure", "refund", "wait_after"]

FREE_FAILURES = 5
FIRST_WAIT_S = 60
MAX_WAIT_S = 3600
DECAY_S = 3600


@dataclass(frozen=True, slots=True)
class ThrottleState:
    failures: int = 0
    # Unix seconds of the last counted failure (decay runs from here) and when the next attempt
    # is allowed.
    anchor: int = 0
    next_allowed: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"failures": self.failures, "anchor": self.anchor,
                "next_allowed": self.next_allowed}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ThrottleState:
        return cls(int(data["failures"]), int(data["anchor"]), int(data["next_allowed"]))


def wait_after(failures: int) -> int:
    """Seconds to wait after the ``failures``-th consecutive failure."""
    if failures <= FREE_FAILURES:
        return 0
    return min(MAX_WAIT_S, FIRST_WAIT_S << min(failures - FREE_FAILURES - 1, 12))


def _decayed(state: ThrottleState, now: int) -> ThrottleState:
    if now <= state.anchor or state.failures == 0:
        return state
    steps = (now - state.anchor) // DECAY_S
    if steps == 0:
        return state
    return replace(state, failures=max(0, state.failures - steps),
                   anchor=state.anchor + steps * DECAY_S)


def allowed_at(state: ThrottleState, now: int) -> bool:
    """May a code be checked now?"""
    return now >= state.next_allowed and now >= state.anchor


def record_failure(state: ThrottleState, now: int) -> ThrottleState:
    """The state after one more counted failure at ``now`` (call only when ``allowed_at``)."""
    s = _decayed(state, now)
    failures = s.failures + 1
    at = max(now, s.anchor)
    return ThrottleState(failures=failures, anchor=at, next_allowed=at + wait_after(failures))


def refund(before: ThrottleState) -> ThrottleState:
    """The state to restore when the attempt counted pessimistically turned out right."""
    return before
