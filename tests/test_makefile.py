"""The Makefile's ``venv`` target installs pyscard whenever the venv lacks it and the PC/SC
headers are there, whatever the stamp says (issue 8: ``make demo`` then ``make test``).

The venv's python is a stand-in script that logs its arguments, answers ``import smartcard``
from a marker file and "installs" the pcsc extra by creating that marker, so the real Makefile
recipe runs without touching pip.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FAKE_PYTHON = """#!/bin/sh
echo "$*" >> "{log}"
if [ "$1" = "-c" ]; then [ -f "{marker}" ]; exit $?; fi
case "$*" in *"[pcsc]"*) [ -f "{pip_fails}" ] && exit 1; touch "{marker}";; esac
exit 0
"""


def _fake_venv(tmp_path: Path) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(FAKE_PYTHON.format(log=tmp_path / "calls.log",
                                         marker=tmp_path / "has-smartcard",
                                         pip_fails=tmp_path / "pip-fails"))
    python.chmod(0o755)
    (venv / ".installed").touch()  # a stamp newer than pyproject.toml: the old recipe stopped here
    return venv


def _make_venv(tmp_path: Path, *, header: bool, required: bool) -> subprocess.CompletedProcess[str]:
    header_file = tmp_path / "winscard.h"
    if header:
        header_file.touch()
    args = ["make", "-s", "-C", str(ROOT), "venv", f"VENV={tmp_path / 'venv'}",
            f"PCSC_HEADER={header_file}"]
    if required:
        args.append("PCSC=required")
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def _pip_installs(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [line for line in lines if "pip install" in line]


def test_stamped_venv_without_pyscard_gets_it_when_headers_appear(tmp_path: Path) -> None:
    _fake_venv(tmp_path)
    # make demo on a fresh machine: no headers yet, pyscard skipped, the demo still runs.
    first = _make_venv(tmp_path, header=False, required=False)
    assert first.returncode == 0, first.stderr
    assert "pyscard skipped" in first.stderr
    assert _pip_installs(tmp_path) == []
    # make test afterwards: the system step put the headers in; the stamped venv is repaired.
    second = _make_venv(tmp_path, header=True, required=True)
    assert second.returncode == 0, second.stderr
    assert _pip_installs(tmp_path) == ["-m pip install -q -e .[pcsc]"]
    # and again: pyscard imports now, nothing is installed twice.
    third = _make_venv(tmp_path, header=True, required=True)
    assert third.returncode == 0, third.stderr
    assert len(_pip_installs(tmp_path)) == 1


def test_make_test_refuses_a_venv_that_cannot_get_pyscard(tmp_path: Path) -> None:
    _fake_venv(tmp_path)
    no_headers = _make_venv(tmp_path, header=False, required=True)
    assert no_headers.returncode != 0
    assert "libpcsclite-dev" in no_headers.stderr
    (tmp_path / "pip-fails").touch()
    build_fails = _make_venv(tmp_path, header=True, required=True)
    assert build_fails.returncode != 0
    assert "pyscard could not be installed" in build_fails.stderr
    # make demo does not need pyscard: the same failure only warns.
    demo = _make_venv(tmp_path, header=True, required=False)
    assert demo.returncode == 0, demo.stderr
    assert "pyscard could not be installed" in demo.stderr
