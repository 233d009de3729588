"""Clock-point punch rules: 出勤 (in) and 退勤 (out) from taps, pure and with ``now`` passed in.

- Taps alternate by sequence: after a counted 出勤 the next tap is a 退勤, otherwise an 出勤.
  Explicit in/out buttons override this. The service pairs punches into shifts by this
  direction and places each shift on the day it started (始業日).
- An open shift stays open across midnight and the business-day change (``gate.business_day``)
  until ``SHIFT_OVERRUN`` after the next day change (08:00 by default), and for at most 24 h: a
  shift 08:30–翌05:40 closes with a 退勤, but a forgotten 退勤 never turns the next morning's tap
  (after 08:00) into a 退勤. A call-in at 04:30 after the day's 退勤 is an 出勤.
- A tap within 60 s of the last counted punch is a repeat, not a new punch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from .business_day import DEFAULT_DAY_CHANGE, JST, BusinessDay
from .messages import N_, Translate

__all__ = [
    "DAY_CHANGE",
    "MAX_SHIFT",
    "REPEAT_WINDOW",
    "SHIFT_OVERRUN",
    "Punch",
    "PunchKind",
    "PunchState",
    "business_date",
    "feedback_text",
    "overtime_text",
    "punch",
]

DAY_CHANGE = DEFAULT_DAY_CHANGE
REPEAT_WINDOW = timedelta(seconds=60)
SHIFT_OVERRUN = timedelta(hours=3)  # an open shift may close until 08:00 the next day
MAX_SHIFT = timedelta(hours=24)


class PunchKind(StrEnum):
    IN = "in"
    OUT = "out"
    REPEAT = "repeat"


@dataclass(frozen=True)
class PunchState:
    """What a clock point remembers of one staff member's last counted punch."""

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


def business_date(now: datetime, tz: ZoneInfo = JST, day_change: time = DAY_CHANGE) -> date:
    """The business day a moment belongs to (``BusinessDay.date_of``)."""
    return BusinessDay(tz, day_change).date_of(now)


def _closes_shift(prior: PunchState, now: datetime, tz: ZoneInfo, day_change: time,
                  overrun: timedelta) -> bool:
    """Whether a tap closes the shift that ``prior``'s 出勤 opened."""
    if prior.last_kind is not PunchKind.IN or not timedelta(0) <= now - prior.last_at <= MAX_SHIFT:
        return False
    started = prior.last_at.astimezone(tz).date()  # 始業日
    return now < BusinessDay(tz, day_change).end(started) + overrun


def punch(
    prior: PunchState | None,
    *,
    staff_id: int,
    now: datetime,
    tz: ZoneInfo = JST,
    explicit: PunchKind | None = None,
    day_change: time = DAY_CHANGE,
    repeat_window: timedelta = REPEAT_WINDOW,
    overrun: timedelta = SHIFT_OVERRUN,
) -> Punch:
    """Classify one granted tap at a clock point and return the punch and the new state."""
    if explicit is PunchKind.REPEAT:
        raise ValueError("explicit punch must be in or out")
    day = business_date(now, tz, day_change)
    if prior is None or prior.staff_id != staff_id:
        kind = explicit or PunchKind.IN
        return Punch(kind, day, kind, now, PunchState(staff_id, day, now, now, kind))
    elapsed = now - prior.last_at
    if timedelta(0) <= elapsed < repeat_window and (explicit is None
                                                   or explicit is prior.last_kind):
        return Punch(PunchKind.REPEAT, day, prior.last_kind, prior.last_at, prior)
    closes = _closes_shift(prior, now, tz, day_change, overrun)
    kind = explicit or (PunchKind.OUT if closes else PunchKind.IN)
    if now < prior.last_at:
        # A tap stamped earlier than the last counted one (clock moved back): it is still a
        # punch, but the remembered last punch stays the later one.
        return Punch(kind, day, kind, now, prior)
    first = prior.first_at if kind is PunchKind.OUT and closes else now
    state = PunchState(staff_id, day, first, now, kind)
    return Punch(kind, day, kind, now, state)


# The reader's clock texts (msgids; the caller passes its catalog's gettext, see gate.messages).
_GREETINGS = {PunchKind.IN: N_("Good morning, {name} {at} clock-in"),
              PunchKind.OUT: N_("Thank you for your work, {name} {at} clock-out")}
_REPEATS = {PunchKind.IN: N_("Already recorded: {name} {at} clock-in"),
            PunchKind.OUT: N_("Already recorded: {name} {at} clock-out")}


def feedback_text(p: Punch, name: str, gettext: Translate, tz: ZoneInfo = JST) -> str:
    """Reader feedback, e.g. 「おはようございます 山田さん 08:27 出勤」."""
    at = p.counted_at.astimezone(tz).strftime("%H:%M")
    table = _REPEATS if p.kind is PunchKind.REPEAT else _GREETINGS
    return gettext(table[p.counted_kind]).format(name=name, at=at)


def _hmm(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def overtime_text(minutes: int, cap_minutes: int, gettext: Translate) -> str:
    """The 退勤 line of the month's overtime against the cap, e.g. 「今月の時間外 32:15 / 45:00」:
    staff see a cap coming before HR does."""
    if minutes < 0 or cap_minutes <= 0:
        raise ValueError("overtime minutes must be >= 0 and the cap > 0")
    return gettext(N_("Overtime this month {minutes} / {cap}")).format(
        minutes=_hmm(minutes), cap=_hmm(cap_minutes))
