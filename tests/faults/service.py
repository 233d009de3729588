"""``mynagate serve`` as a real process the test can kill -9 and start again on the same port."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.clock import python
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


class ServeProcess:
    def __init__(self, database_url: str, data_dir: Path, *, migrate: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "MYNAGATE_ENV": "development",
                    "MYNAGATE_DATABASE_URL": database_url, "MYNAGATE_DATA_DIR": str(data_dir)}
        self.migrate = migrate
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 60) -> ServeProcess:
        log = self.data_dir.parent / f"serve-{self.starts}.log"
        self.starts += 1
        args = ["--port", str(self.port)] + ([] if self.migrate else ["--no-migrate"])
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                python("-c", "from mynagate_cli import main; main()", "serve", *args),
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, f"serve exited: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"serve did not start: {log.read_text()[-2000:]}"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)

    def kill9(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, "serve is not running"
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
