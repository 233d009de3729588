"""What an agent process loads: httpx without its command-line client (reader_agent/__init__.py).

httpx's package ``__init__`` imports ``httpx._main`` (click, rich, pygments: about 5.5 MB
resident) whenever those are installed; the agent never runs it. A fresh interpreter, since
this test process has imported httpx (and click) long before.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
CLI_PACKAGES = ("click", "rich", "pygments")

PROBE = """
import json, sys
import reader_agent.agent
import httpx
print(json.dumps({"client": httpx.Client.__name__,
                  "loaded": [m for m in ("click", "rich", "pygments") if m in sys.modules],
                  "cli": sys.modules.get("httpx._main") is not None}))
"""


def test_the_agent_loads_httpx_without_its_command_line_client():
    # Installed here (typer needs click and rich), so httpx would import its CLI.
    assert all(importlib.util.find_spec(m) is not None for m in CLI_PACKAGES)
    out = subprocess.run([sys.executable, "-c", PROBE], check=True, capture_output=True,
                         text=True, cwd=ROOT)
    result = json.loads(out.stdout)
    assert result["client"] == "Client"
    assert result["loaded"] == []
    assert result["cli"] is False  # httpx took its own fallback for a missing CLI


def test_httpx_still_imports_its_command_line_client_without_the_agent():
    """The control: the same probe without the agent's package does load the CLI, so the test
    above can fail."""
    out = subprocess.run([sys.executable, "-c", PROBE.replace("import reader_agent.agent", "")],
                         check=True, capture_output=True, text=True, cwd=ROOT)
    result = json.loads(out.stdout)
    assert set(result["loaded"]) >= {"click", "rich"}
    assert result["cli"] is True
