"""The one guard that keeps the individual number (個人番号) out of stored free text.

The 12-digit individual number must never be stored. Every free-text field and header the
service stores passes through :func:`holds_individual_number`; the rule (docs/security.md,
"The individual-number guard") is:

1. The text is normalised: NFKC (full-width digits and punctuation become ASCII, ① becomes 1);
   every format character (Unicode category Cf: zero-width space and joiners U+200B–U+200D, word
   joiner U+2060, BOM U+FEFF, soft hyphen …) is dropped; every decimal digit of any script and
   the kanji numerals 〇一二三四五六七八九 零 壱壹 弐貳 参參 become ASCII digits.
2. Digit groups separated by a gap of one to three separator characters join into one *run*.
   Separators: whitespace, ``. , / \\ - _``, ``・``, ``ー`` and the dashes U+2010–U+2015, U+2212.
   A clock time (``9:00``, ``25:30``) is a word of its own and never part of a run.
3. A run of 12 or more digits is refused, unless it splits at its group boundaries into
   Japanese phone numbers only (each 10 or 11 digits, starting with 0 and a non-zero digit):
   two phone numbers side by side are not an individual number. Twelve digits can never split
   that way, so no way of writing exactly 12 digits passes.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from typing import Any

__all__ = ["KANJI_DIGITS", "MIN_DIGITS", "REDACTED", "SEPARATORS", "holds_individual_number",
           "normalise_digits", "redact"]

MIN_DIGITS = 12
REDACTED = "[削除: 12桁の数字 / removed: 12 digits]"
# Kanji numerals written digit by digit (二〇二六年), and the 大字 used in legal documents.
# 肆伍陸漆捌玖 are left out: 陸 (a common given name) and 漆 are ordinary words.
KANJI_DIGITS = {"〇": "0", "零": "0", "一": "1", "壱": "1", "壹": "1", "二": "2", "弐": "2",
                "貳": "2", "三": "3", "参": "3", "參": "3", "四": "4", "五": "5", "六": "6",
                "七": "7", "八": "8", "九": "9"}
# Besides whitespace (any Unicode space, tab or line break).
SEPARATORS = ".,/\\-_・ー\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_RUN = re.compile(r"[0-9]+(?:[\s" + re.escape(SEPARATORS) + r"]{1,3}[0-9]+)*")
_GROUP = re.compile(r"[0-9]+")
# A clock time (9:00, 25:30, 17:15:00) is a word of its own: ':' is not a separator, so its
# digits never join a run ("2026/11/29 10:00-2026/11/30 12:00" holds no run of 12).
_TIME = re.compile(r"(?<![0-9])(?:[01]?[0-9]|2[0-9]):[0-5][0-9](?::[0-5][0-9])?(?![0-9])")
# A Japanese phone number: 0, a non-zero digit, 10 or 11 digits in all (0X-XXXX-XXXX,
# 0XX-XXX-XXXX, 0XXX-XX-XXXX, 090-XXXX-XXXX, 0120-XXX-XXX).
_PHONE = re.compile(r"0[1-9][0-9]{8,9}")


# Format characters and decimal digits beyond ASCII all lie in these ranges (checked against
# the whole of Unicode by tests/gate/test_individual_number.py).
_SCANNED = (range(0x80, 0x20000), range(0xE0000, 0xE1000))


@functools.cache
def _translation() -> dict[int, str | None]:
    """str.translate table: format characters deleted, every digit-like character as an ASCII
    digit. Built once, on first use (a scan of about 130,000 code points)."""
    table: dict[int, str | None] = {ord(k): v for k, v in KANJI_DIGITS.items()}
    for cp in itertools.chain(*_SCANNED):
        category = unicodedata.category(chr(cp))
        if category == "Cf":
            table[cp] = None
        elif category == "Nd":
            table[cp] = str(unicodedata.decimal(chr(cp)))
    return table


def normalise_digits(text: str) -> str:
    """NFKC, format characters dropped, every digit-like character as an ASCII digit."""
    if text.isascii():  # nothing to normalise, drop or map
        return text
    return unicodedata.normalize("NFKC", text).translate(_translation())


def _phone_list(groups: list[str]) -> bool:
    """Whether the groups split, at their boundaries, into phone numbers only."""
    n = len(groups)
    ok = [False] * n + [True]  # ok[i]: groups[i:] split into phone numbers
    for i in range(n - 1, -1, -1):
        piece = ""
        for j in range(i, n):
            piece += groups[j]
            if len(piece) > 11:
                break
            if ok[j + 1] and _PHONE.fullmatch(piece):
                ok[i] = True
                break
    return ok[0]


def holds_individual_number(text: str) -> bool:
    """Whether ``text`` holds a run of 12 or more digits, however written (see the module)."""
    text = normalise_digits(text)
    if len(text) < MIN_DIGITS:
        return False  # fewer characters than the digits of a run (most event data strings)
    if ":" in text:
        text = _TIME.sub(":", text)
    for run in _RUN.finditer(text):
        if run.end() - run.start() < MIN_DIGITS:
            continue  # too short to hold 12 digits
        groups = _GROUP.findall(run.group())
        if sum(map(len, groups)) >= MIN_DIGITS and not _phone_list(groups):
            return True
    return False


def redact(value: Any) -> Any:
    """``value`` (JSON-like) with every string that holds 12 digits replaced by
    :data:`REDACTED`: what a reader agent does to event ``data`` before it is hashed, so an
    error text quoting a card's bytes can never carry the individual number to the service."""
    if isinstance(value, str):
        return REDACTED if holds_individual_number(value) else value
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value
