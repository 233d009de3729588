"""The overtime chart: geometry (pure) and the page, with 職員番号 and names, not ids."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.console.chart import CAP_LINES_H, LABEL_W, WIDTH, overtime_chart
from tests.console.conftest import assert_no_internal_ids

rows_st = st.lists(st.tuples(st.sampled_from(["総務課", "税務課", "福祉課"]), st.text(max_size=8),
                             st.integers(0, 300 * 60)), max_size=20)


@given(rows_st)
def test_bars_stay_inside_and_lines_keep_their_order(rows) -> None:  # type: ignore[no-untyped-def]
    chart = overtime_chart(rows)
    assert len(chart.bars) == len({d for d, _, _ in rows})
    xs = [x for _, x in chart.lines]
    assert xs == sorted(xs) and [h for h, _ in chart.lines] == list(CAP_LINES_H)
    for b in chart.bars:
        assert 0 <= b.avg_w <= b.max_w and LABEL_W + b.max_w <= WIDTH
        assert b.over == max((c for c in CAP_LINES_H if b.max_hours > c), default=0) or \
            abs(b.max_hours - b.over) < 0.1


def test_a_bar_past_the_45_hour_line_is_marked() -> None:
    chart = overtime_chart([("総務課", "1001 山田太郎", 50 * 60), ("総務課", "1002 佐藤花子", 0)])
    (bar,) = chart.bars
    assert (bar.max_hours, bar.avg_hours, bar.over, bar.top_person) == (50.0, 25.0, 45,
                                                                        "1001 山田太郎")
    line45 = dict(chart.lines)[45]
    assert LABEL_W + bar.max_w > line45 > LABEL_W + bar.avg_w


@pytest.mark.postgres
def test_overtime_page_draws_the_departments(console, world) -> None:
    r = console.get("/console/overtime", params={"month": world.saturday.strftime("%Y-%m")})
    assert r.status_code == 200 and "所属別の超過勤務" in r.text and "<svg" in r.text
    assert "総務課" in r.text and re.search(r"100[123] ", r.text)  # 職員番号 and name
    assert_no_internal_ids(r.text)
    assert [f"{h} h" in r.text for h in CAP_LINES_H] == [True] * 3
    assert console.get("/console/overtime", params={"month": "2026-13x"}).status_code == 422
