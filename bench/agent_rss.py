"""The process that ``agent_rss`` (bench/agent.py) measures: it imports only what an agent
imports, so the bench's own modules (the key box of ``pin_verify``, the snapshot generator) are
not counted.

    python -m bench.agent_rss DATA_DIR SERVICE_KEY_HEX TAPS

starts as an agent does (``SnapshotCache.load`` of ``DATA_DIR/snapshot.json``, if there is
one), serves ``TAPS`` taps through the outbox, and prints its VmRSS and VmHWM (kB) as JSON. The
display and the strike are the agent's ends, not recorders: a recorder keeps every message and
unlock, which no agent does (about 1 MB after 10,000 taps).
"""

from __future__ import annotations

import json
import os
import random
import sys
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from reader_agent.agent import AgentConfig, TapProcessor
from reader_agent.card_auth import KIND_STAFF_AP, CardAuthResult
from reader_agent.display import ConsoleDisplay
from reader_agent.outbox import Outbox
from reader_agent.snapshot_cache import SnapshotCache

DEVICE = "6f1c2b8e-0000-4000-8000-00000000b001"
NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # 10:00 JST on a Monday
STAFF = 20_000


class Strike:
    """An electric strike that releases (the GPIO line is outside the agent's memory)."""

    def unlock(self, door_id: int, seconds: float) -> None:
        pass


def ref_of(i: int) -> str:
    return f"{i:032x}"


def run(data_dir: Path, public_key: bytes, taps: int) -> dict[str, int]:
    key = Ed25519PublicKey.from_public_bytes(public_key)
    cache = SnapshotCache(data_dir / "snapshot.json", key, DEVICE)
    cache.load()
    with open(os.devnull, "w", encoding="utf-8") as screen:
        tp = TapProcessor(AgentConfig("sim:bench", 1), cache, Outbox(data_dir / "outbox.sqlite3"),
                          door_io=Strike(), display=ConsoleDisplay(screen),
                          device_clock=lambda: NOW)
        rng = random.Random(3)
        for _ in range(taps):
            # An in-process card that has already proved the ref (card I/O excluded).
            result = CardAuthResult(True, KIND_STAFF_AP, ref_of(rng.randint(1, STAFF)), None, "")
            tp.tap(lambda _ctx, r=result: r)
        status = Path("/proc/self/status").read_text()
        tp.close()
    return {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines()
            if line.startswith(("VmRSS", "VmHWM"))}


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]), bytes.fromhex(sys.argv[2]), int(sys.argv[3]))))
