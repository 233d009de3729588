"""The CLI with a wrong configuration (a database that is not there, empty or unreachable, no
data dir, a PIN wrap key or signing key that is not the service's) says which setting to fix
in one line, and creates nothing; with the right one, ``locks status`` and
``locks check-alerts`` print formatted lines."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from api.db import Database
from api.locks.settings import LockSettings
from api.models import LockAlert, SmartLock
from api.settings import Settings
from mynagate_cli.locks import UNKNOWN, check_alerts_report, demo_scenario, show_status, status_line
from mynagate_cli.service_config import checked_lock_settings, open_database
from tests.test_cli_failures import assert_fails_naming, run_cli

NOW = datetime(2026, 11, 25, 1, 7, tzinfo=UTC)  # Wednesday 10:07 JST, inside a slot
JST = ZoneInfo("Asia/Tokyo")
DB = "MYNAGATE_DATABASE_URL"


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    path = tmp_path / "cwd"
    path.mkdir()
    return path


@pytest.fixture
def service_dir(tmp_path: Path, db_url: str, database: Database) -> Path:
    """The service's data dir after a booking → PIN → key box round: a PIN master exists."""
    path = tmp_path / "service"
    result = demo_scenario(db_url, path, now=NOW, echo=lambda _line: None)
    assert result["opened"]
    return path


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(("url", "says"), [
    ("sqlite:///{tmp}/nowhere/mynagate.db", "no database at"),
    ("sqlite:///{tmp}/empty.db", "is empty: run `mynagate db upgrade`"),
    ("postgresql+psycopg://postgres:s3cret@127.0.0.1:{port}/x", "cannot connect"),
    ("not a url", "not a database URL"),
])
def test_database_that_is_not_the_services_is_named(url: str, says: str, tmp_path: Path,
                                                    cwd: Path) -> None:
    (tmp_path / "empty.db").touch()
    url = url.format(tmp=tmp_path, port=_closed_port())
    for command in (["export", "profiles"], ["locks", "status"]):
        r = run_cli(command, cwd, {DB: url})
        assert_fails_naming(r, DB)
        assert says in r.stderr
        assert "s3cret" not in r.stderr  # the password is never printed
    assert not (tmp_path / "nowhere").exists()  # the CLI did not create the database
    with sqlite3.connect(tmp_path / "empty.db") as conn:  # still no schema in it
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    assert list(cwd.iterdir()) == []


def test_settings_value_that_does_not_parse_is_named(cwd: Path, tmp_path: Path) -> None:
    r = run_cli(["locks", "status"], cwd, {DB: f"sqlite:///{tmp_path}/x.db",
                                           "MYNAGATE_REQUEST_CLOCK_SKEW_S": "soon"})
    assert_fails_naming(r, "MYNAGATE_REQUEST_CLOCK_SKEW_S")


def test_locks_need_the_services_data_dir(db_url: str, service_dir: Path, cwd: Path,
                                          tmp_path: Path) -> None:
    assert_fails_naming(run_cli(["locks", "status"], cwd, {DB: db_url}), "MYNAGATE_DATA_DIR")
    elsewhere = tmp_path / "other-data"
    elsewhere.mkdir()
    r = run_cli(["locks", "check-alerts"], cwd, {DB: db_url, "MYNAGATE_DATA_DIR": str(elsewhere)})
    assert_fails_naming(r, "MYNAGATE_DATA_DIR")
    assert list(elsewhere.iterdir()) == []  # no new wrap key was made there
    assert list(cwd.iterdir()) == []


def test_wrong_pin_wrap_key_is_named_not_invalid_tag(db_url: str, service_dir: Path,
                                                      cwd: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong-data"
    wrong.mkdir()
    (wrong / "pin-wrap.key").write_text(os.urandom(32).hex())
    for env in ({"MYNAGATE_DATA_DIR": str(wrong)},
                {"MYNAGATE_PIN_WRAP_KEY": os.urandom(32).hex()}):
        r = run_cli(["locks", "status"], cwd, {DB: db_url, **env})
        assert_fails_naming(r, "MYNAGATE_PIN_WRAP_KEY")
        assert "InvalidTag" not in r.stdout + r.stderr
    r = run_cli(["locks", "status"], cwd, {DB: db_url, "MYNAGATE_PIN_WRAP_KEY": "abcd"})
    assert_fails_naming(r, "MYNAGATE_PIN_WRAP_KEY")


def test_serve_names_a_signing_key_that_is_not_one(tmp_path: Path, cwd: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    bad = data / "key.pem"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    r = run_cli(["serve"], cwd, {DB: f"sqlite:///{data}/m.db", "MYNAGATE_DATA_DIR": str(data),
                                 "MYNAGATE_SIGNING_KEY_FILE": str(bad)})
    assert_fails_naming(r, "MYNAGATE_SIGNING_KEY_FILE")
    assert not (data / "m.db").exists()
    r = run_cli(["serve"], cwd, {DB: f"sqlite:///{data}/m.db"})
    assert_fails_naming(r, "MYNAGATE_DATA_DIR")


def test_locks_commands_work_with_the_services_settings(db_url: str, service_dir: Path,
                                                        cwd: Path) -> None:
    env = {DB: db_url, "MYNAGATE_DATA_DIR": str(service_dir)}
    r = run_cli(["locks", "status"], cwd, env)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^aso-gym-01 .* 残り日数 (\d+ 日|不明/unknown) .* 時計差 [+-]\d+\.\d s ",
                     r.stdout, re.M), r.stdout
    assert "None" not in r.stdout
    r = run_cli(["locks", "check-alerts"], cwd, env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip(), "check-alerts printed nothing"


@pytest.mark.parametrize(("days", "drift", "shown_days", "shown_drift"), [
    (None, None, f"残り日数 {UNKNOWN}", f"時計差 {UNKNOWN}"),
    (41.7, 0.01188039779663086, "残り日数 41 日", "時計差 +0.0 s"),
    (0.4, -1.26, "残り日数 0 日", "時計差 -1.3 s"),
])
def test_status_line_rounds_for_people(days: float | None, drift: float | None,
                                       shown_days: str, shown_drift: str) -> None:
    line = status_line({"lock_id": "aso-gym-01", "kind": "offline", "battery_percent": 87.25,
                        "battery_days_left": days, "last_contact_at": NOW,
                        "clock_offset_s": drift, "pending_revocations": 2}, JST)
    assert shown_days in line and shown_drift in line
    assert "電池 87%" in line and "最終通信 2026-11-25 10:07" in line and "取消待ち 2" in line
    assert "None" not in line


def test_status_and_alerts_say_so_when_there_is_nothing(db_url: str, database: Database,
                                                        tmp_path: Path) -> None:
    db = open_database(db_url)
    try:
        lines: list[str] = []
        ls = checked_lock_settings_for(tmp_path, db)  # no PIN master yet: no key to check
        show_status(db, ls, NOW, JST, lines.append)
        assert lines == ["錠はありません / no locks"]
        lines.clear()
        assert check_alerts_report(db, ls, NOW, JST, lines.append) == 0
        assert lines == ["0 台の錠を確認しました。直近14日の警報はありません / checked 0 lock(s): "
                         "no alerts in the last 14 days"]
        assert list(tmp_path.iterdir()) == []  # and no key was made
    finally:
        db.dispose()


def test_check_alerts_with_locks_and_no_alerts(db_url: str, service_dir: Path) -> None:
    db = open_database(db_url)
    try:
        lines: list[str] = []
        ls = checked_lock_settings_for(service_dir, db)
        assert check_alerts_report(db, ls, NOW, JST, lines.append) == 0
        assert lines == ["1 台の錠を確認しました。直近14日の警報はありません / checked 1 lock(s): "
                         "no alerts in the last 14 days"]
        with db.session() as session:  # one alert of this fortnight, one older
            lock = session.query(SmartLock).one()
            session.add_all([
                LockAlert(lock_id=lock.id, kind="left_open", at=NOW - timedelta(hours=1),
                          detail="door_open", dedupe_key="cli-test-recent"),
                LockAlert(lock_id=lock.id, kind="left_open", at=NOW - timedelta(days=20),
                          detail="door_open", dedupe_key="cli-test-old")])
            session.commit()
        lines.clear()
        assert check_alerts_report(db, ls, NOW, JST, lines.append) == 1
        assert lines == ["2026-11-25 09:07 left_open 錠 aso-gym-01 door_open"]
        lines.clear()
        show_status(db, ls, NOW, JST, lines.append)
        assert len(lines) == 1 and lines[0].startswith("aso-gym-01")
        assert re.search(r"時計差 [+-]\d+\.\d s", lines[0]), lines[0]
    finally:
        db.dispose()


def checked_lock_settings_for(data_dir: Path, db: Database) -> LockSettings:
    return checked_lock_settings(Settings(data_dir=data_dir), db)
