"""The ``mynagate`` command: the composition root that wires gate, reader_agent, api and
firmware_config together. Each command group lives in its own module, listed below."""

from __future__ import annotations

import importlib

import typer

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
    ("mynagate_cli.users", "users"),
    ("mynagate_cli.audit", "audit"),
]

for _module, _name in COMMAND_MODULES:
    _sub = importlib.import_module(_module).app
    if _name is None:
        app.registered_commands.extend(_sub.registered_commands)
    else:
        app.add_typer(_sub, name=_name)


def main() -> None:
    app()
