"""Field validators shared by the admin schemas.

The individual number (個人番号, 12 digits) must never be stored: every field here runs the one
guard (``api.text.Guard``, rule in ``gate.individual_number``) before any other check, so a value
holding 12 digits, however written, is refused with a message that says why.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator

from api.text import Guard

_STAFF_NUMBER = re.compile(r"[0-9A-Za-z]{1,20}")
_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.\-]{0,31}")
# Full-width katakana (ァ–ヺ), ・, ー, ヽヾ, and ASCII / full-width spaces.
_KANA = re.compile(r"[\u30A1-\u30FA\u30FB\u30FC\u30FD\u30FE \u3000]+")

EMPLOYMENT_TYPE_LABELS = {"regular": "正規", "fiscal_year": "会計年度任用", "temporary": "臨時"}


def _text(max_len: int) -> Any:
    def check(value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        if len(value) > max_len:
            raise ValueError(f"must be at most {max_len} characters")
        return value

    return AfterValidator(check)


def _staff_number(value: str) -> str:
    if not _STAFF_NUMBER.fullmatch(value):
        raise ValueError("職員番号 (staff number) must be 1–20 ASCII letters or digits")
    return value


def _kana(value: str) -> str:
    value = value.strip()
    if not value or not _KANA.fullmatch(value):
        raise ValueError("カナ must be full-width katakana (spaces and ー allowed)")
    if len(value) > 100:
        raise ValueError("must be at most 100 characters")
    return value


def _code(value: str) -> str:
    if not _CODE.fullmatch(value):
        raise ValueError("code must be 1–32 ASCII letters, digits, '_', '.' or '-', "
                         "starting with a letter or digit")
    return value


StaffNumber = Annotated[str, Guard, AfterValidator(_staff_number)]
Kana = Annotated[str, Guard, AfterValidator(_kana)]
Code = Annotated[str, Guard, AfterValidator(_code)]
Name = Annotated[str, Guard, _text(100)]
Reason = Annotated[str, Guard, _text(500)]
Email = Annotated[str, Guard, _text(200), AfterValidator(
    lambda v: v if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v) else _bad_email())]


def _bad_email() -> str:
    raise ValueError("must be an e-mail address")
