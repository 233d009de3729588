"""The dependency direction of the design card, checked on the source text (AST):

- gate imports nothing of ours and no framework (no FastAPI, SQLAlchemy, httpx, pyscard, nfcpy);
- reader_agent and firmware_config never import api;
- nothing but tests (and the CLI composition root, mynagate_cli) imports api.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = {"gate", "reader_agent", "api", "firmware_config", "mynagate_cli"}
FRAMEWORKS = {"fastapi", "starlette", "sqlalchemy", "alembic", "httpx", "uvicorn", "smartcard",
              "nfc", "gpiozero", "pydantic", "typer"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_gate_imports_nothing_of_ours_nor_frameworks():
    files = sources("gate")
    assert files, "gate/ has no sources"
    for f in files:
        bad = imported_roots(f) & ((OURS - {"gate"}) | FRAMEWORKS)
        assert not bad, f"{f.relative_to(ROOT)} imports {sorted(bad)}"


def test_only_tests_and_the_cli_import_api():
    for package in ("gate", "reader_agent", "firmware_config"):
        for f in sources(package):
            assert "api" not in imported_roots(f), f"{f.relative_to(ROOT)} imports api"


def test_checker_sees_a_violation(tmp_path: Path):
    """The checker itself can fail: a file importing api is caught."""
    f = tmp_path / "x.py"
    f.write_text("from api.db import Database\nimport sqlalchemy.orm\n")
    assert {"api", "sqlalchemy"} <= imported_roots(f)
