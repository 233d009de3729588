"""The example systemd unit agrees with the CLI: state directory, installed bundle name."""

from __future__ import annotations

import shlex
from pathlib import Path

from mynagate_cli.config import INSTALLED_BUNDLE

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "examples" / "mynagate-agent.service"


def unit_settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    logical = UNIT.read_text().replace("\\\n", " ")
    for line in logical.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "[")):
            continue
        key, _, value = line.partition("=")
        out.setdefault(key, []).append(value)
    return out


def test_unit_runs_the_agent_on_the_installed_bundle_in_its_state_directory():
    s = unit_settings()
    [exec_start] = s["ExecStart"]
    argv = shlex.split(exec_start)
    assert argv[0].endswith("/bin/mynagate") and argv[1:3] == ["agent", "run"]
    data_dir = argv[argv.index("--data-dir") + 1]
    bundle = argv[argv.index("--bundle") + 1]
    [state] = s["StateDirectory"]
    assert data_dir == f"/var/lib/{state}"
    assert bundle == f"{data_dir}/{INSTALLED_BUNDLE}"
    assert s["User"] == ["mynagate"] and s["Restart"] == ["always"]
    assert s["KillSignal"] == ["SIGTERM"]
    assert s["NoNewPrivileges"] == ["yes"]


def test_deploy_doc_names_the_files_it_tells_people_to_use():
    doc = (ROOT / "docs" / "deploy-reader.md").read_text(encoding="utf-8")
    for path in ("examples/mynagate-agent.service", "examples/site.toml"):
        assert path in doc and (ROOT / path).exists()
    assert "vsmartcard-vpcd" in doc and "Never install" in doc
    assert INSTALLED_BUNDLE in doc
