"""The ``mynagate`` command: the composition root that wires gate, reader_agent, api and
firmware_config together. Each command group lives in its own module, listed below."""

from __future__ import annotations

import importlib

import typer

from .errors import run_cli

app = typer.Typer(no_args_is_help=True, help="mynagate: My Number Card access control and attendance")

# (module, group name or None for top-level commands). A module exposes ``app`` (a Typer).
COMMAND_MODULES: list[tuple[str, str | None]] = [
    ("mynagate_cli.db", "db"),
    ("mynagate_cli.serve", None),
    ("mynagate_cli.locks", "locks"),
    ("mynagate_cli.export", "export"),
    ("mynagate_cli.config", "config"),
    ("mynagate_cli.agent", "agent"),
    ("mynagate_cli.card", "card"),
    ("mynagate_cli.demo", None),
    ("mynagate_cli.mail", "mail"),
    ("mynagate_cli.worker", None),
    ("mynagate_cli.backup", "backup"),
    ("mynagate_cli.users", "users"),
    ("mynagate_cli.audit", "audit"),
]
# Import names of the `server` extra. A group whose module needs them is listed on a reader
# host (`pip install 'mynagate[agent]'`) but says what to install instead of failing.
SERVER_PACKAGES = frozenset({"fastapi", "uvicorn", "sqlalchemy", "alembic", "psycopg",
                             "pydantic_settings", "jpholiday", "structlog", "openpyxl",
                             "aiosmtpd", "prometheus_client"})


def _needs_server(name: str) -> None:
    """Register ``name`` as a command that takes any arguments and says what to install."""

    @app.command(name, help="(サーバ用 / needs the server: pip install 'mynagate[server]')",
                 context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                   "help_option_names": []})
    def _unavailable(ctx: typer.Context) -> None:
        typer.echo(f"mynagate {name}: このコマンドはサーバ用です / this command needs the "
                   "server's packages: pip install 'mynagate[server]'", err=True)
        raise typer.Exit(2)


def _load(module: str, name: str | None) -> typer.Typer | None:
    """The module's Typer, or None if it needs the server's packages and they are missing."""
    try:
        return importlib.import_module(module).app  # type: ignore[no-any-return]
    except ModuleNotFoundError as err:
        if name is None or (err.name or "").split(".")[0] not in SERVER_PACKAGES:
            raise
        return None


for _module, _name in COMMAND_MODULES:
    _sub = _load(_module, _name)
    if _sub is None:
        _needs_server(str(_name))
    elif _name is None:
        app.registered_commands.extend(_sub.registered_commands)
    else:
        app.add_typer(_sub, name=_name)


def main() -> None:
    run_cli(app)
