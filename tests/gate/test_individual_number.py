"""The one individual-number guard (issue 9, finding 6): any way of writing 12 digits is
refused; ordinary Japanese text, phone numbers, dates, postal codes and times pass."""

from __future__ import annotations

import itertools
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gate.individual_number import (
    _SCANNED,
    KANJI_DIGITS,
    REDACTED,
    SEPARATORS,
    holds_individual_number,
    normalise_digits,
    redact,
)

ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
# Every way of writing one digit: ASCII, full-width, kanji (both kinds), Arabic-Indic,
# Devanagari, mathematical bold, circled (NFKC), superscript (NFKC).
FORMS = [
    lambda d: str(d),
    lambda d: chr(0xFF10 + d),
    lambda d: "〇一二三四五六七八九"[d],
    lambda d: "零壱弐参"[d] if d < 4 else str(d),
    lambda d: chr(0x0660 + d),
    lambda d: chr(0x0966 + d),
    lambda d: chr(0x1D7CE + d),
    lambda d: "⓪①②③④⑤⑥⑦⑧⑨"[d],
    lambda d: "⁰¹²³⁴⁵⁶⁷⁸⁹"[d],
]
SEPARATOR_CHARS = list(SEPARATORS) + [" ", "\u3000", "\t", "\n", "\u00a0", "－", "／", "．",
                                      "ｰ", "・"]
# Text around the number: kana, kanji that are no numerals, Latin letters, punctuation that
# is not a separator.
WORDS = st.text(alphabet=st.sampled_from(list("あいうえおかきくけこさしすせそアイウエオ山田花子"
                                              "役場申請番号記録欄はをにのですXYZabc:;()「」、。")),
                max_size=6)


@st.composite
def twelve_digits_written(draw: st.DrawFn, words: st.SearchStrategy[str] = WORDS) -> str:
    digits = draw(st.lists(st.integers(0, 9), min_size=12, max_size=12))
    out = draw(words)
    for i, d in enumerate(digits):
        if i and draw(st.booleans()):
            out += "".join(draw(st.lists(st.sampled_from(SEPARATOR_CHARS), min_size=1,
                                         max_size=3)))
        if draw(st.integers(0, 4)) == 0:
            out += draw(st.sampled_from(ZERO_WIDTH))
        out += draw(st.sampled_from(FORMS))(d)
    return out + draw(words)


@given(twelve_digits_written())
def test_any_way_of_writing_12_digits_is_refused(text: str) -> None:
    assert holds_individual_number(text), repr(text)


# Without words around: "9" + ":00.0000000000" would make a clock time of its first digits.
@given(twelve_digits_written(st.just("")), st.integers(1, 8).map(lambda n: "9" * n))
def test_more_digits_around_the_12_do_not_hide_them(text: str, more: str) -> None:
    assert holds_individual_number(more + text + more)


@pytest.mark.parametrize("text", [
    "1234.5678.9012", "1234/5678/9012", "1234\u20105678\u20109012", "1234ー5678ー9012",
    "12\u200b34\u200b5678\u200b9012", "１２３４５６７８９０１２", "一二三四 五六七八 九〇一二",
    "壱弐参四五六七八九〇壱弐", "1234 - 5678 - 9012", "個人番号:123456789012です",
    "1234,5678,9012", "1234\n5678\n9012",
])
def test_the_bypasses_of_finding_6_are_refused(text: str) -> None:
    assert holds_individual_number(text)


@st.composite
def phone(draw: st.DrawFn) -> str:
    area = draw(st.sampled_from(["0X-XXXX-XXXX", "0XX-XXX-XXXX", "0XXX-XX-XXXX", "0X0-XXXX-XXXX",
                                 "0120-XXX-XXX", "0XXXXXXXXX", "0X0XXXXXXXX"]))
    out = ""
    for i, ch in enumerate(area):
        if ch == "X":
            out += str(draw(st.integers(1 if i == 1 else 0, 9)))
        else:
            out += ch
    return out


@st.composite
def date(draw: st.DrawFn) -> str:
    y, m, d = draw(st.integers(1990, 2100)), draw(st.integers(1, 12)), draw(st.integers(1, 31))
    return draw(st.sampled_from([f"{y}年{m}月{d}日", f"{y}-{m:02d}-{d:02d}", f"{y}/{m}/{d}",
                                 f"令和{y - 2018}年{m}月{d}日", f"{m}/{d}"]))


@st.composite
def number_token(draw: st.DrawFn) -> str:
    return draw(st.one_of(
        phone(), date(),
        st.tuples(st.integers(0, 999), st.integers(0, 9999)).map(
            lambda t: f"〒{t[0]:03d}-{t[1]:04d}"),
        st.tuples(st.integers(0, 29), st.integers(0, 59)).map(lambda t: f"{t[0]}:{t[1]:02d}"),
        st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda t: f"{t[0]}時{t[1]}分"),
        st.integers(0, 99999).map(lambda n: f"{n}円"),
        st.tuples(st.integers(1, 999), st.integers(1, 99)).map(lambda t: f"{t[0]}-{t[1]}"),
    ))


# Words with kanji numerals inside (a numeral right after a number would be one more digit).
NUMERAL_WORDS = st.sampled_from(["第一会議室", "第三者", "宮地二区", "の一の宮町", "旧五町", "十一月"])


@given(st.lists(st.tuples(number_token(), st.one_of(WORDS.filter(bool), NUMERAL_WORDS)),
                max_size=6))
def test_ordinary_japanese_text_passes(parts: list[tuple[str, str]]) -> None:
    text = "".join(num + word for num, word in parts)
    assert not holds_individual_number(text), repr(text)


@given(st.lists(phone(), min_size=2, max_size=4),
       st.sampled_from([" ", "/", " / ", "・", ", ", "\n"]))
def test_phone_numbers_side_by_side_pass(phones: list[str], sep: str) -> None:
    assert not holds_individual_number(sep.join(phones))


@pytest.mark.parametrize("text", [
    "0967-22-3111", "090-1234-5678", "09012345678", "0120-123-456", "〒761-4192",
    "2026年11月29日", "2026-11-29", "二〇二六年十一月二十九日", "9:00-17:15", "25:30",
    "TEL 0967-22-3111 FAX 0967-22-3112", "0967-22-3111/090-1234-5678",
    "〒869-2612 熊本県阿蘇市一の宮町宮地504-1", "2026/11/29 10:00-2026/11/30 12:00",
    "+81-967-22-3111", "山田 陸", "一二三四五六七八九〇一",  # 11 kanji digits
])
def test_documented_examples_pass(text: str) -> None:
    assert not holds_individual_number(text)


@pytest.mark.parametrize("text", [
    # Two numbers joined by a short separator make one run: write a word or 、 between them.
    "090-1234-5678 1名", "0967-22-3111 2026-11-29", "2026/11/29-2026/12/01",
    # 12 digits or more is refused even when it is something else.
    "+81 90-1234-5678", "1234567890123", "0123-4567-8901",
])
def test_documented_refusals(text: str) -> None:
    assert holds_individual_number(text)


@given(st.text(max_size=40))
def test_a_refused_text_holds_12_digits_once_normalised(text: str) -> None:
    # The guard skips texts shorter than 12 characters after normalising: sound only if
    # nothing is refused with fewer digits than that.
    if holds_individual_number(text):
        assert sum(c in "0123456789" for c in normalise_digits(text)) >= 12


def test_characters_that_normalise_to_several_digits_count_after_normalising() -> None:
    # Six characters, each ⒓ ("12." under NFKC): short as written, 12 digits once normalised.
    assert holds_individual_number("\u2493" * 6)


def test_kanji_digit_table_is_digit_for_digit() -> None:
    assert sorted(set(KANJI_DIGITS.values())) == list("0123456789")


def test_redact_replaces_only_strings_that_hold_12_digits() -> None:
    twelve = "1234 5678 9012"
    data = {"error": f"bad record {twelve}", "apdus": 7, "nested": [{"x": twelve}, "ok"],
            "phone": "0967-22-3111"}
    assert redact(data) == {"error": REDACTED, "apdus": 7, "nested": [{"x": REDACTED}, "ok"],
                            "phone": "0967-22-3111"}
    assert not holds_individual_number(REDACTED)


def test_the_scanned_ranges_hold_every_format_character_and_digit() -> None:
    """The translation table is built from part of Unicode; nothing it must map lies outside
    (this Python's Unicode database, the whole code space)."""
    scanned = set(itertools.chain(*_SCANNED))
    outside = [cp for cp in range(0x110000) if cp not in scanned and cp >= 0x80
               and unicodedata.category(chr(cp)) in ("Cf", "Nd")]
    assert outside == []
    assert normalise_digits("\u0663\u200b\u096a\ufeff３") == "343"
