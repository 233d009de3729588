"""How every ``mynagate`` command fails: one line in Japanese and English that names the setting
to fix, and a non-zero exit; never a traceback (``MYNAGATE_DEBUG=1`` shows it).

Exception hierarchy::

    Exception
    └── CliProblem     a setting (environment variable or option) to fix; exit 78 (EX_CONFIG)

Failures raised deep inside a command by a library (a database that is not there or not
migrated, a PIN wrap key that does not open the master secret, a service that does not answer,
a settings value that does not parse) are translated by :func:`explain` in one place, so a new
command is covered without its own handlers.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from typing import Any

import typer

__all__ = ["EX_CONFIG", "EX_SOFTWARE", "CliProblem", "explain", "run_cli"]

EX_CONFIG = 78  # sysexits.h: a configuration error
EX_SOFTWARE = 70  # sysexits.h: an internal error
DEBUG_ENV = "MYNAGATE_DEBUG"
MISSING_TABLE = re.compile(r"no such table|relation .* does not exist|UndefinedTable", re.I)


class CliProblem(Exception):
    """A setting to fix, said once in Japanese and once in English."""

    def __init__(self, setting: str, ja: str, en: str) -> None:
        super().__init__(f"{ja} / {en}")
        self.setting = setting

    def line(self) -> str:
        return f"mynagate: {self}"


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _settings_problem(err: Any) -> CliProblem:
    issue = err.errors()[0]
    loc = issue.get("loc") or ()
    named = re.search(r"MYNAGATE_[A-Z_]+", str(issue.get("msg", "")))
    setting = f"MYNAGATE_{str(loc[0]).upper()}" if loc else (
        named.group(0) if named else "MYNAGATE_*")
    return CliProblem(setting, f"設定 {setting} が不正です", f"{setting} is invalid: "
                      f"{issue.get('msg', '')}")


def _database_problem(err: Any) -> CliProblem:
    if MISSING_TABLE.search(str(err.orig)):
        return CliProblem("MYNAGATE_DATABASE_URL",
                          "データベースが未作成です。`mynagate db upgrade` を実行してください",
                          "the database at MYNAGATE_DATABASE_URL has no schema: run "
                          "`mynagate db upgrade`")
    return CliProblem("MYNAGATE_DATABASE_URL", "データベースを使えません (MYNAGATE_DATABASE_URL)",
                      f"cannot use the database at MYNAGATE_DATABASE_URL: {_first_line(err.orig)}")


def _database_explanation(err: BaseException) -> CliProblem | None:
    try:
        from sqlalchemy.exc import ArgumentError, DBAPIError
    except ModuleNotFoundError:  # a reader's `[agent]` install: no database, no database errors
        return None
    if isinstance(err, DBAPIError):
        return _database_problem(err)
    if isinstance(err, ArgumentError):
        return CliProblem("MYNAGATE_DATABASE_URL", "MYNAGATE_DATABASE_URL の形式が不正です",
                          f"MYNAGATE_DATABASE_URL is not a database URL: {_first_line(err)}")
    return None


def explain(err: BaseException) -> CliProblem | None:
    """The setting behind a known failure, or None for a failure nobody foresaw."""
    # Imported here, on failure only: every command, --help included, starts without them.
    import httpx
    from cryptography.exceptions import InvalidTag
    from pydantic import ValidationError

    if isinstance(err, CliProblem):
        return err
    if isinstance(err, ValidationError):
        return _settings_problem(err)
    database = _database_explanation(err)
    if database is not None:
        return database
    if isinstance(err, InvalidTag):
        return CliProblem("MYNAGATE_PIN_WRAP_KEY",
                          "PIN のマスター秘密を復号できません。MYNAGATE_PIN_WRAP_KEY か "
                          "MYNAGATE_DATA_DIR をサービスと同じにしてください",
                          "the PIN wrap key does not open the PIN master secret: set "
                          "MYNAGATE_PIN_WRAP_KEY or MYNAGATE_DATA_DIR as the service has them")
    if isinstance(err, OSError) and err.filename:
        return CliProblem(str(err.filename), f"ファイルを使えません: {err.filename}",
                          f"cannot use {err.filename}: {err.strerror}")
    if isinstance(err, httpx.TransportError):
        return CliProblem("--service", "サービスに接続できません (--service)",
                          f"cannot reach the service (--service): {_first_line(err)}")
    return None


def run_cli(app: Callable[[], object]) -> None:
    """Run ``app``; a failure becomes one line on stderr and an exit status."""
    try:
        app()
    except Exception as err:
        if os.environ.get(DEBUG_ENV):
            raise
        problem = explain(err)
        if problem is not None:
            typer.echo(problem.line(), err=True)
            sys.exit(EX_CONFIG)
        typer.echo(f"mynagate: 予期しないエラー / unexpected error: {type(err).__name__}: "
                   f"{_first_line(err)} ({DEBUG_ENV}=1 で詳細 / shows the traceback)", err=True)
        sys.exit(EX_SOFTWARE)
