"""Clock-point punch rules: 出勤 (in) and 退勤 (out) from taps, pure and with ``now`` passed in.

- The business day changes at 05:00 local time, so a night-shift tap at 01:30 belongs to the
  previous day and a forgotten 退勤 never turns the next morning's tap into a 退勤.
- The first counted tap of a business day is 出勤; every later one is 退勤 (the last one wins
  when attendance is computed). Explicit in/out buttons override this.
- A tap within 60 s of the last counted punch is a repeat, not a new punch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

__all__ = [
    "DAY_CHANGE",
    "REPEAT_WINDOW",
    "Punch",
    "PunchKind",
    "PunchState",
    "business_date",
    "feedback_text",
    "punch",
]

DAY_CHANGE = time(5, 0)
REPEAT_WINDOW = timedelta(seconds=60)
_JST = ZoneInfo("Asia/Tokyo")


class PunchKind(StrEnum):
    IN = "in"
    OUT = "out"
    REPEAT = "repeat"


@dataclass(frozen=True)
class PunchState:
    """What a clock point remembers of one staff member's business day."""

    staff_id: int
    business_date: date
    first_at: datetime
    last_at: datetime
    last_kind: PunchKind


@dataclass(frozen=True)
class Punch:
    kind: PunchKind
    business_date: date
    # For a repeat, the punch it repeats (so the display can show its time and kind).
    counted_kind: PunchKind
    counted_at: datetime
    state: PunchState


def business_date(now: datetime, tz: ZoneInfo = _JST, day_change: time = DAY_CHANGE) -> date:
    """The business day a moment belongs to: local date, shifted back before ``day_change``."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(tz)
    shift = timedelta(hours=day_change.hour, minutes=day_change.minute)
    return (local - shift).date()


def punch(
    prior: PunchState | None,
    *,
    staff_id: int,
    now: datetime,
    tz: ZoneInfo = _JST,
    explicit: PunchKind | None = None,
    day_change: time = DAY_CHANGE,
    repeat_window: timedelta = REPEAT_WINDOW,
) -> Punch:
    """Classify one granted tap at a clock point and return the punch and the new state."""
    if explicit is PunchKind.REPEAT:
        raise ValueError("explicit punch must be in or out")
    day = business_date(now, tz, day_change)
    same_day = prior is not None and prior.staff_id == staff_id and prior.business_date == day
    if prior is not None and same_day:
        elapsed = now - prior.last_at
        if timedelta(0) <= elapsed < repeat_window and (explicit is None
                                                       or explicit is prior.last_kind):
            return Punch(PunchKind.REPEAT, day, prior.last_kind, prior.last_at, prior)
        kind = explicit or PunchKind.OUT
        if now < prior.last_at:
            # A tap stamped earlier than the last counted one (clock moved back): it is still a
            # punch, but the remembered last punch stays the later one.
            return Punch(kind, day, kind, now, prior)
        state = replace(prior, last_at=now, last_kind=kind)
        return Punch(kind, day, kind, now, state)
    kind = explicit or PunchKind.IN
    state = PunchState(staff_id, day, now, now, kind)
    return Punch(kind, day, kind, now, state)


_KIND_JA = {PunchKind.IN: "出勤", PunchKind.OUT: "退勤"}
_KIND_EN = {PunchKind.IN: "clock-in", PunchKind.OUT: "clock-out"}


def feedback_text(p: Punch, name: str, tz: ZoneInfo = _JST, lang: str = "ja") -> str:
    """Reader feedback, e.g. 「おはようございます 山田さん 08:27 出勤」."""
    at = p.counted_at.astimezone(tz).strftime("%H:%M")
    counted = p.counted_kind
    if lang == "en":
        if p.kind is PunchKind.REPEAT:
            return f"Already recorded: {name} {at} {_KIND_EN[counted]}"
        greeting = "Good morning" if counted is PunchKind.IN else "Thank you for your work"
        return f"{greeting}, {name} {at} {_KIND_EN[counted]}"
    if p.kind is PunchKind.REPEAT:
        return f"打刻済みです {name}さん {at} {_KIND_JA[counted]}"
    greeting = "おはようございます" if counted is PunchKind.IN else "お疲れさまでした"
    return f"{greeting} {name}さん {at} {_KIND_JA[counted]}"
