"""A reader agent run as a real process for the kill -9 loop: taps as fast as it can and prints
``ACK <seq> <id>`` after each tap's events are durable (i.e. when the door would open).

    python -m tests.agent.tap_driver --data-dir D [--taps N] [--drain]

With ``--drain`` it taps nothing and exits 0 once the outbox is empty (everything delivered).
The uploader, heartbeat and snapshot watcher run in the background the whole time, so a kill
lands in the middle of taps, commits, uploads and acknowledgements alike.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from reader_agent.agent import AgentConfig, ReaderAgent


def _card(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    if args.card_file:
        from .sim_cards import sim_authenticator

        return sim_authenticator(Path(args.card_file))
    from .helpers import fake_card

    return fake_card(args.ref)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--taps", type=int, default=10**9)
    p.add_argument("--drain", action="store_true")
    p.add_argument("--door", type=int, default=1)
    p.add_argument("--ref", default="aa" * 16)
    p.add_argument("--card-file", default=None)
    p.add_argument("--timeout", type=float, default=60)
    args = p.parse_args(argv)

    agent = ReaderAgent(args.data_dir, AgentConfig("sim:kill", args.door), heartbeat_s=3600,
                        upload_idle_s=0.02, wait_s=5)
    if agent.cache.version is None:
        try:
            agent.watcher.sync()
        except Exception as err:  # offline start: taps are denied no_snapshot, still recorded
            print(f"SYNC-FAILED {type(err).__name__}", flush=True)
    authenticate = None if args.drain else _card(args)
    agent.start()
    print("READY", flush=True)
    if args.drain:
        deadline = time.monotonic() + args.timeout
        while agent.outbox.stats()["pending"] and time.monotonic() < deadline:
            agent.uploader.notify()
            time.sleep(0.05)
        pending = agent.outbox.stats()["pending"]
        agent.close()
        print(f"DRAINED {pending}", flush=True)
        return 0 if pending == 0 else 1
    for _ in range(args.taps):
        out = agent.tap(authenticate)
        for e in out.events:
            sys.stdout.write(f"ACK {e['seq']} {e['id']}\n")
        sys.stdout.flush()
    agent.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
