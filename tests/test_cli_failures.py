"""Every ``mynagate`` command fails clearly: run as a new user would, with an empty environment
(PATH only) in an empty directory, each prints one line in Japanese and English naming the
setting to fix, exits non-zero, shows no traceback and leaves nothing in the directory.

The commands are enumerated from the typer app; a new command fails
``test_every_command_has_a_case`` until it gets a row in CASES.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.exceptions import InvalidTag
from typer.main import get_command

from mynagate_cli import app, errors
from mynagate_cli.errors import EX_CONFIG

MAIN = [sys.executable, "-c", "from mynagate_cli import main; main()"]
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
OK = "exit 0"  # a command that needs no configuration and succeeds
DB = "MYNAGATE_DATABASE_URL"
ELSEWHERE = "{elsewhere}"  # a path outside the working directory that does not exist

# command -> (arguments that get past the usage check, the setting the failure must name)
CASES: dict[str, tuple[list[str], str]] = {
    "serve": ([], DB),
    "demo": (["--once"], OK),
    "db upgrade": ([], DB),
    "locks demo": ([], DB),
    "locks status": ([], DB),
    "locks check-alerts": ([], DB),
    "export run": (["daily", "--month", "2026-11"], DB),
    "export profiles": ([], DB),
    "config validate": ([f"{ELSEWHERE}/site.toml"], f"{ELSEWHERE}/site.toml"),
    "config render": ([f"{ELSEWHERE}/site.toml", "--key", f"{ELSEWHERE}/key.pem", "--out",
                       f"{ELSEWHERE}/out"], f"{ELSEWHERE}/site.toml"),
    "config public-key": (["--key", f"{ELSEWHERE}/key.pem"], f"{ELSEWHERE}/key.pem"),
    "config install": ([f"{ELSEWHERE}/x.bundle.json", "--data-dir", f"{ELSEWHERE}/agent"],
                       "--data-dir"),
    "agent enroll": (["--service", "{closed}", "--token", "t", "--data-dir",
                      f"{ELSEWHERE}/agent"], "--service"),
    "agent run": (["--data-dir", f"{ELSEWHERE}/agent", "--reader", "sim:x", "--door", "1"],
                  "--data-dir"),
    "agent status": (["--data-dir", f"{ELSEWHERE}/agent"], "--data-dir"),
    "card make": (["t1", "--kind", "nope"], "--kind"),
    "card list": ([], OK),
    "card insert": (["t1", "--dir", f"{ELSEWHERE}/cards"], f"{ELSEWHERE}/cards/t1.json"),
    "card remove": (["t1", "--dir", f"{ELSEWHERE}/cards"], "t1"),
    "worker": ([], DB),
    "mail send-pending": ([], DB),
    "mail list": ([], DB),
    "card enroll": (["--reader", "pcsc", "--service", "{closed}", "--token", "t",
                     "--staff-id", "1"], "--service"),
    "backup create": (["--output", f"{ELSEWHERE}/b.mnbak"], DB),
    "backup restore": ([f"{ELSEWHERE}/b.mnbak"], DB),
    "users create-admin": ([], DB),
    "users create-token": (["--name", "setup"], DB),
    "audit verify": ([], DB),
}


def _commands(cmd: object = None, path: tuple[str, ...] = ()) -> Iterator[str]:
    cmd = cmd or get_command(app)
    subs = getattr(cmd, "commands", None)
    if subs is None:
        yield " ".join(path)
        return
    for name, sub in subs.items():
        yield from _commands(sub, (*path, name))


COMMANDS = sorted(_commands())


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # closed again when the block ends


def run_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``mynagate ARGS`` in ``cwd`` with PATH and ``env`` only, and nothing to read on stdin
    (a command that prompts before checking its settings gets no answer)."""
    return subprocess.run([*MAIN, *args], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout,
                          env={"PATH": os.environ["PATH"], **(env or {})})


def assert_fails_naming(r: subprocess.CompletedProcess[str], setting: str) -> None:
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "Traceback" not in out, out
    lines = [line for line in out.splitlines() if setting in line]
    assert lines, f"no line names {setting}:\n{out}"
    assert any(JAPANESE.search(line) and " / " in line for line in lines), out


@pytest.fixture
def empty_cwd(tmp_path: Path) -> Path:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return cwd


def test_every_command_has_a_case() -> None:
    assert len(COMMANDS) >= 20
    assert set(COMMANDS) == set(CASES), "add the new command to CASES"


@pytest.mark.parametrize("command", COMMANDS)
def test_command_without_configuration_fails_clearly(command: str, empty_cwd: Path,
                                                     tmp_path: Path) -> None:
    args, setting = CASES[command]
    fill = {"elsewhere": str(tmp_path / "elsewhere"), "closed": _closed_port_url()}
    argv = [*command.split(), *(a.format(**fill) for a in args)]
    r = run_cli(argv, empty_cwd)
    if setting == OK:
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Traceback" not in r.stdout + r.stderr
    else:
        assert_fails_naming(r, setting.format(**fill))
    assert list(empty_cwd.iterdir()) == [], f"{command} wrote into the working directory"


def test_configuration_problems_exit_with_ex_config(empty_cwd: Path) -> None:
    r = run_cli(["export", "profiles"], empty_cwd)
    assert r.returncode == EX_CONFIG
    assert len([line for line in r.stderr.splitlines() if line.strip()]) == 1, r.stderr


def _boom() -> None:
    raise RuntimeError("something nobody foresaw\nsecond line")


def test_unforeseen_error_is_one_line_unless_debugging(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MYNAGATE_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        errors.run_cli(_boom)
    assert exit_info.value.code == errors.EX_SOFTWARE
    err = capsys.readouterr().err
    assert err.splitlines() == ["mynagate: 予期しないエラー / unexpected error: RuntimeError: "
                                "something nobody foresaw (MYNAGATE_DEBUG=1 で詳細 / shows the "
                                "traceback)"]
    monkeypatch.setenv("MYNAGATE_DEBUG", "1")
    with pytest.raises(RuntimeError):
        errors.run_cli(_boom)


def test_explain_names_the_setting_behind_library_errors(tmp_path: Path) -> None:
    missing = tmp_path / "key.pem"
    try:
        missing.read_bytes()
    except OSError as err:
        problem = errors.explain(err)
    assert problem is not None and problem.setting == str(missing)
    assert errors.explain(InvalidTag()).setting == "MYNAGATE_PIN_WRAP_KEY"  # type: ignore[union-attr]
    assert errors.explain(httpx.ConnectError("refused")).setting == "--service"  # type: ignore[union-attr]
    assert errors.explain(KeyError("x")) is None
