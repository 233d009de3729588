"""Server-rendered SVG charts. Overtime per department against the 45/80/100 h lines
(the monthly caps of 人事院規則15-14: 45 h ordinary, 100 h and the 80 h average for
他律的業務); taps per hour per door; a lock's battery trend. Pure geometry: the template draws
what this computes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

CAP_LINES_H = (45, 80, 100)
WIDTH, LABEL_W, BAR_H, GAP, TOP = 760, 150, 22, 14, 28


@dataclass(frozen=True)
class Bar:
    department: str
    max_hours: float  # the member with the most overtime this month
    top_person: str  # 職員番号 and name of that member
    avg_hours: float
    y: int
    max_w: float
    avg_w: float
    over: int  # the highest cap line the maximum passes (0 when under 45 h)


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    lines: list[tuple[int, float]]  # (hours, x)
    height: int
    scale_h: float


def overtime_chart(rows: Iterable[tuple[str, str, int]]) -> Chart:
    """rows: (department name, 'number name', month overtime minutes) per staff member."""
    by_dept: dict[str, list[tuple[str, int]]] = {}
    for dept, person, minutes in rows:
        by_dept.setdefault(dept, []).append((person, minutes))
    top = max((m for ms in by_dept.values() for _, m in ms), default=0) / 60
    scale_h = max(110.0, top * 1.1)
    plot_w = WIDTH - LABEL_W - 10

    def x(hours: float) -> float:
        return round(plot_w * hours / scale_h, 1)

    bars = []
    for i, (dept, members) in enumerate(sorted(by_dept.items())):
        person, most = max(members, key=lambda pm: pm[1])
        max_h, avg_h = most / 60, sum(m for _, m in members) / len(members) / 60
        over = max((c for c in CAP_LINES_H if max_h > c), default=0)
        bars.append(Bar(dept, round(max_h, 1), person, round(avg_h, 1), TOP + i * (BAR_H + GAP),
                        x(max_h), x(avg_h), over))
    height = TOP + len(bars) * (BAR_H + GAP) + 10
    return Chart(bars, [(c, LABEL_W + x(c)) for c in CAP_LINES_H], height, scale_h)


TAP_W, TAP_LABEL_W, TAP_ROW_H, TAP_TOP = 760, 120, 56, 24
HOURS = 24


@dataclass(frozen=True)
class HourBar:
    x: float
    y: float
    height: float
    hour: int  # JST hour of day the bar counts
    taps: int


@dataclass(frozen=True)
class DoorRow:
    door: str
    y: int  # the row's baseline
    bars: list[HourBar]
    total: int


@dataclass(frozen=True)
class TapsChart:
    rows: list[DoorRow]
    hours: list[tuple[int, float]]  # (JST hour, x of the column's middle) for the axis
    bar_w: float
    height: int
    peak: int


def taps_chart(counts: dict[str, list[int]], first_hour: int = 0) -> TapsChart:
    """counts: door name → taps in each of the 24 hours of a business day that starts at JST
    ``first_hour``. One row of bars per door, all on one scale (the busiest hour's count)."""
    peak = max((c for cs in counts.values() for c in cs), default=0)
    bar_w = (TAP_W - TAP_LABEL_W - 10) / HOURS
    plot_h = TAP_ROW_H - 16
    rows = []
    for i, (door, cs) in enumerate(sorted(counts.items())):
        base = TAP_TOP + (i + 1) * TAP_ROW_H
        bars = []
        for h, n in enumerate(cs[:HOURS]):
            height = round(plot_h * n / peak, 1) if peak else 0.0
            bars.append(HourBar(round(TAP_LABEL_W + h * bar_w, 1), round(base - height, 1),
                                height, (first_hour + h) % HOURS, n))
        rows.append(DoorRow(door, base, bars, sum(cs[:HOURS])))
    axis = [((first_hour + h) % HOURS, round(TAP_LABEL_W + (h + 0.5) * bar_w, 1))
            for h in range(0, HOURS, 3)]
    return TapsChart(rows, axis, round(bar_w - 2, 1), TAP_TOP + len(rows) * TAP_ROW_H + 24,
                     peak)


TREND_W, TREND_H, TREND_PAD = 300, 80, 4


@dataclass(frozen=True)
class Trend:
    points: str  # an SVG polyline's points, oldest first
    threshold_y: float  # the low-battery line
    first: datetime | None
    last: datetime | None


def battery_trend(readings: Sequence[tuple[datetime, float]], low_percent: float) -> Trend:
    """A lock's battery over its telemetry (time on x, 0–100 % on y), for a small SVG."""
    rs = sorted(readings)

    def y(percent: float) -> float:
        return round(TREND_PAD + (TREND_H - 2 * TREND_PAD) * (1 - percent / 100), 1)

    if not rs:
        return Trend("", y(low_percent), None, None)
    span = (rs[-1][0] - rs[0][0]).total_seconds() or 1.0
    pts = " ".join(
        f"{round(TREND_PAD + (TREND_W - 2 * TREND_PAD) * (at - rs[0][0]).total_seconds() / span, 1)}"
        f",{y(p)}" for at, p in rs)
    return Trend(pts, y(low_percent), rs[0][0], rs[-1][0])
