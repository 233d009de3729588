"""Exported cells never become formulas (issue 9, finding 5): CSV cells that a spreadsheet
would run get a leading ``'``; XLSX text cells are string cells."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from api.exports.profiles import BUILTIN, Column, Profile
from api.exports.service import export_dataset
from api.exports.writer import neutralise, render

from .test_exports import NOW, scenario

HOSTILE = ['=HYPERLINK("http://evil.example/","給与")', "+1+1", "-2+3", "@SUM(A1:A9)",
           "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("cell", HOSTILE)
def test_neutralise_prefixes_every_formula_start(cell: str) -> None:
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["-30", "-1.5", "45", "山田 太郎", "", "a=b", "'=1"])
def test_neutralise_leaves_numbers_and_text(cell: str) -> None:
    assert neutralise(cell) == cell


@pytest.mark.parametrize("fmt", ["cp932", "utf8bom"])
def test_csv_exports_carry_no_formula(fmt: str) -> None:
    profile = Profile("t", 1, "punches", (Column("=氏名", "name"), Column("端末", "device"),
                                          Column("打刻年月日", "date")))
    rows = [{"name": name, "device": "-cmd|' /C calc'!A0", "date": "2026-11-02"}
            for name in HOSTILE]
    content = render(rows, profile, fmt)
    text = content.decode("utf-8-sig" if fmt == "utf8bom" else "cp932")
    lines = list(csv.reader(io.StringIO(text, newline="")))
    assert lines[0] == ["'=氏名", "端末", "打刻年月日"]
    assert [line[0] for line in lines[1:]] == ["'" + h for h in HOSTILE]
    assert {line[1] for line in lines[1:]} == {"'-cmd|' /C calc'!A0"}
    assert {line[2] for line in lines[1:]} == {"2026/11/02"}


def test_xlsx_text_cells_are_strings_never_formulas() -> None:
    profile = BUILTIN["punches"]
    rows = [{"staff_number": "A0001", "name": name, "date": "2026-11-02", "time": "08:30",
             "kind_code": "01", "device": "=1+1", "amendment": "0"} for name in HOSTILE]
    wb = load_workbook(io.BytesIO(render(rows, profile, "xlsx")))  # not read-only: types kept
    data = list(wb["data"].iter_rows(min_row=2))
    # The text itself, unchanged (XML reads a CR back as a line feed).
    assert [r[1].value for r in data] == [h.replace("\r", "\n") for h in HOSTILE]
    assert all(r[1].data_type == "s" for r in data)  # names: string cells
    assert all(c.data_type != "f" for r in data for c in r)  # dates are date cells; no formulas


def test_a_staff_name_that_is_a_formula_is_exported_inert(database) -> None:
    evil = '=HYPERLINK("http://evil.example/","x")'
    with database.session() as s:
        scenario(s, name2=evil)
        for fmt in ("cp932", "utf8bom"):
            out = export_dataset(s, dataset="daily", month="2026-11", file_format=fmt, now=NOW,
                                 record_run=False)
            text = out.content.decode("utf-8-sig" if fmt == "utf8bom" else "cp932")
            names = {line[1] for line in csv.reader(io.StringIO(text, newline=""))}
            assert "'" + evil in names and evil not in names
        out = export_dataset(s, dataset="daily", month="2026-11", file_format="xlsx", now=NOW,
                             record_run=False)
        cells = [c for row in load_workbook(io.BytesIO(out.content))["data"].iter_rows()
                 for c in row if c.value == evil]
        assert cells and all(c.data_type == "s" for c in cells)
