"""Staff from an HR CSV (人事給与 roster): one row per person, created when the 職員番号 is new
and updated when it exists, through the staff service (audit rows, snapshot bumps). All or
nothing: every bad line is reported with its number and column, and nothing is imported.

The file is CP932 or UTF-8 (a BOM is allowed); which one is told from the bytes, since HR's
spreadsheet writes either depending on how it was saved."""

from __future__ import annotations

import codecs
from datetime import date, datetime
from typing import IO, Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.csv_import import FORMULA_MESSAGE, RowErrors, formula_columns, headed_rows
from api.errors import BadRequest, Conflict
from api.text import INDIVIDUAL_NUMBER_MESSAGE

from . import repository, service
from .schemas import StaffCreate, StaffUpdate

IMPORT_COLUMNS = ("職員番号", "氏名", "カナ", "所属コード", "雇用区分", "任用開始日", "任用終了日",
                  "メール")
FIELDS = ("staff_number", "name", "name_kana", "department_id", "employment_type",
          "active_from", "active_until", "email")
COLUMN_OF = dict(zip(FIELDS, IMPORT_COLUMNS, strict=True))
CHECK_CHUNK = 64 * 1024
# What each column must hold, said in Japanese on the line that breaks it.
HINTS = {"staff_number": "半角英数字 1〜20 文字です", "name": "1〜100 文字で書いてください",
         "name_kana": "全角カタカナで書いてください", "employment_type": "正規・会計年度任用・臨時のいずれかです",
         "active_from": "任用開始日が必要です", "active_until": "任用開始日より前の日付です",
         "email": "メールアドレスの形式ではありません"}
INDIVIDUAL_NUMBER_HINT = "12 桁の数字（個人番号のおそれ）は書けません"


class StaffLineError(BadRequest):
    """One bad line of the file (its number and column are in the message)."""


def _line_error(line: int, column: str, message: str) -> StaffLineError:
    return StaffLineError(f"{line}行目 {column}: {message}", field=column, line=line)


def encoding_of(file: IO[bytes]) -> tuple[str, str]:
    """``(codec, label)``: UTF-8 when the file has a BOM or decodes as UTF-8 throughout,
    else CP932. Reads the file in chunks and rewinds it."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    try:
        while chunk := file.read(CHECK_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        utf8 = False
    file.seek(0)
    return ("utf-8-sig", "UTF-8") if utf8 else ("cp932", "CP932")


def _date(line: int, column: str, value: str) -> date | None:
    if not value:
        return None
    for fmt in ("%Y/%m/%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise _line_error(line, column, f"YYYY/MM/DD で書いてください: {value!r}")


def _parse_line(session: Session, n: int, row: list[str]) -> dict[str, Any]:
    if len(row) < len(IMPORT_COLUMNS):
        raise _line_error(n, "列数", f"{len(IMPORT_COLUMNS)} 列が必要です ({len(row)} 列)")
    if formulas := formula_columns(row, IMPORT_COLUMNS):
        raise _line_error(n, formulas[0], FORMULA_MESSAGE)
    number, name, kana, dept_code, kind, start, end, email = (c.strip() for c in row[:8])
    dept = repository.get_department_by_code(session, dept_code)
    if dept is None:
        raise _line_error(n, "所属コード", f"所属 {dept_code!r} は登録されていません")
    item: dict[str, Any] = {
        "staff_number": number, "name": name, "name_kana": kana, "department_id": dept.id,
        "employment_type": kind or "regular", "active_from": _date(n, "任用開始日", start),
        "active_until": _date(n, "任用終了日", end), "email": email or None}
    try:
        StaffCreate.model_validate(item)
    except ValidationError as err:
        first = err.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "active_until"
        hint = INDIVIDUAL_NUMBER_HINT if INDIVIDUAL_NUMBER_MESSAGE in first["msg"] else \
            HINTS.get(field, "値が正しくありません")
        raise _line_error(n, COLUMN_OF.get(field, "行"), hint) from None
    return item


def _apply(session: Session, item: dict[str, Any], *, actor: str) -> bool:
    """Create or update one person; True when created."""
    existing = repository.get_staff_by_number(session, item["staff_number"])
    if existing is None:
        service.create_staff(session, StaffCreate.model_validate(item), actor=actor)
        return True
    service.update_staff(session, existing.id, StaffUpdate.model_validate(item), actor=actor)
    return False


def import_staff(session: Session, file: IO[bytes], *, actor: str) -> dict[str, int]:
    """Import the roster read one line at a time from ``file``; 400 with the bad lines (the
    first 100 and their count) when any line is wrong, and then nothing is imported (the
    caller's transaction is rolled back)."""
    codec, label = encoding_of(file)
    lines = headed_rows(file, IMPORT_COLUMNS, encoding=codec, label=label)
    errors = RowErrors()
    parsed: list[tuple[int, dict[str, Any]]] = []
    seen: set[str] = set()
    for n, row in lines:
        try:
            item = _parse_line(session, n, row)
            if item["staff_number"] in seen:
                raise _line_error(n, "職員番号", f"ファイル内で重複しています: {item['staff_number']}")
            seen.add(item["staff_number"])
            parsed.append((n, item))
        except StaffLineError as err:
            errors.add(n, err.field or "file", err.message)
    created = updated = 0
    if not errors:
        for n, item in parsed:
            try:
                if _apply(session, item, actor=actor):
                    created += 1
                else:
                    updated += 1
            except (BadRequest, Conflict) as err:
                errors.add(n, COLUMN_OF.get(err.field or "", "行"), f"{n}行目: {err.message}")
    if errors:
        raise errors.rejected(f"{errors.count} 行に誤りがあります。何も取り込んでいません。")
    return {"created": created, "updated": updated}
