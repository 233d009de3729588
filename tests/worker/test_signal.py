"""``mynagate worker`` as systemd runs it: a real process on the test database that stops
cleanly on SIGTERM, after finishing what it was doing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from api.db import Database
from api.models import JobKind, WorkerJob

MAIN = [sys.executable, "-c", "from mynagate_cli import main; main()"]


def test_sigterm_stops_the_worker_cleanly(database: Database, tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "MYNAGATE_DATABASE_URL": database.url,
           "MYNAGATE_DATA_DIR": str(tmp_path), "MYNAGATE_WORKER_POLL_S": "0.2",
           "MYNAGATE_SMTP_SENDER_ENABLED": "false", "MYNAGATE_SMTP_PORT": "9"}
    proc = subprocess.Popen([*MAIN, "worker", "--id", "sigterm-test"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        ran: set[str] = set()
        while time.monotonic() < deadline and len(ran) < len(JobKind) - 1:
            time.sleep(0.2)
            with database.session() as s:
                ran = {r.kind for r in s.execute(select(WorkerJob)).scalars()
                       if r.last_worker == "sigterm-test"}
        # every job but the monthly reminder (first due on the next reminder day) has run
        assert ran == {k.value for k in JobKind} - {JobKind.EXPORT_REMINDER.value}
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "worker.signal SIGTERM" in err
    assert "worker.stopped id=sigterm-test" in err
    assert "Traceback" not in err
    # journald gets what `serve` writes too: one JSON object per line (deploy-service.md §6)
    events = [json.loads(line) for line in err.splitlines()]
    assert {"event", "level", "timestamp"} <= set(events[-1])
