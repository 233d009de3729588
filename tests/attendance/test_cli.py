"""``mynagate export`` writes the file, shows progress, and refuses a provisional month."""

from __future__ import annotations

from typer.testing import CliRunner

from api.exports.writer import decode
from mynagate_cli import app

from . import factories as f
from .test_exports import scenario


def test_cli_export_writes_the_file_with_progress(database, db_url, tmp_path):
    with database.session() as s:
        scenario(s)
        s.commit()
    out = tmp_path / "monthly.csv"
    r = CliRunner().invoke(app, ["export", "run", "monthly", "--month", "2026-11",
                                 "--database-url", db_url, "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "完了" in r.output and "final" in r.output
    rows = decode(out.read_bytes(), "cp932")
    assert rows[0][0] == "職員番号" and len(rows) == 4
    with database.session() as s:
        f.device(s, "behind", delivered_through=f.jst(2026, 11, 1))
        s.commit()
    r2 = CliRunner().invoke(app, ["export", "run", "daily", "--month", "2026-11",
                                  "--database-url", db_url, "-o", str(tmp_path / "d.csv")])
    assert r2.exit_code == 2 and "behind" in r2.output
    r3 = CliRunner().invoke(app, ["export", "run", "daily", "--month", "2026-11",
                                  "--database-url", db_url, "-o", str(tmp_path / "d.csv"),
                                  "--allow-provisional", "--format", "xlsx"])
    assert r3.exit_code == 0 and "PROVISIONAL" in r3.output
    assert decode((tmp_path / "d.csv").read_bytes(), "xlsx")[0][0] == "職員番号"


def test_cli_exports_several_datasets_into_a_directory(database, db_url, tmp_path):
    with database.session() as s:
        scenario(s)
        s.commit()
    r = CliRunner().invoke(app, ["export", "run", "daily", "monthly", "punches", "--month",
                                 "2026-11", "--format", "utf8bom", "--database-url", db_url,
                                 "--out-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["daily_202611_standardv1.csv", "monthly_202611_standardv1.csv",
                     "punches_202611_standardv1.csv"]
    bad = CliRunner().invoke(app, ["export", "run", "daily", "monthly", "--month", "2026-11",
                                   "--database-url", db_url, "-o", str(tmp_path / "x.csv")])
    assert bad.exit_code == 2
