"""Attendance rules: pure functions over frozen dataclasses, with ``now`` passed in.

Time inside a business day is handled as integer minutes since the day's start (the business
day change, 05:00 local by default), so 22:00–05:00 night work and work past midnight are plain
intervals ``[start, end)`` on one axis: 05:00 → 0, 08:30 → 210, 22:00 → 1020, 05:00 next → 1440.

Sources for every rule are in ``docs/attendance.md``. Nothing here touches a database.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import cached_property, lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from gate.business_day import DEFAULT_DAY_CHANGE, JST, BusinessDay

MINUTES_PER_DAY = 1440
_MINUTE = timedelta(minutes=1)

Interval = tuple[int, int]


class DayType(StrEnum):
    WORKDAY = "workday"  # 勤務日
    WEEKLY_OFF = "weekly_off"  # 週休日 (Sat/Sun by default, or moved there by 振替)
    HOLIDAY = "holiday"  # 休日 (祝日法 holidays, 年末年始, municipal closed days)
    COMPENSATORY = "compensatory"  # 代休日 (replaces a worked 休日)
    # A worked 休日 whose 休日給 moved to its 代休日 (給与法 §17): a day with scheduled hours
    # and no 休日給, so it is paid like a 勤務日.
    HOLIDAY_REPLACED = "holiday_replaced"


DAY_TYPE_JA = {DayType.WORKDAY: "勤務日", DayType.WEEKLY_OFF: "週休日", DayType.HOLIDAY: "休日",
               DayType.COMPENSATORY: "代休日", DayType.HOLIDAY_REPLACED: "休日(代休日指定)"}
# Days whose scheduled hours earn 休日給 when worked (給与法 §17): a 休日, or the 代休日 the
# 休日給 moved to. Overtime beyond those hours is 135/160, never 125/150 (給与法 §16(1)).
HOLIDAY_PAY_DAYS = frozenset({DayType.HOLIDAY, DayType.COMPENSATORY})
# Days with 正規の勤務時間 that are worked as such (flags: 遅刻, 早退, 記録なし).
SCHEDULED_WORK_DAYS = frozenset({DayType.WORKDAY, DayType.HOLIDAY_REPLACED})


class Bucket(StrEnum):
    """Overtime pay brackets (支給割合 in percent) and 休日勤務."""

    R125 = "125"  # 勤務日, outside hours, 05:00–22:00
    R135 = "135"  # 週休日 etc., 05:00–22:00
    R150 = "150"  # 勤務日, 22:00–05:00
    R160 = "160"  # 週休日 etc., 22:00–05:00
    R150_OVER60 = "150_over60"  # beyond 60 h in the month, daytime
    R175 = "175"  # beyond 60 h in the month, night
    HOLIDAY = "holiday"  # 休日勤務 (scheduled hours of a 休日), kept separately


BUCKETS: tuple[Bucket, ...] = tuple(Bucket)
_BUCKET_VALUES = tuple(b.value for b in BUCKETS)


class DivergenceReason(StrEnum):
    """Reasons for a 乖離 between time on the premises and approved overtime."""

    POST_ORDER = "post_order"  # 業務(事後命令)
    SELF_STUDY = "self_study"  # 自己啓発
    PRIVATE = "private"  # 私用
    FORGOT_PUNCH = "forgot_punch"  # 打刻忘れ
    BREAK = "break"  # 休憩
    OTHER = "other"  # その他


DIVERGENCE_REASON_JA = {
    DivergenceReason.POST_ORDER: "業務(事後命令)", DivergenceReason.SELF_STUDY: "自己啓発",
    DivergenceReason.PRIVATE: "私用", DivergenceReason.FORGOT_PUNCH: "打刻忘れ",
    DivergenceReason.BREAK: "休憩", DivergenceReason.OTHER: "その他"}


@dataclass(frozen=True)
class RuleConfig:
    tz: ZoneInfo = JST
    day_change: time = DEFAULT_DAY_CHANGE
    night_start: time = time(22, 0)
    night_end: time = time(5, 0)
    divergence_threshold_min: int = 30
    over60_threshold_min: int = 60 * 60
    weekly_off: frozenset[int] = frozenset({5, 6})  # Monday = 0
    future_margin_min: int = 10  # punches further ahead of arrival are quarantined

    def offset(self, t: time) -> int:
        """Minutes from the business-day start to local clock time ``t`` (0 ≤ m < 1440)."""
        m = t.hour * 60 + t.minute - (self.day_change.hour * 60 + self.day_change.minute)
        return m % MINUTES_PER_DAY

    @property
    def night(self) -> tuple[Interval, ...]:
        """The night window (22:00–05:00) as intervals on the business-day axis."""
        s, e = self.offset(self.night_start), self.offset(self.night_end) or MINUTES_PER_DAY
        if s < e:
            return ((s, e),)
        return ((0, e), (s, MINUTES_PER_DAY))

    @cached_property  # read once per staff-month: computed once per config
    def night_axis(self) -> tuple[Interval, ...]:
        """The night windows over the whole shift axis [-1440, 2880): a shift placed on its
        始業日 may start before the day change (a call-in at 04:30) or end after the next one."""
        return normalize((s + k * MINUTES_PER_DAY, e + k * MINUTES_PER_DAY)
                         for k in (-1, 0, 1) for s, e in self.night)

    @property
    def business_day(self) -> BusinessDay:
        return BusinessDay(self.tz, self.day_change)

    @property
    def day_change_minutes(self) -> int:
        return self.business_day.change_minutes


DEFAULT_CONFIG = RuleConfig()


@dataclass(frozen=True)
class WorkPattern:
    """Scheduled hours of a working day (default 8:30–17:15, break 12:00–13:00 = 7h45m)."""

    code: str = "standard"
    start: time = time(8, 30)
    end: time = time(17, 15)
    break_start: time | None = time(12, 0)
    break_end: time | None = time(13, 0)
    overnight: bool = False  # ends the next day (宿直, night shifts)

    def _on_axis(self, t: time, cfg: RuleConfig) -> int:
        m = cfg.offset(t)
        start = cfg.offset(self.start)
        # An overnight shift's later times lie on the next calendar day.
        return m + MINUTES_PER_DAY if self.overnight and m < start else m

    def schedule(self, cfg: RuleConfig = DEFAULT_CONFIG) -> Interval:
        s, e = cfg.offset(self.start), self._on_axis(self.end, cfg)
        return (s, e if e > s else e + MINUTES_PER_DAY)

    def break_interval(self, cfg: RuleConfig = DEFAULT_CONFIG) -> Interval | None:
        if self.break_start is None or self.break_end is None:
            return None
        a, b = self._on_axis(self.break_start, cfg), self._on_axis(self.break_end, cfg)
        return (a, b if b >= a else b + MINUTES_PER_DAY)

    @property
    def scheduled_minutes(self) -> int:
        s, e = self.schedule()
        b = self.break_interval()
        return e - s - (b[1] - b[0] if b else 0)


DEFAULT_PATTERN = WorkPattern()


# --- intervals --------------------------------------------------------------------------------

def normalize(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """Sorted, merged, non-empty intervals."""
    out: list[list[int]] = []
    for s, e in sorted(i for i in intervals if i[1] > i[0]):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return tuple((s, e) for s, e in out)


def subtract(a: Sequence[Interval], b: Sequence[Interval]) -> tuple[Interval, ...]:
    """Parts of ``a`` not covered by ``b`` (both normalized)."""
    out: list[Interval] = []
    for s, e in a:
        cur = s
        for bs, be in b:
            if be <= cur or bs >= e:
                continue
            if bs > cur:
                out.append((cur, bs))
            cur = max(cur, be)
            if cur >= e:
                break
        if cur < e:
            out.append((cur, e))
    return tuple(out)


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> tuple[Interval, ...]:
    """Overlap of two normalized interval lists (normalized)."""
    out: list[Interval] = []
    for s, e in a:
        for bs, be in b:
            lo = s if s > bs else bs
            hi = e if e < be else be
            if lo < hi:
                out.append((lo, hi))
    return tuple(out)


def total(intervals: Iterable[Interval]) -> int:
    n = 0
    for s, e in intervals:
        n += e - s
    return n


# --- calendar ---------------------------------------------------------------------------------

def business_date(at: datetime, cfg: RuleConfig = DEFAULT_CONFIG) -> date:
    """The business day a moment belongs to (``gate.business_day``)."""
    return cfg.business_day.date_of(at)


def day_start(day: date, cfg: RuleConfig = DEFAULT_CONFIG) -> datetime:
    """The aware moment the business day ``day`` begins (its day-change time, local)."""
    return cfg.business_day.start(day)


def classify_day(day: date, *, holidays: Mapping[date, str] | Iterable[date],
                 overrides: Mapping[date, DayType] | None = None,
                 cfg: RuleConfig = DEFAULT_CONFIG) -> DayType:
    """Day type: an override (振替, 代休日) wins, then the weekly 週休日, then 休日.

    A 祝日 or 年末年始 day on a 週休日 is a 週休日 (勤務時間法 §14: the 休日 is a day with
    正規の勤務時間; a 週休日 has none, so there is no 休日給). A 週休日 moved onto a 祝日 by
    振替 becomes a 勤務日 there, so that day is a 休日."""
    if overrides and day in overrides:
        kind = overrides[day]
        if kind is DayType.WORKDAY and day in holidays:
            return DayType.HOLIDAY
        return kind
    if day.weekday() in cfg.weekly_off:
        return DayType.WEEKLY_OFF
    if day in holidays:
        return DayType.HOLIDAY
    return DayType.WORKDAY


@lru_cache(maxsize=4096)
def record_day(iso: str, day_type: str) -> tuple[date, DayType]:
    """A stored staff-day record's date and day type. A month's records repeat the same few
    pairs, so each is parsed once."""
    return date.fromisoformat(iso), DayType(day_type)


def axis_bounds(cfg: RuleConfig = DEFAULT_CONFIG) -> Interval:
    """Where a business day's work may lie on its axis: from local midnight of its date
    (a call-in at 04:30 is -30) to local midnight two days later (a shift of up to 24 h)."""
    return (-cfg.day_change_minutes, 2 * MINUTES_PER_DAY - cfg.day_change_minutes)


def fiscal_year(day: date) -> int:
    """Japanese fiscal year (4/1–3/31) named by its starting calendar year."""
    return day.year if day.month >= 4 else day.year - 1


# --- leave (休暇) ----------------------------------------------------------------------------

class LeaveKind(StrEnum):
    ANNUAL = "annual"  # 年次休暇
    SPECIAL = "special"  # 特別休暇
    SICK = "sick"  # 病気休暇


class LeaveUnit(StrEnum):
    DAY = "day"  # 1日
    AM = "am"  # 午前 (scheduled start to the break)
    PM = "pm"  # 午後 (the break's end to the scheduled end)
    HOURS = "hours"  # 時間 (start and end given)


LEAVE_KIND_JA = {LeaveKind.ANNUAL: "年次休暇", LeaveKind.SPECIAL: "特別休暇",
                 LeaveKind.SICK: "病気休暇"}
LEAVE_UNIT_JA = {LeaveUnit.DAY: "日", LeaveUnit.AM: "午前", LeaveUnit.PM: "午後",
                 LeaveUnit.HOURS: "時間"}


def leave_interval(unit: LeaveUnit, schedule: Interval, breaks: Sequence[Interval],
                   hours: Interval | None = None) -> Interval:
    """The part of the scheduled day a leave covers, on the business-day axis."""
    s, e = schedule
    mid_s, mid_e = breaks[0] if breaks else ((s + e) // 2, (s + e) // 2)
    if unit is LeaveUnit.DAY:
        return (s, e)
    if unit is LeaveUnit.AM:
        return (s, mid_s)
    if unit is LeaveUnit.PM:
        return (mid_e, e)
    if hours is None:
        raise ValueError("hour leave needs its start and end")
    return hours


# --- daily attendance -------------------------------------------------------------------------

@dataclass(frozen=True)
class Point:
    """A moment the staff member was objectively seen: a clock punch or a granted door tap."""

    at: datetime
    source: str = "clock"  # clock | door
    hint: str | None = None  # in | out | repeat, as the reader labelled it (only a hint)


@dataclass(frozen=True)
class Correction:
    """An approved correction of the day's 出勤 (kind "in") or 退勤 ("out")."""

    kind: str
    at: datetime


class DailyLine(NamedTuple):
    """One staff-day of attendance (日次勤務実績). Immutable; a named tuple rather than a frozen
    dataclass because a month builds one per distinct staff-day (tens of thousands per
    chunk), and a frozen dataclass's ``__init__`` sets each of its 25 fields through
    ``object.__setattr__``: that alone was about a tenth of the month's export CPU."""

    business_date: date
    day_type: DayType
    day_start: datetime  # the moment the business day begins: minute 0 of its axis
    in_source: str | None  # clock | door | correction
    out_source: str | None
    premises: Interval | None  # 在庁 interval on the business-day axis
    premises_minutes: int  # 在庁時間
    break_minutes: int
    scheduled_minutes: int
    worked_in_schedule_minutes: int
    unscheduled: tuple[Interval, ...]  # presence outside the schedule (and outside the break)
    unscheduled_minutes: int
    in_minute: int | None  # 出勤, minutes since the business-day start
    out_minute: int | None  # 退勤
    late: bool = False  # 遅刻
    early: bool = False  # 早退
    missing_in: bool = False  # 出勤打刻漏れ
    missing_out: bool = False  # 退勤打刻漏れ
    in_progress: bool = False
    no_clock: bool = False  # seen at a door, but never punched
    absent: bool = False  # a working day with no record at all
    corrected: bool = False
    long_span: bool = False  # over 16 h on the premises: check before paying
    punches: int = 0
    leave_minutes: int = 0  # 休暇 inside the scheduled hours (a day, half-day or hours)

    @property
    def leave(self) -> bool:
        return self.leave_minutes > 0

    @property
    def first_in(self) -> datetime | None:
        """出勤 as a moment (built on demand: exports only need the minutes)."""
        return None if self.in_minute is None else self.day_start + _MINUTE * self.in_minute

    @property
    def last_out(self) -> datetime | None:
        """退勤 as a moment."""
        return None if self.out_minute is None else self.day_start + _MINUTE * self.out_minute

    @property
    def flags(self) -> tuple[str, ...]:
        if not (self.late or self.early or self.missing_in or self.missing_out
                or self.in_progress or self.no_clock or self.absent or self.corrected
                or self.long_span or self.leave_minutes):
            return ()
        return tuple(n for n in _FLAG_NAMES if getattr(self, n))


_FLAG_NAMES = ("late", "early", "missing_in", "missing_out", "in_progress", "no_clock", "absent",
               "corrected", "long_span", "leave")
LONG_SPAN_MIN = 16 * 60
FLAG_JA = {"late": "遅刻", "early": "早退", "missing_in": "出勤打刻漏れ",
           "missing_out": "退勤打刻漏れ", "in_progress": "勤務中", "no_clock": "打刻なし(入館記録あり)",
           "absent": "記録なし", "corrected": "訂正あり", "long_span": "在庁16時間超",
           "leave": "休暇"}


MAX_SHIFT_MIN = 24 * 60  # an 出勤 pairs with a 退勤 at most this much later


def pair_shifts(clock: Sequence[tuple[int, str | None]], max_shift: int
                ) -> tuple[list[tuple[int, int]], list[int]]:
    """Shifts paired by direction and sequence, as (出勤 index, 退勤 index) into ``clock``, and
    the indexes of punches that pair with nothing. ``clock`` holds (time, direction hint)
    sorted by time. An 出勤 opens a shift and the next 退勤 within ``max_shift`` closes it;
    an unlabelled punch never pairs."""
    shifts: list[tuple[int, int]] = []
    loose: list[int] = []
    open_: int | None = None
    for k, (t, hint) in enumerate(clock):
        if hint == "out" and open_ is not None and t - clock[open_][0] <= max_shift:
            shifts.append((open_, k))
            open_ = None
        elif hint == "in":
            if open_ is not None:
                loose.append(open_)
            open_ = k
        else:
            loose.append(k)
    if open_ is not None:
        loose.append(open_)
    return shifts, loose


def assign_days(clock: Sequence[tuple[int, str | None]], door: Sequence[int],
                starts: Sequence[int], day_change: int, unit: int = 1
                ) -> tuple[list[int], list[int]]:
    """The business day (an index into ``starts``) of every clock punch and door point.

    ``starts`` are the business days' start times, sorted, in the points' time unit (``unit``
    of them per minute); ``day_change`` is the day change in minutes after local midnight.
    A paired shift belongs to the day on which it started (始業日, 昭63.1.1 基発1号): the local
    date of its 出勤, so 08:30–翌05:40 is one shift with 退勤 29:40, and a call-in at 04:30 is
    the 早出 of that date. Only unpaired punches, and door points outside every shift, are
    placed by the day change. An index of -1 or ``len(starts)`` lies outside the period."""
    shifts, loose = pair_shifts(clock, MAX_SHIFT_MIN * unit)
    clock_day = [0] * len(clock)
    dc = day_change * unit
    spans: list[tuple[int, int, int]] = []
    for a, b in shifts:
        i = bisect_right(starts, clock[a][0] + dc) - 1
        clock_day[a] = clock_day[b] = i
        spans.append((clock[a][0], clock[b][0], i))
    for k in loose:
        clock_day[k] = bisect_right(starts, clock[k][0]) - 1
    span_starts = [sp[0] for sp in spans]
    door_day = []
    for t in door:
        j = bisect_right(span_starts, t) - 1
        door_day.append(spans[j][2] if j >= 0 and t <= spans[j][1]
                        else bisect_right(starts, t) - 1)
    return clock_day, door_day


def group_points(points: Iterable[Point], cfg: RuleConfig = DEFAULT_CONFIG
                 ) -> dict[date, list[Point]]:
    """Points per business day: a paired shift on its 始業日, other points by the day change."""
    pts = sorted(points, key=lambda p: p.at)
    if not pts:
        return {}
    first = business_date(pts[0].at, cfg) - timedelta(days=1)
    days = [first + timedelta(days=i)
            for i in range((business_date(pts[-1].at, cfg) - first).days + 2)]
    starts = [int(day_start(d, cfg).timestamp()) for d in days]
    clock = [p for p in pts if p.source == "clock"]
    door = [p for p in pts if p.source != "clock"]
    clock_day, door_day = assign_days([(int(p.at.timestamp()), p.hint) for p in clock],
                                      [int(p.at.timestamp()) for p in door], starts,
                                      cfg.day_change_minutes, unit=60)
    out: dict[date, list[Point]] = {}
    for p, i in [*zip(clock, clock_day, strict=True), *zip(door, door_day, strict=True)]:
        out.setdefault(days[i], []).append(p)
    return {d: sorted(v, key=lambda p: p.at) for d, v in sorted(out.items())}


def compute_day(day: date, day_type: DayType, points: Sequence[Point], *, now: datetime,
                pattern: WorkPattern = DEFAULT_PATTERN,
                corrections: Sequence[Correction] = (),
                cfg: RuleConfig = DEFAULT_CONFIG) -> DailyLine:
    """The day's line from its points (all belonging to business day ``day``).

    First clock punch = 出勤, last = 退勤. A single punch is an 出勤 or a 退勤 by its hint or by
    which half of the scheduled day it falls in; the other one is then missing. Because points
    are grouped per business day, a forgotten 退勤 never flips the next day's punches. Door taps
    extend the time on the premises (在庁) but never make a punch. Times count in whole minutes
    (seconds truncated)."""
    start0 = day_start(day, cfg)
    clock: list[tuple[int, str | None]] = []
    door: list[int] = []
    for p in points:
        m = int((p.at - start0).total_seconds() // 60)
        if p.source == "clock":
            clock.append((m, p.hint))
        else:
            door.append(m)
    clock.sort(key=lambda t: t[0])
    fixes = [(c.kind, int((c.at - start0).total_seconds() // 60)) for c in corrections]
    now_m = int((now - start0).total_seconds() // 60)
    return compute_day_minutes(day, day_type, clock, door, fixes, now_m,
                               PatternAxis.of(pattern, cfg), start0)


@dataclass(frozen=True)
class PatternAxis:
    """A work pattern placed on the business-day axis (precomputed once per pattern)."""

    schedule: Interval
    breaks: tuple[Interval, ...]
    sched: tuple[Interval, ...]
    scheduled_minutes: int
    simple: bool = False  # exactly one break, inside the schedule

    @classmethod
    def of(cls, pattern: WorkPattern, cfg: RuleConfig = DEFAULT_CONFIG) -> PatternAxis:
        schedule = pattern.schedule(cfg)
        brk = pattern.break_interval(cfg)
        breaks = normalize([brk]) if brk else ()
        simple = len(breaks) == 1 and schedule[0] <= breaks[0][0] and breaks[0][1] <= schedule[1]
        return cls(schedule, breaks, normalize([schedule]), pattern.scheduled_minutes, simple)


def compute_day_minutes(day: date, day_type: DayType, clock: Sequence[tuple[int, str | None]],
                        door: Sequence[int], corrections: Sequence[tuple[str, int]], now_m: int,
                        axis: PatternAxis, start0: datetime,
                        leave: Sequence[Interval] = ()) -> DailyLine:
    """``compute_day`` on minutes since ``start0``, the business-day start (clock sorted).

    ``leave`` (休暇) shortens the expected presence: 遅刻, 早退 and 記録なし are judged against
    the scheduled hours left, and time in leave is not 勤務時間."""
    schedule = axis.schedule
    in_m: int | None = None
    out_m: int | None = None
    in_src = out_src = None
    if len(clock) >= 2:
        in_m, in_src = clock[0][0], "clock"
        out_m, out_src = clock[-1][0], "clock"
    elif len(clock) == 1:
        m, hint = clock[0]
        is_in = hint == "in" or (hint != "out" and m < (schedule[0] + schedule[1]) // 2)
        if is_in:
            in_m, in_src = m, "clock"
        else:
            out_m, out_src = m, "clock"
    for kind, m in corrections:
        if kind == "in":
            in_m, in_src = m, "correction"
        else:
            out_m, out_src = m, "correction"
    if in_m is not None and out_m is not None and out_m < in_m:
        in_m, out_m, in_src, out_src = out_m, in_m, out_src, in_src
    over = now_m >= MINUTES_PER_DAY
    in_progress = in_m is not None and out_m is None and not over
    missing_out = in_m is not None and out_m is None and over
    missing_in = out_m is not None and in_m is None
    if door:
        seen = [m for m in (in_m, out_m) if m is not None]
        seen.extend(door)
        premises: Interval | None = (min(seen), max(seen)) if len(seen) >= 2 else None
    elif in_m is not None and out_m is not None:
        premises = (in_m, out_m)
    else:
        premises = None
    workday = day_type in SCHEDULED_WORK_DAYS
    holiday_pay = day_type in HOLIDAY_PAY_DAYS
    unscheduled: tuple[Interval, ...]
    off = normalize(leave) if workday and leave else ()
    expected = subtract(subtract(axis.sched, axis.breaks), off) if off else axis.sched
    if premises is not None and workday and not door and premises[0] < premises[1] \
            and axis.simple and not off:
        # The common case on one axis: a schedule [s, e) holding one break [bs, be).
        a, b = premises
        s_, e_ = schedule
        bs, be = axis.breaks[0]
        lo = a if a > bs else bs
        hi = b if b < be else be
        break_minutes = hi - lo if hi > lo else 0
        lo = a if a > s_ else s_
        hi = b if b < e_ else e_
        worked_in = (hi - lo if hi > lo else 0) - break_minutes
        if a < s_:
            before = (a, b if b < s_ else s_)
            unscheduled = (before, (a if a > e_ else e_, b)) if b > e_ else (before,)
        elif b > e_:
            unscheduled = ((a if a > e_ else e_, b),)
        else:
            unscheduled = ()
        pm = b - a
    elif premises is None or premises[0] == premises[1]:
        break_minutes = worked_in = 0
        unscheduled = ()
        pm = 0
    else:
        presence = (premises,)
        breaks = axis.breaks
        break_minutes = total(intersect(presence, breaks))
        if workday:
            worked_in = total(subtract(intersect(presence, axis.sched),
                                       normalize((*breaks, *off))))
            unscheduled = subtract(subtract(presence, axis.sched), breaks)
        else:
            # Every minute of a day off needs an order; on a 休日 or 代休日 the scheduled hours
            # worked are still shown as 勤務時間 (their pay is 休日勤務, not 時間外).
            worked_in = (total(subtract(intersect(presence, axis.sched), breaks))
                         if holiday_pay else 0)
            unscheduled = subtract(presence, breaks)
        pm = premises[1] - premises[0]
    corrected = bool(corrections)
    return DailyLine(
        business_date=day, day_type=day_type, day_start=start0,
        in_source=in_src, out_source=out_src, premises=premises, premises_minutes=pm,
        break_minutes=break_minutes,
        scheduled_minutes=axis.scheduled_minutes if workday or holiday_pay else 0,
        worked_in_schedule_minutes=worked_in, unscheduled=unscheduled,
        unscheduled_minutes=total(unscheduled), in_minute=in_m, out_minute=out_m,
        late=workday and in_m is not None and bool(expected) and in_m > expected[0][0],
        early=workday and out_m is not None and bool(expected) and out_m < expected[-1][1],
        missing_in=missing_in, missing_out=missing_out, in_progress=in_progress,
        no_clock=not clock and bool(door) and not corrected,
        absent=workday and not clock and not door and not corrected and over and bool(expected),
        corrected=corrected, long_span=pm > LONG_SPAN_MIN, punches=len(clock),
        leave_minutes=axis.scheduled_minutes - total(expected) if off else 0)


# --- overtime: 乖離, pay buckets, rounding, caps --------------------------------------------------

def paid_intervals(line: DailyLine, approved: Sequence[Interval]) -> tuple[Interval, ...]:
    """Overtime that counts: approved overtime that the objective record confirms."""
    return intersect(line.unscheduled, normalize(approved))


def divergence_minutes(line: DailyLine, approved: Sequence[Interval]) -> int:
    """乖離: time on the premises outside the schedule that no approved overtime covers."""
    return line.unscheduled_minutes - total(paid_intervals(line, approved))


@dataclass(frozen=True)
class OvertimeDay:
    """One day's paid overtime, for the monthly pay buckets."""

    day: date
    day_type: DayType
    intervals: tuple[Interval, ...]
    schedule: Interval = (210, 735)  # 08:30–17:15 on the default axis


def _split(intervals: Sequence[Interval], cuts: Iterable[int]) -> list[Interval]:
    points = sorted(set(cuts))
    out: list[Interval] = []
    for s, e in intervals:
        cur = s
        for c in points:
            if cur < c < e:
                out.append((cur, c))
                cur = c
        out.append((cur, e))
    return out


def month_buckets(days: Iterable[OvertimeDay], cfg: RuleConfig = DEFAULT_CONFIG) -> dict[str, int]:
    """Exact minutes per pay bracket for a month of paid overtime (days in any order).

    - 勤務日 (and a 休日 whose 休日給 moved to its 代休日): 125 by day, 150 at night;
    - 週休日: 135 by day, 160 at night;
    - 休日 and 代休日 (days for which 休日給 is paid, 給与法 §16(1)(i)): their scheduled hours
      are 休日勤務, kept separately and not counted towards 60 h; time beyond them is 135/160;
    - once the month's counted overtime passes 60 h: 150 by day, 175 at night.
    Every minute lands in exactly one bracket."""
    out = dict.fromkeys(_BUCKET_VALUES, 0)
    night = cfg.night_axis
    night_cuts = [c for iv in night for c in iv]
    cum = 0
    limit = cfg.over60_threshold_min
    for d in sorted(days, key=lambda d: d.day):
        ivs = normalize(d.intervals)
        if not ivs:
            continue
        holiday_pay = d.day_type in HOLIDAY_PAY_DAYS
        cuts = night_cuts + list(d.schedule) if holiday_pay else night_cuts
        other = holiday_pay or d.day_type is DayType.WEEKLY_OFF
        for s, e in _split(ivs, cuts):
            length = e - s
            if holiday_pay and d.schedule[0] <= s and e <= d.schedule[1]:
                out[Bucket.HOLIDAY] += length
                continue
            is_night = any(ns <= s and e <= ne for ns, ne in night)
            under = max(0, min(length, limit - cum))
            cum += length
            if is_night:
                out[Bucket.R160 if other else Bucket.R150] += under
                out[Bucket.R175] += length - under
            else:
                out[Bucket.R135 if other else Bucket.R125] += under
                out[Bucket.R150_OVER60] += length - under
    return out


WEEK_STANDARD_MIN = 38 * 60 + 45  # 週38時間45分 (勤務時間法 §5)


def moved_weekly_off_minutes(days: Iterable[tuple[date, int]], week_start: int = 6,
                             standard: int = WEEK_STANDARD_MIN) -> int:
    """Minutes paid +25 because a 週休日 moved into another week (給与法 §16: 正規の勤務時間
    beyond 38h45m in a week, 週40時間超 in the 規則). ``days`` are (day, scheduled minutes
    worked) of days with scheduled hours; weeks start on ``week_start`` (Sunday = 6)."""
    weeks: dict[int, int] = {}
    for d, worked in days:
        key = d.toordinal() - (d.weekday() - week_start) % 7  # the week's first day
        weeks[key] = weeks.get(key, 0) + worked
    return sum(w - standard for w in weeks.values() if w > standard)


def round_30(minutes: int) -> int:
    """Hours for payment: a remainder of 30 minutes or more rounds up, less rounds down."""
    hours, rest = divmod(minutes, 60)
    return hours + (1 if rest >= 30 else 0)


def round_buckets(buckets: Mapping[str, int]) -> dict[str, int]:
    """Monthly totals rounded per bracket (never the grand total), in hours."""
    return {k: round_30(v) for k, v in buckets.items()}


def cap_minutes(buckets: Mapping[str, int]) -> int:
    """Overtime counted against the caps: every bracket except 休日勤務."""
    return sum(v for k, v in buckets.items() if k != Bucket.HOLIDAY)


HIGH_EXTERNAL = "high_external"  # 他律的業務の比重が高い部署
_H = 60


def month_cap(overtime_class: str) -> int:
    """The monthly cap in minutes: 45 h, or (他律的業務) less than 100 h, shown as 100:00."""
    return 100 * _H if overtime_class == HIGH_EXTERNAL else 45 * _H


@dataclass(frozen=True)
class CapAlert:
    code: str  # alert_45h | alert_80h | alert_100h | month_cap | year_cap | avg_80h | months_over_45h | projection
    severity: str  # warning | exceeded | exceeded_special
    value_minutes: int
    limit_minutes: int
    message: str


@dataclass(frozen=True)
class CapInput:
    """Overtime minutes per (year, month) of one fiscal year, across departments.

    ``special_months``: the months in which the person has an approved 特例業務 order. Each
    order marks only its own month; an exceedance is ``exceeded_special`` only when the
    months without a 特例 order stay within the limit on their own."""

    overtime_class: str  # ordinary | high_external
    months: Mapping[tuple[int, int], int]
    current: tuple[int, int]
    special_months: frozenset[tuple[int, int]] = frozenset()
    projected_month_minutes: int | None = None
    months_before: Mapping[tuple[int, int], int] = field(default_factory=dict)


def _prev(ym: tuple[int, int], n: int) -> tuple[int, int]:
    y, m = ym
    idx = y * 12 + (m - 1) - n
    return (idx // 12, idx % 12 + 1)


def _severity(inp: CapInput, window: Mapping[tuple[int, int], int], within: int) -> str:
    """exceeded_special when the window's months without a 特例 order keep to ``within``
    minutes: the 特例 months alone carry it over (人事院規則15-14 §16条の2の2 ③)."""
    plain = sum(v for k, v in window.items() if k not in inp.special_months)
    special = any(k in inp.special_months for k in window)
    return "exceeded_special" if special and plain <= within else "exceeded"


def _high_external(inp: CapInput, cur: int, alerts: list[CapAlert]) -> None:
    h = _H
    cur_only = {inp.current: cur}
    if cur >= 100 * h:
        alerts.append(CapAlert("month_cap", _severity(inp, cur_only, 100 * h - 1), cur, 100 * h,
                               "月100時間未満の上限を超えました"))
    fy_total = sum(inp.months.values())
    if fy_total > 720 * h:
        alerts.append(CapAlert("year_cap", _severity(inp, inp.months, 720 * h), fy_total,
                               720 * h, "年720時間の上限を超えました"))
    every = {**inp.months_before, **inp.months}
    for n in range(2, 7):
        window = {_prev(inp.current, i): every.get(_prev(inp.current, i), 0) for i in range(n)}
        total = sum(window.values())
        if total > 80 * h * n:  # exact: an average of 4,800.5 min is over 4,800
            alerts.append(CapAlert("avg_80h", _severity(inp, window, 80 * h * n), total // n,
                                   80 * h, f"{n}か月平均80時間の上限を超えました"))
            break
    over45 = [k for k, v in inp.months.items() if v > 45 * h]
    if len(over45) > 6:
        plain = sum(1 for k in over45 if k not in inp.special_months)
        sev = "exceeded_special" if plain <= 6 else "exceeded"
        alerts.append(CapAlert("months_over_45h", sev, len(over45), 6,
                               "月45時間超は年6か月までです"))


def check_caps(inp: CapInput) -> tuple[CapAlert, ...]:
    """Caps of 人事院規則15-14 as municipalities adopt them, and the 45/80/100 h alerts."""
    h = _H
    cur = inp.months.get(inp.current, 0)
    alerts: list[CapAlert] = []
    for level in (100, 80, 45):
        if cur >= level * h:
            alerts.append(CapAlert(f"alert_{level}h", "warning", cur, level * h,
                                   f"時間外勤務が月{level}時間に達しました"))
            break
    if inp.overtime_class == HIGH_EXTERNAL:
        _high_external(inp, cur, alerts)
        month_limit = 100 * h - 1
    else:
        if cur > 45 * h:
            alerts.append(CapAlert("month_cap", _severity(inp, {inp.current: cur}, 45 * h), cur,
                                   45 * h, "月45時間の上限を超えました"))
        fy_total = sum(inp.months.values())
        if fy_total > 360 * h:
            alerts.append(CapAlert("year_cap", _severity(inp, inp.months, 360 * h), fy_total,
                                   360 * h, "年360時間の上限を超えました"))
        month_limit = 45 * h
    proj = inp.projected_month_minutes
    if proj is not None and proj > month_limit and cur <= month_limit:
        alerts.append(CapAlert("projection", "warning", proj, month_limit,
                               "今月の見込みが上限を超えます"))
    return tuple(alerts)


def project_month(minutes_so_far: int, elapsed_workdays: int, total_workdays: int) -> int:
    """Linear projection of the month's overtime from the working days elapsed."""
    if elapsed_workdays <= 0:
        return minutes_so_far
    return minutes_so_far * total_workdays // elapsed_workdays


# --- exported months stay frozen ---------------------------------------------------------------

@dataclass(frozen=True)
class Amendment:
    """A staff-day of an exported (frozen) month whose recomputation differs."""

    key: tuple[int, date]
    exported: Mapping[str, object] | None
    current: Mapping[str, object] | None


def reconcile(fresh: Mapping[tuple[int, date], Mapping[str, object]],
              frozen: Mapping[tuple[int, date], Mapping[str, object]],
              frozen_periods: Iterable[tuple[date, date]]
              ) -> tuple[dict[tuple[int, date], Mapping[str, object]], list[Amendment]]:
    """What an export may show: frozen lines stay as exported; differences become amendments.

    ``fresh`` holds freshly computed lines, ``frozen`` the exported ones; any key whose date
    falls inside a frozen period is served from ``frozen`` (or left out, if it was not there)."""
    periods = tuple(frozen_periods)

    def is_frozen(d: date) -> bool:
        return any(a <= d <= b for a, b in periods)

    effective: dict[tuple[int, date], Mapping[str, object]] = {}
    amendments: list[Amendment] = []
    for key in sorted(set(fresh) | set(frozen)):
        new, old = fresh.get(key), frozen.get(key)
        if is_frozen(key[1]):
            if old is not None:
                effective[key] = old
            if new != old:
                amendments.append(Amendment(key, old, new))
        elif new is not None:
            effective[key] = new
    return effective, amendments
