"""The snapshot table's small pure parts: the reader display's family name, and the collector
pause around a table read."""

from __future__ import annotations

import gc

from hypothesis import given
from hypothesis import strategies as st

from api.snapshot.tables import collector_paused, display_name

SPACES = [" ", "\u3000", "\t", "  ", " \u3000"]
words = st.text(st.characters(blacklist_categories=("Zs", "Zl", "Zp", "Cc")), min_size=1,
                max_size=6)


@given(st.lists(words, min_size=1, max_size=4), st.sampled_from(SPACES),
       st.sampled_from(["", " ", "\u3000"]))
def test_display_name_is_the_first_word(parts: list[str], sep: str, pad: str) -> None:
    assert display_name(pad + sep.join(parts) + pad) == parts[0]


@given(st.sampled_from(["", " ", "\u3000", " \u3000 "]))
def test_a_blank_name_stays_as_it_is(name: str) -> None:
    assert display_name(name) == name


def test_display_name_of_a_japanese_full_name() -> None:
    assert display_name("山田\u3000太郎") == "山田"
    assert display_name("佐藤 花子") == "佐藤"


def test_collector_paused_restores_the_collector_state() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner pause does not re-enable the outer one's
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # a collector off before stays off
    finally:
        gc.enable()
