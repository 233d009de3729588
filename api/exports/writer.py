"""Render export rows as CSV (CP932 or UTF-8 with BOM, CRLF) or XLSX through a profile.

A character CP932 cannot hold (e.g. 𠮷) is an error naming the staff member and the column,
never a silent ``?``. No cell ever becomes a formula (docs/attendance.md, "Exports"): in CSV a
cell starting with ``= + - @``, a tab or a CR gets a ``'`` in front, unless it is a plain number;
in XLSX every text cell is written as a string cell."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from typing import Any

from api.csv_import import FORMULA_START
from api.errors import Unprocessable

from .profiles import FIELDS, Profile


class ExportEncodingError(Unprocessable):
    """A value that the chosen encoding cannot represent."""


_FORMULA_CHARS = frozenset(FORMULA_START)
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def neutralise(cell: str) -> str:
    """A CSV cell a spreadsheet would run as a formula, with ``'`` in front (``-30`` stays)."""
    if cell.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def _fmt_minutes(v: Any, fmt: str | None) -> str:
    if v == "" or v is None:
        return ""
    m = int(v)
    if fmt == "hours":
        return f"{m / 60:.2f}"
    if fmt == "h:mm":
        return f"{m // 60}:{m % 60:02d}"
    return str(m)


def _fmt_date(v: str, fmt: str | None) -> str:
    if not v:
        return ""
    y, m, d = v.split("-")
    if fmt == "yyyymmdd":
        return f"{y}{m}{d}"
    if fmt == "yyyy-mm-dd":
        return v
    return f"{y}/{m}/{d}"


def _formatter(kind: str, fmt: str | None):  # type: ignore[no-untyped-def]
    if kind == "minutes":
        return lambda v: _fmt_minutes(v, fmt)
    if kind == "date":
        return lambda v: _fmt_date(v, fmt)
    if kind == "time":
        if fmt == "hhmm":
            return lambda v: v.replace(":", "") if v else ""
        return lambda v: v or ""
    if kind == "flag":
        if fmt == "○/空":
            return lambda v: "○" if v else ""
        return lambda v: "1" if v else "0"
    return lambda v: "" if v is None else str(v)


def table(rows: Sequence[dict[str, Any]], profile: Profile) -> list[list[str]]:
    """The cells of every data row, in profile column order, as strings.

    Values repeat a lot (minutes, dates, flags), so each column memoizes its formatted
    values. A row collection that knows a faster way offers ``cells(profile)``."""
    fast = getattr(rows, "cells", None)
    if fast is not None:
        return fast(profile)  # type: ignore[no-any-return]
    catalogue = FIELDS[profile.dataset]
    cols = [(c.field, _formatter(catalogue[c.field][0], c.format), {})
            for c in profile.columns]
    out: list[list[str]] = []
    append = out.append
    for r in rows:
        line = []
        for f, fn, memo in cols:
            v = r.get(f, "")
            try:
                cell = memo[v]
            except KeyError:
                cell = memo[v] = fn(v)
            except TypeError:  # unhashable: format directly
                cell = fn(v)
            line.append(cell)
        append(line)
    return out


def _encoding_error(rows: Sequence[dict[str, Any]], cells: list[list[str]], profile: Profile,
                    codec: str) -> ExportEncodingError:
    for r, line in zip(rows, cells, strict=True):
        for col, value in zip(profile.columns, line, strict=True):
            try:
                value.encode(codec)
            except UnicodeEncodeError as err:
                ch = value[err.start]
                who = f"{r.get('staff_number', '?')} {r.get('name', '')}".strip()
                return ExportEncodingError(
                    f"職員 {who} の「{col.header}」({col.field}) に {codec.upper()} で表せない文字 "
                    f"'{ch}' (U+{ord(ch):04X}) があります。UTF-8 (BOM付き) か XLSX で出力するか、"
                    f"氏名を外字対応の表記に直してください",
                    field=col.field, staff_number=r.get("staff_number"), character=ch)
    for col in profile.columns:  # the header row itself
        try:
            col.header.encode(codec)
        except UnicodeEncodeError:
            return ExportEncodingError(f"列名「{col.header}」が {codec} で表せません",
                                       field="header")
    return ExportEncodingError(f"{codec} で表せない文字があります")


def _neutralised(cells: list[list[Any]], profile: Profile) -> list[list[Any]]:
    """``cells`` with every text column neutralised, in place (the other kinds are numbers,
    dates, times and flags that the service formats itself)."""
    catalogue = FIELDS[profile.dataset]
    text_cols = [i for i, c in enumerate(profile.columns) if catalogue[c.field][0] == "text"]
    for line in cells:
        for i in text_cols:
            if line[i][:1] in _FORMULA_CHARS:
                line[i] = neutralise(line[i])
    return cells


def render(rows: Sequence[dict[str, Any]], profile: Profile, file_format: str) -> bytes:
    """The file's bytes for ``cp932`` / ``utf8bom`` CSV or ``xlsx``."""
    cells = table(rows, profile)
    header = [c.header for c in profile.columns]
    if file_format == "xlsx":
        return _xlsx(header if profile.header_row else None, cells)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    if profile.header_row:
        w.writerow([neutralise(h) for h in header])
    w.writerows(_neutralised(cells, profile))
    text = buf.getvalue()
    if file_format == "utf8bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8")
    if file_format != "cp932":
        raise Unprocessable(f"unknown file format {file_format!r}", field="format")
    try:
        return text.encode("cp932")
    except UnicodeEncodeError:
        raise _encoding_error(rows, cells, profile, "cp932") from None


def _xlsx(header: list[str] | None, cells: list[list[str]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("data")

    def cell(value: Any) -> Any:
        # openpyxl turns a str starting with "=" into a formula; a string cell never runs.
        if isinstance(value, str) and value.startswith("="):
            c = WriteOnlyCell(ws, value)
            c.data_type = "s"
            return c
        return value

    if header:
        ws.append([cell(h) for h in header])
    for line in cells:
        ws.append([cell(v) for v in line])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def decode(content: bytes, file_format: str) -> list[list[str]]:
    """Read an exported file back into rows of strings (tests and round trips)."""
    if file_format == "xlsx":
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(content), read_only=True)
        ws = wb["data"]
        return [["" if v is None else str(v) for v in row] for row in ws.iter_rows(values_only=True)]
    if file_format == "utf8bom":
        if not content.startswith(b"\xef\xbb\xbf"):
            raise ValueError("missing UTF-8 BOM")
        text = content[3:].decode("utf-8")
    else:
        text = content.decode("cp932")
    return list(csv.reader(io.StringIO(text, newline="")))
