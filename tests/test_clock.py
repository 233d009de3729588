"""The suite's clock: the moved clock moves datetime, time and threads together and reaches
subprocesses; the probe sees every kind of clock read; CI's dates are the ones promised;
and no test module reads the wall clock except through the ``now``/``wall_clock`` fixtures."""

from __future__ import annotations

import logging
import re
import subprocess
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.calendar.service import national_holidays
from tests.clock import ENV, OFFSET_ENV, ClockProbe, python, travel_from_env
from tests.clock_dates import JST, ci_dates

ROOT = Path(__file__).resolve().parents[1]
FAR = datetime(2041, 6, 15, 23, 59, 30, tzinfo=JST)

# Modules that stand in for a device or a service read the wall clock as that component does.
WALL_CLOCK_ALLOWED = {
    "tests/conftest.py": "the now and wall_clock fixtures",
    "tests/clock.py": "the moved clock itself",
    "tests/clock_dates.py": "CI's dates are relative to today",
    "tests/test_clock.py": "checks the clock reads themselves",
    "tests/agent/fake_service.py": "a stand-in service stamps with its own clock",
    "tests/agent/test_client.py": "Verifier, a stand-in service with a skewed clock",
    "tests/agent/town.py": "stamps a status change as the admin service does",
    "tests/device_protocol/signer.py": "a device signs and stamps with its own clock",
    "tests/security/hostile_client.py": "a hostile client, run as its own process, stamps its "
                                        "forged requests with its own clock",
}
WALL_CLOCK_READ = re.compile(r"datetime\.now\(|\btime\.time\(|date\.today\(|\butcnow\(")


def _reads(probe: ClockProbe, label: str, read, *, body: bool = True) -> bool:  # type: ignore[no-untyped-def]
    probe.current, probe.in_body = label, body
    try:
        read()
    finally:
        probe.current, probe.in_body = None, False
    return label in probe.readers


def test_probe_sees_every_kind_of_clock_read() -> None:
    def in_a_thread() -> None:
        t = threading.Thread(target=lambda: time.time())
        t.start()
        t.join()

    before = datetime.now(UTC)
    probe = ClockProbe()
    probe.install()
    try:
        assert abs(datetime.now(UTC) - before) < timedelta(seconds=5)  # the clock is unchanged
        assert _reads(probe, "now", lambda: datetime.now(UTC))
        assert _reads(probe, "time", time.time)
        assert _reads(probe, "today", date.today)
        assert _reads(probe, "thread", in_a_thread)
        assert not _reads(probe, "monotonic", time.monotonic)  # a duration is not the date
        assert not _reads(probe, "library", lambda: logging.LogRecord("x", 20, "", 0, "", (), None))
        # a fixture's setup stamping rows is not the test reading the date; a subprocess it
        # starts is, since it goes on reading the clock during the body, out of the probe's sight
        assert not _reads(probe, "setup", lambda: datetime.now(UTC), body=False)
        assert _reads(probe, "setup-subprocess", lambda: python("-c", "pass"), body=False)
    finally:
        probe.uninstall()
    assert not _reads(probe, "after", time.time)


def test_moved_clock_moves_datetime_time_threads_and_subprocesses(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, FAR.isoformat())
    monkeypatch.delenv(OFFSET_ENV, raising=False)
    traveller = travel_from_env()
    assert traveller is not None
    try:
        seen: list[float] = []
        t = threading.Thread(target=lambda: seen.append(time.time()))
        t.start()
        t.join()
        assert abs(datetime.now(UTC) - FAR) < timedelta(seconds=5)
        assert abs(time.time() - FAR.timestamp()) < 5 and abs(seen[0] - FAR.timestamp()) < 5
        time.sleep(1.1)  # ticking: a subprocess started later lands later, not at FAR again
        out = subprocess.run(python("-c", "import time; print(time.time())"), cwd=ROOT,
                             capture_output=True, text=True, check=True, timeout=60)
        child = float(out.stdout)
        assert FAR.timestamp() + 1 <= child <= time.time() + 1
    finally:
        traveller.stop()
    assert abs(datetime.now(UTC) - FAR) > timedelta(days=1)  # back on the session's clock


@settings(deadline=None, max_examples=10)  # a year of the holiday calendar takes 0.5 s
@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2090, 12, 31)))
def test_ci_dates_are_the_promised_ones_and_after_today(today: date) -> None:
    dates = dict(ci_dates(today))
    assert all(when.date() > today and when.utcoffset() == timedelta(hours=9)
               for when in dates.values())
    ahead = dates["3-years-ahead"].date()
    assert ahead.year == today.year + 3 and (ahead - today).days in range(1094, 1097)
    assert dates["fiscal-year-end"].strftime("%m-%d %H:%M") == "03-31 23:59"
    assert dates["year-end"].strftime("%m-%d %H:%M") == "12-31 23:59"
    assert dates["leap-day"].strftime("%m-%d") == "02-29"
    holiday = dates["monday-holiday"].date()
    assert holiday.weekday() == 0 and holiday in national_holidays(holiday, holiday)
    before, after = dates["before-day-change"], dates["after-day-change"]
    assert before.strftime("%d %H:%M") == "01 04:59" and after.strftime("%d %H:%M") == "01 05:01"
    assert after - before == timedelta(minutes=2)


def test_tests_take_now_from_the_fixture() -> None:
    """A test that pins a date beside the real clock expires; reads go through ``now``."""
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in WALL_CLOCK_ALLOWED:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if WALL_CLOCK_READ.search(line):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
