"""The real reader stacks for the card tests: our own pcscd with vpcd, and nfcpy's udp driver.

Only one pcscd can run on a machine (its socket is always /run/pcscd/pcscd.comm), so the pcscd
fixture holds a file lock for the whole session: test sessions that need it take turns.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PCSCD_PID_FILE = Path("/run/pcscd/pcscd.pid")
LOCK_FILE = Path("/tmp/mynagate-pcscd.lock")
CHANNEL_ID = 0x9C7B  # vpcd listens on 40059 (slot 00) and 40060 (slot 01)
READER = "Test PCD 00 00"
# Low on purpose (pcscd's default is 200): a leaked card handle shows within a few cards.
MAX_HANDLES_PER_READER = 3


@dataclass
class PcscStack:
    pid: int
    port: int
    reader: str
    version: str
    log: Path
    max_handles_per_reader: int
    waited_s: float = 0.0  # time spent waiting for another session's pcscd


def pcscd_version() -> str:
    out = subprocess.run(["pcscd", "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0].strip()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _stray_pcscd() -> int | None:
    try:
        pid = int(PCSCD_PID_FILE.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _readers() -> list[str]:
    from smartcard import scard

    hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hr != scard.SCARD_S_SUCCESS:
        return []
    try:
        hr, readers = scard.SCardListReaders(ctx, [])
        return list(readers) if hr == scard.SCARD_S_SUCCESS else []
    finally:
        scard.SCardReleaseContext(ctx)


@contextlib.contextmanager
def run_pcscd(workdir: Path) -> Iterator[PcscStack]:
    """Start our own ``pcscd --foreground --config DIR`` with a vpcd reader; stop it after."""
    LOCK_FILE.touch(exist_ok=True)
    with open(LOCK_FILE) as lock:
        started = time.monotonic()
        deadline = started + 600
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError("another test session holds the pcscd lock") from None
                time.sleep(0.5)
        stray = _stray_pcscd()
        if stray is not None:
            # A pcscd we did not start (a system one, or a crashed run's). On a CI machine it
            # is ours to stop; on a shared workstation, wait for it and say so.
            if os.environ.get("CI") == "true":
                os.kill(stray, signal.SIGTERM)
            for _ in range(100):
                if not _alive(stray):
                    break
                time.sleep(0.1)
            else:
                raise RuntimeError(f"a pcscd (pid {stray}) not started by the tests is running;"
                                   " stop it first (only one pcscd can run per machine)")
        conf = workdir / "reader.conf.d"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "vpcd-test").write_text(
            f'FRIENDLYNAME "Test PCD"\nDEVICENAME /dev/null:0x{CHANNEL_ID:04X}\n'
            f"LIBPATH /usr/lib/pcsc/drivers/serial/libifdvpcd.so\nCHANNELID 0x{CHANNEL_ID:04X}\n")
        log = workdir / "pcscd.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                ["pcscd", "--foreground", "--config", str(conf),
                 "--max-card-handle-per-reader", str(MAX_HANDLES_PER_READER)],
                stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 15
            while READER not in _readers():
                if proc.poll() is not None:
                    raise RuntimeError(f"pcscd exited: {log.read_text(errors='replace')}")
                if time.monotonic() > deadline:
                    raise RuntimeError("pcscd did not show the vpcd reader within 15 s")
                time.sleep(0.05)
            yield PcscStack(proc.pid, CHANNEL_ID, READER, pcscd_version(), log,
                            MAX_HANDLES_PER_READER, round(time.monotonic() - started, 1))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
