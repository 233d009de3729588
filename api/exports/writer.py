"""Render export rows as CSV (CP932 or UTF-8 with BOM, CRLF) or XLSX through a profile.

- CP932: a staff member's registered 代替文字 (e.g. 𠮷 → 吉) replaces a character CP932 lacks.
  Any character still missing is an error that lists every offender at once, never a silent
  ``?``. The code points that have a CP932 look-alike (``LOSSY``, e.g. 〜 → ～) are mapped on
  purpose and counted in the export's report.
- XLSX: minutes and hours are numbers and dates are date cells, so Excel's SUM works. Cells
  are formatted once (``table``); XLSX only types the numeric and date columns.
- No cell ever becomes a formula (docs/attendance.md, "Exports"): in CSV a text cell starting
  with ``= + - @``, a tab or a CR gets a ``'`` in front, unless it is a plain number; in XLSX a
  text cell starting with ``=`` is written as a string cell."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell

from api.csv_import import FORMULA_START
from api.errors import Unprocessable

from .profiles import FIELDS, Profile


class ExportEncodingError(Unprocessable):
    """A value that the chosen encoding cannot represent."""


# Code points CP932 holds only as a look-alike: written as that character, which reads back as
# it (0x8160 reads back as ～ U+FF5E, not 〜 U+301C). Listed in docs/attendance.md.
LOSSY = {"\u301c": "\uff5e",  # 〜 WAVE DASH → ～ FULLWIDTH TILDE
         "\u2212": "\uff0d",  # − MINUS SIGN → － FULLWIDTH HYPHEN-MINUS
         "\u2016": "\u2225",  # ‖ DOUBLE VERTICAL LINE → ∥ PARALLEL TO
         "\u00a2": "\uffe0",  # ¢ → ￠
         "\u00a3": "\uffe1",  # £ → ￡
         "\u00ac": "\uffe2",  # ¬ → ￢
         "\u2014": "\u2015"}  # — EM DASH → ― HORIZONTAL BAR
_LOSSY_TABLE = str.maketrans(LOSSY)
_LOSSY_RE = re.compile("[" + "".join(LOSSY) + "]")
Substitutes = Mapping[str, Mapping[str, str]]  # staff_number → {character: 代替文字}
_FORMULA_CHARS = frozenset(FORMULA_START)
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_CSV_SPECIAL = re.compile('[,"\r\n]')  # what makes csv.writer quote a cell


def neutralise(cell: str) -> str:
    """A CSV cell a spreadsheet would run as a formula, with ``'`` in front (``-30`` stays)."""
    if cell.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def text_columns(profile: Profile) -> list[int]:
    """The indexes of the profile's text columns: the only cells a user can make start with a
    formula character (the other kinds are numbers, dates, times and flags that the service
    formats itself)."""
    catalogue = FIELDS[profile.dataset]
    return [i for i, c in enumerate(profile.columns) if catalogue[c.field][0] == "text"]


def _neutralised(cells: list[list[Any]], profile: Profile) -> list[list[Any]]:
    """``cells`` with every text column neutralised, in place."""
    text_cols = text_columns(profile)
    for line in cells:
        for i in text_cols:
            if line[i][:1] in _FORMULA_CHARS:
                line[i] = neutralise(line[i])
    return cells


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


def _cp932_cells(rows: Sequence[dict[str, Any]], cells: list[list[str]], profile: Profile,
                 substitutes: Substitutes, report: Counter[str]) -> list[list[str]]:
    """Cells CP932 can hold: per-staff 代替文字, then the LOSSY look-alikes (counted). Raises
    one error listing every cell that still holds a character CP932 lacks."""
    offenders: list[dict[str, Any]] = []
    out: list[list[str]] = []
    for r, line in zip(rows, cells, strict=True):
        subs = substitutes.get(str(r.get("staff_number", "")), {})
        if not subs:
            joined = "\x1f".join(line)
            if not _LOSSY_RE.search(joined) and _try_cp932(joined) is not None:
                out.append(line)
                continue
        fixed = []
        for col, value in zip(profile.columns, line, strict=True):
            for orig, sub in subs.items():
                value = value.replace(orig, sub)
            for m in _LOSSY_RE.finditer(value):
                report[f"U+{ord(m.group()):04X}"] += 1
            value = value.translate(_LOSSY_TABLE)
            try:
                value.encode("cp932")
            except UnicodeEncodeError as err:
                ch = value[err.start]
                offenders.append({"staff_number": r.get("staff_number"), "name": r.get("name"),
                                  "column": col.header, "field": col.field, "character": ch,
                                  "code_point": f"U+{ord(ch):04X}"})
            fixed.append(value)
        out.append(fixed)
    if offenders:
        first = offenders[0]
        raise ExportEncodingError(
            f"CP932 で表せない文字が {len(offenders)} 件あります (最初: 職員 "
            f"{first['staff_number']} の「{first['column']}」'{first['character']}' "
            f"{first['code_point']})。職員ごとの代替文字を登録するか、UTF-8 (BOM付き) か XLSX で"
            f"出力してください", field=first["field"], offenders=offenders)
    return out


def _header_cp932(profile: Profile) -> None:
    for col in profile.columns:
        try:
            col.header.encode("cp932")
        except UnicodeEncodeError:
            raise ExportEncodingError(f"列名「{col.header}」が cp932 で表せません",
                                      field="header") from None


def render(rows: Sequence[dict[str, Any]], profile: Profile, file_format: str, *,
           substitutes: Substitutes | None = None, report: Counter[str] | None = None) -> bytes:
    """The file's bytes for ``cp932`` / ``utf8bom`` CSV or ``xlsx``. ``report`` counts the
    LOSSY substitutions of a CP932 file per code point."""
    header = [c.header for c in profile.columns]
    if file_format == "xlsx":
        return _xlsx(header if profile.header_row else None, table(rows, profile), profile)
    if file_format not in ("utf8bom", "cp932"):
        raise Unprocessable(f"unknown file format {file_format!r}", field="format")
    csv_header = [neutralise(h) for h in header] if profile.header_row else None
    # A row collection that shares parts between rows offers their records as text directly.
    fast = getattr(rows, "csv_text", None)
    body = fast(profile) if fast is not None else None
    cells = None
    if body is None:
        cells = _neutralised(table(rows, profile), profile)
        body = _csv_text(None, cells)
    text = _csv_text(csv_header, []) + body
    if file_format == "utf8bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8")
    _header_cp932(profile)
    if not _LOSSY_RE.search(text) and not (substitutes and any(
            str(r.get("staff_number", "")) in substitutes for r in rows)):
        plain = _try_cp932(text)
        if plain is not None:
            return plain  # the common case: nothing to substitute
    if cells is None:
        cells = _neutralised(table(rows, profile), profile)
    cells = _cp932_cells(rows, cells, profile, substitutes or {},
                         report if report is not None else Counter())
    return _csv_text(csv_header, cells).encode("cp932")


def _try_cp932(text: str) -> bytes | None:
    try:
        return text.encode("cp932")
    except UnicodeEncodeError:
        return None


def csv_record(cells: Sequence[str], text_cols: Sequence[int]) -> str:
    """One CSV record without its line end, exactly as ``render`` writes those cells (text
    cells neutralised, quoted as csv.writer quotes them). Records joined from such parts
    with "," are the record of all their cells."""
    if len(cells) == 1 and cells[0] == "":
        return ""  # csv.writer writes a lone empty field as "" to mark the record
    line = list(cells)
    for i in text_cols:
        if line[i][:1] in _FORMULA_CHARS:
            line[i] = neutralise(line[i])
    if _CSV_SPECIAL.search("".join(line)) is None:
        return ",".join(line)  # what csv.writer writes for cells it need not quote
    return _csv_text(None, [line])[:-2]


def csv_records(cells: list[list[str]], profile: Profile) -> str:
    """Whole CSV records (each with its line end) of rows of cells, as ``render`` writes them."""
    return _csv_text(None, _neutralised(cells, profile))


def _csv_text(header: list[str] | None, cells: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    if header:
        w.writerow(header)
    w.writerows(cells)
    return buf.getvalue()


def _typed(kind: str, fmt: str | None, value: str) -> Any:
    """An XLSX cell value: minutes and hours as numbers, dates as dates, the rest as text."""
    if value == "":
        return None
    if kind == "minutes" and fmt in (None, "minutes"):
        return int(value)
    if kind == "minutes" and fmt == "hours":
        return float(value)
    if kind == "date":
        digits = value.replace("/", "").replace("-", "")
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    return value


def _xlsx(header: list[str] | None, cells: list[list[str]], profile: Profile) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("data")

    def text(value: Any) -> Any:
        # openpyxl turns a str starting with "=" into a formula; a string cell never runs.
        if isinstance(value, str) and value.startswith("="):
            c = WriteOnlyCell(ws, value)
            c.data_type = "s"
            return c
        return value

    if header:
        ws.append([text(h) for h in header])
    catalogue = FIELDS[profile.dataset]
    kinds = [(catalogue[c.field][0], c.format) for c in profile.columns]
    date_fmt = {None: "yyyy/mm/dd", "yyyymmdd": "yyyymmdd", "yyyy-mm-dd": "yyyy-mm-dd"}
    for line in cells:
        row: list[Any] = []
        for (kind, fmt), value in zip(kinds, line, strict=True):
            v = _typed(kind, fmt, value)
            if isinstance(v, date):
                cell = WriteOnlyCell(ws, value=v)
                cell.number_format = date_fmt.get(fmt, "yyyy/mm/dd")
                row.append(cell)
            else:
                row.append(text(v))
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def decode(content: bytes, file_format: str) -> list[list[str]]:
    """Read an exported file back into rows of strings (tests and round trips)."""
    if file_format == "xlsx":
        wb = load_workbook(io.BytesIO(content), read_only=True)
        ws = wb["data"]
        return [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
    if file_format == "utf8bom":
        if not content.startswith(b"\xef\xbb\xbf"):
            raise ValueError("missing UTF-8 BOM")
        text = content[3:].decode("utf-8")
    else:
        text = content.decode("cp932")
    return list(csv.reader(io.StringIO(text, newline="")))


def _cell_text(v: Any) -> str:
    """An XLSX cell read back as the CSV would write it (dates as YYYY/MM/DD)."""
    if v is None:
        return ""
    if isinstance(v, date):
        return f"{v:%Y/%m/%d}"
    return str(v)
