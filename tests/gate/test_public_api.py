"""Every public gate module declares ``__all__`` and every name in it exists (httpx style)."""

from __future__ import annotations

import importlib
import pkgutil

import gate


def gate_modules() -> list[str]:
    return [m.name for m in pkgutil.walk_packages(gate.__path__, "gate.")
            if not m.name.rsplit(".", 1)[-1].startswith("_")]


def test_all_is_declared_and_resolves():
    names = gate_modules()
    assert "gate.policy" in names
    for name in names:
        module = importlib.import_module(name)
        if module.__name__.count(".") and hasattr(module, "__path__"):
            continue  # a subpackage's __init__ may only document
        exported = getattr(module, "__all__", None)
        assert exported is not None, f"{name} has no __all__"
        missing = [n for n in exported if not hasattr(module, n)]
        assert not missing, f"{name}.__all__ names missing objects: {missing}"
        assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"
