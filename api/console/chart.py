"""A server-rendered SVG bar chart: overtime per department against the 45/80/100 h lines
(the monthly caps of 人事院規則15-14: 45 h ordinary, 100 h and the 80 h average for
他律的業務). Pure geometry: the template draws what this computes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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
