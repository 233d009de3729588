"""The weekly hours typed on the access page, one window a line, read back as the admin API's
own windows; a bad line is named by its number."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.console.access_forms import FormError, parse_windows

JA_DAYS = "月火水木金土日"


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 1439), st.integers(1, 1440))
                .filter(lambda w: w[1] < w[2]), max_size=10))
def test_typed_windows_read_back_as_the_same_windows(windows: list[tuple[int, int, int]]
                                                     ) -> None:
    text = "\n".join(f"{JA_DAYS[d]} {_hhmm(s)}-{_hhmm(e)}" for d, s, e in windows)
    assert [(w.weekday, w.start_minute, w.end_minute) for w in parse_windows(text)] == windows


def test_several_days_on_a_line_and_english_names() -> None:
    got = parse_windows("月、火 08:30-17:15\n\nSat 09:00 〜 12:00")
    assert [(w.weekday, w.start_minute, w.end_minute) for w in got] == [
        (0, 510, 1035), (1, 510, 1035), (5, 540, 720)]


@given(st.integers(0, 1440), st.integers(0, 1440))
def test_a_window_not_moving_forward_is_refused_on_its_line(start: int, end: int) -> None:
    if start < end:
        start, end = end, start
    with pytest.raises(FormError) as err:
        parse_windows(f"月 08:00-09:00\n火 {_hhmm(start)}-{_hhmm(end)}")
    assert err.value.errors == {"windows": [2]}


def test_every_bad_line_is_named() -> None:
    with pytest.raises(FormError) as err:
        parse_windows("木曜 9時\n月 08:00-09:00\n金 08:60-09:00\n祝 08:00-09:00")
    assert err.value.errors == {"windows": [1, 3, 4]}
