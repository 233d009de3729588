"""The operations charts' geometry (pure functions) and the battery prediction the locks page
shows (``gate.pin.rules.battery_days_left``), with hypothesis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import assume, given
from hypothesis import strategies as st

from api.console.chart import TAP_ROW_H, TREND_H, TREND_PAD, battery_trend, taps_chart
from gate.pin.rules import BatteryReading, battery_days_left

T0 = datetime(2026, 4, 1, tzinfo=UTC)
hours = st.lists(st.integers(0, 500), min_size=24, max_size=24)


@given(st.dictionaries(st.text(min_size=1, max_size=8), hours, max_size=6),
       st.integers(0, 23))
def test_taps_chart_bars_share_one_scale(counts, first_hour) -> None:
    chart = taps_chart(counts, first_hour)
    peak = max((c for cs in counts.values() for c in cs), default=0)
    assert chart.peak == peak and [r.door for r in chart.rows] == sorted(counts)
    for row in chart.rows:
        assert row.total == sum(counts[row.door])
        assert [b.taps for b in row.bars] == counts[row.door]
        assert [b.hour for b in row.bars] == [(first_hour + h) % 24 for h in range(24)]
        for b in row.bars:
            assert 0 <= b.height <= TAP_ROW_H - 16 and b.y + b.height == row.y
            if peak and b.taps == peak:
                assert b.height == TAP_ROW_H - 16  # the busiest hour fills its row
            assert (b.height > 0) is (b.taps > 0)  # one tap in 500 still shows
    xs = [b.x for b in chart.rows[0].bars] if chart.rows else []
    assert xs == sorted(xs)


def test_taps_chart_of_a_quiet_day() -> None:
    chart = taps_chart({"正面玄関": [0] * 24})
    assert chart.peak == 0 and all(b.height == 0 for b in chart.rows[0].bars)


@given(st.lists(st.tuples(st.integers(0, 10_000), st.floats(0, 100)), min_size=1,
                max_size=60, unique_by=lambda r: r[0]), st.floats(0, 100))
def test_battery_trend_stays_in_its_box(readings, low) -> None:
    rs = [(T0 + timedelta(hours=h), p) for h, p in readings]
    trend = battery_trend(rs, low)
    points = [tuple(map(float, p.split(","))) for p in trend.points.split()]
    assert len(points) == len(rs) and trend.first == min(rs)[0] and trend.last == max(rs)[0]
    for x, y in points:
        assert TREND_PAD <= x <= 300 - TREND_PAD and TREND_PAD <= y <= TREND_H - TREND_PAD
    assert [x for x, _ in points] == sorted(x for x, _ in points)  # oldest first
    full, empty = battery_trend([(T0, 100.0)], 0.0), battery_trend([(T0, 0.0)], 0.0)
    assert full.points.endswith(f",{TREND_PAD}.0") and empty.points.endswith(
        f",{TREND_H - TREND_PAD}.0")


def test_battery_trend_without_readings() -> None:
    trend = battery_trend([], 20.0)
    assert trend.points == "" and trend.first is None and trend.threshold_y == 61.6


@given(st.floats(0.5, 20), st.integers(2, 30), st.floats(30, 100), st.floats(0, 3))
def test_a_steady_drain_predicts_level_over_rate(rate, n, start, elapsed_days) -> None:
    """Idle drain of ``rate`` points a day: days left = level / rate, less the days since the
    last reading."""
    assume(start - rate * (n - 1) > 0)  # not emptied on the way
    rs = [BatteryReading(T0 + timedelta(days=i), start - rate * i) for i in range(n)]
    now = rs[-1].at + timedelta(days=elapsed_days)
    left = battery_days_left(rs, now)
    assert left is not None
    assert abs(left - (rs[-1].percent / rate - elapsed_days)) < 1e-6 * max(1.0, left)


@given(st.lists(st.floats(0, 99.5), min_size=2, max_size=20))
def test_a_new_battery_forgets_the_old_one(levels) -> None:
    """Readings before a battery change (a rise) never change the prediction."""
    old = [BatteryReading(T0 + timedelta(days=i), p) for i, p in enumerate(levels)]
    t = old[-1].at + timedelta(days=1)
    new = [BatteryReading(t, 100.0), BatteryReading(t + timedelta(days=1), 90.0),
           BatteryReading(t + timedelta(days=2), 80.0)]
    now = new[-1].at
    assert battery_days_left(old + new, now) == battery_days_left(new, now)
    assert abs(battery_days_left(new, now) - 8.0) < 1e-9  # type: ignore[operator]
