"""``mynagate demo --once`` as a real subprocess: the scripted scenario end to end, exit 0, and
nothing left behind (the service port is free again and no process of its group survives)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from pathlib import Path

from api.users.roles import TOTP_ROLES, Role
from tests.clock import python

ROOT = Path(__file__).resolve().parent.parent


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_demo_once_runs_the_scenario_and_leaves_nothing_behind(tmp_path: Path) -> None:
    # Hold a port so the demo has to notice it is busy and pick another one.
    busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    busy_port = busy.getsockname()[1]
    data_dir = tmp_path / "demo"
    env = {**os.environ, "MYNAGATE_DATA_DIR": str(tmp_path / "unused"),
           "MYNAGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
           "PYTHONUNBUFFERED": "1"}
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(
            python("-c", "from mynagate_cli import main; main()", "demo", "--once",
                   "--port", str(busy_port), "--data-dir", str(data_dir)),
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            out, err = proc.communicate()
            raise AssertionError(f"demo did not finish in 120 s\n{out}\n{err}") from None
    finally:
        busy.close()
    took = time.monotonic() - t0
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{err}"

    lines = out.splitlines()

    def line(prefix: str) -> str:
        found = [ln for ln in lines if ln.startswith(prefix)]
        assert len(found) == 1, f"no single line starting {prefix!r} in\n{out}"
        return found[0]

    assert f"ポート {busy_port} は使用中" in out
    logins = {ln.split()[0]: ln for ln in lines if "パスワード:" in ln}  # one user per role
    assert set(logins) == {r.value for r in Role}
    assert {r for r, ln in logins.items() if "TOTP:" in ln} == {r.value for r in TOTP_ROLES}
    assert line("[1] 書庫").endswith("→ 解錠 granted")
    assert line("[2] 書庫").endswith("→ 拒否 no_permission")
    assert line("[3] サーバ室").endswith("→ 拒否 pin_required")
    assert line("[4] サーバ室").endswith("→ 拒否 no_permission")
    assert line("[5] 書庫").endswith("→ 拒否 credential_lost")
    assert line("[6] 1階打刻").endswith("→ 打刻 granted") and "出勤" in line("[6]")
    assert line("[7] 1階打刻").endswith("→ 打刻 granted") and "退勤" in line("[7]")
    attendance = line("[8] 勤怠")
    m = re.search(r"出勤 (\d\d:\d\d) 退勤 (\d\d:\d\d) 在庁 (\d+):(\d\d)", attendance)
    assert m, attendance
    assert int(m.group(3)) * 60 + int(m.group(4)) > 0
    events = re.search(r"\[9\] GET /admin/events → (\d+) 件", out)
    assert events and int(events.group(1)) >= 7, out
    assert "予約" in out and "暗証番号をメール送信しました" in out
    assert "キーボックス: 解錠しました" in out
    assert "6時間後の同じ暗証番号: 拒否" in out
    url = re.search(r"サービス: (http://127\.0\.0\.1:(\d+))\s+API ドキュメント: \1/docs", out)
    assert url, out
    port = int(url.group(2))
    assert port != busy_port
    assert line("管理画面: ").startswith(f"管理画面: {url.group(1)}/console ")

    # The demo ran in its own data dir and nothing of it outlives the process.
    assert (data_dir / "mynagate.db").exists()
    assert not (tmp_path / "unused.db").exists()
    assert _port_is_free(port), f"port {port} still in use after the demo exited"
    assert not _group_alive(proc.pid), "a process of the demo's group survived it"
    assert "Traceback" not in err, err
    assert took < 60, f"the demo took {took:.1f} s"
