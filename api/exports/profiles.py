"""Export profiles: named, versioned column mappings, so a town can match its vendor's import.

A profile lists columns in order; each column has a ``header`` (written in the header row) and
a ``field`` from the dataset's catalogue below, optionally a ``format``. Built-in profiles are
``standard`` version 1 for each dataset; towns add their own through the API (a new version is
a new row: an exported run always names the exact profile version it used)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.errors import BadRequest

DATASETS = ("punches", "daily", "monthly")
DATASET_JA = {"punches": "打刻", "daily": "日次勤務実績", "monthly": "月次時間外"}
FILE_FORMATS = ("cp932", "utf8bom", "xlsx")

# field → (kind, description). kind drives the allowed formats.
FIELDS: dict[str, dict[str, tuple[str, str]]] = {
    "punches": {
        "staff_number": ("text", "職員番号"),
        "name": ("text", "氏名"),
        "name_kana": ("text", "カナ"),
        "dept_code": ("text", "所属コード"),
        "dept_name": ("text", "所属名"),
        "date": ("date", "打刻年月日 (業務日)"),
        "time": ("time", "打刻時刻 (05:00切替、翌日分は24時以降で表記)"),
        "calendar_date": ("date", "打刻の暦日"),
        "clock_time": ("time", "打刻の時計時刻 (00:00–23:59)"),
        "next_day": ("text", "翌日フラグ (1 = 暦日が業務日の翌日)"),
        "kind_code": ("text", "打刻区分 01 出勤 / 02 退勤 / 00 その他"),
        "kind_name": ("text", "打刻区分名"),
        "device": ("text", "端末"),
        "amendment": ("text", "訂正区分 (0 通常 / 1 締め後の追加)"),
    },
    "daily": {
        "staff_number": ("text", "職員番号"),
        "name": ("text", "氏名"),
        "name_kana": ("text", "カナ"),
        "dept_code": ("text", "所属コード"),
        "dept_name": ("text", "所属名"),
        "date": ("date", "勤務日 (業務日)"),
        "day_type": ("text", "日区分 (勤務日/週休日/休日/代休日)"),
        "in": ("time", "出勤時刻"),
        "out": ("time", "退勤時刻"),
        "premises": ("minutes", "在庁時間"),
        "break": ("minutes", "休憩時間"),
        "scheduled": ("minutes", "正規の勤務時間"),
        "worked": ("minutes", "勤務時間内の在庁"),
        "approved": ("minutes", "時間外命令"),
        "overtime": ("minutes", "時間外実績 (命令かつ在庁; 休日勤務を除く)"),
        "holiday_work": ("minutes", "休日勤務 (休日・代休日の正規の勤務時間; 休日給)"),
        "leave": ("minutes", "休暇 (勤務時間内)"),
        "divergence": ("minutes", "乖離"),
        "late": ("flag", "遅刻"),
        "early": ("flag", "早退"),
        "missing": ("flag", "打刻漏れ"),
        "corrected": ("flag", "訂正あり"),
        "flags": ("text", "注記"),
        "amendment": ("text", "訂正区分 (0 通常 / 1 締め後の訂正)"),
    },
    "monthly": {
        "staff_number": ("text", "職員番号"),
        "name": ("text", "氏名"),
        "name_kana": ("text", "カナ"),
        "dept_code": ("text", "所属コード"),
        "dept_name": ("text", "所属名"),
        "month": ("text", "年月 (YYYYMM)"),
        "m125": ("minutes", "時間外125 (分)"),
        "m135": ("minutes", "時間外135 (分)"),
        "m150": ("minutes", "時間外150 (分)"),
        "m160": ("minutes", "時間外160 (分)"),
        "m150_over60": ("minutes", "時間外150 60h超 (分)"),
        "m175": ("minutes", "時間外175 60h超 (分)"),
        "mholiday": ("minutes", "休日勤務 (分)"),
        "h125": ("int", "支給125 (時間、30分ルール)"),
        "h135": ("int", "支給135 (時間)"),
        "h150": ("int", "支給150 (時間)"),
        "h160": ("int", "支給160 (時間)"),
        "h150_over60": ("int", "支給150 60h超 (時間)"),
        "h175": ("int", "支給175 (時間)"),
        "hholiday": ("int", "休日勤務 (時間)"),
        "m25": ("minutes", "週休日の振替による週38h45m超 (分、+25)"),
        "h25": ("int", "支給25 (時間)"),
        "total": ("minutes", "時間外合計 (休日勤務を除く)"),
        "overtime_class": ("text", "上限区分 (一般/他律)"),
        "alerts": ("text", "上限・警告"),
        "amendment": ("text", "訂正区分 (0 通常 / 1 締め後の訂正)"),
    },
}

FORMATS = {"minutes": ("minutes", "hours", "h:mm"), "time": ("hh:mm", "hhmm"),
           "date": ("yyyy/mm/dd", "yyyymmdd", "yyyy-mm-dd"), "flag": ("1/0", "○/空")}


@dataclass(frozen=True)
class Column:
    header: str
    field: str
    format: str | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    version: int
    dataset: str
    columns: tuple[Column, ...]
    header_row: bool = True

    def spec(self) -> dict[str, Any]:
        return {"header_row": self.header_row,
                "columns": [{"header": c.header, "field": c.field, "format": c.format}
                            for c in self.columns]}


def _std(dataset: str, cols: list[tuple[str, str]]) -> Profile:
    return Profile("standard", 1, dataset, tuple(Column(h, f) for h, f in cols))


BUILTIN: dict[str, Profile] = {
    "punches": _std("punches", [
        ("職員番号", "staff_number"), ("氏名", "name"), ("所属コード", "dept_code"),
        ("打刻年月日", "date"), ("打刻時刻", "time"), ("打刻区分", "kind_code"),
        ("端末", "device"), ("訂正区分", "amendment")]),
    "daily": _std("daily", [
        ("職員番号", "staff_number"), ("氏名", "name"), ("所属コード", "dept_code"),
        ("勤務日", "date"), ("日区分", "day_type"), ("出勤時刻", "in"), ("退勤時刻", "out"),
        ("在庁時間", "premises"), ("休憩時間", "break"), ("勤務時間", "worked"),
        ("時間外命令", "approved"), ("時間外実績", "overtime"), ("乖離", "divergence"),
        ("遅刻", "late"), ("早退", "early"), ("打刻漏れ", "missing"), ("注記", "flags"),
        ("訂正区分", "amendment")]),
    "monthly": _std("monthly", [
        ("職員番号", "staff_number"), ("氏名", "name"), ("所属コード", "dept_code"),
        ("年月", "month"), ("時間外125", "m125"), ("時間外135", "m135"),
        ("時間外150", "m150"), ("時間外160", "m160"), ("時間外150(60h超)", "m150_over60"),
        ("時間外175", "m175"), ("休日勤務", "mholiday"), ("支給125", "h125"),
        ("支給135", "h135"), ("支給150", "h150"), ("支給160", "h160"),
        ("支給150(60h超)", "h150_over60"), ("支給175", "h175"), ("支給休日", "hholiday"),
        ("時間外合計", "total"), ("上限区分", "overtime_class"), ("警告", "alerts"),
        ("訂正区分", "amendment")]),
}


def validate_spec(dataset: str, spec: dict[str, Any]) -> Profile:
    """A profile from its JSON spec; a bad column is a 400 naming it."""
    if dataset not in DATASETS:
        raise BadRequest(f"dataset must be one of {', '.join(DATASETS)}", field="dataset")
    cols = spec.get("columns")
    if not isinstance(cols, list) or not cols:
        raise BadRequest("columns must be a non-empty list", field="columns")
    out: list[Column] = []
    for i, c in enumerate(cols):
        where = f"columns[{i}]"
        if not isinstance(c, dict) or not isinstance(c.get("header"), str):
            raise BadRequest(f"{where} needs a header", field=f"{where}.header")
        fld = c.get("field")
        if fld not in FIELDS[dataset]:
            raise BadRequest(f"{where}: unknown field {fld!r} for dataset {dataset}",
                             field=f"{where}.field")
        fmt = c.get("format")
        kind = FIELDS[dataset][fld][0]
        if fmt is not None and fmt not in FORMATS.get(kind, ()):
            raise BadRequest(f"{where}: format {fmt!r} does not apply to {fld} ({kind})",
                             field=f"{where}.format")
        out.append(Column(c["header"], fld, fmt))
    return Profile("", 0, dataset, tuple(out), bool(spec.get("header_row", True)))
