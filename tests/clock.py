"""The test suite's moved clock (time-machine), for the pytest session and its subprocesses.

``MYNAGATE_TEST_MOVED_CLOCK=<ISO datetime with offset>`` moves the whole pytest session there,
ticking: ``datetime.now``, ``time.time`` and every thread move together (``time.monotonic``
does not move, as on a real machine). CI's dates come from ``python -m tests.clock_dates``.

Processes a test starts do not inherit time-machine, so tests start Python subprocesses through
:func:`python`, which runs them on the same moved clock.
"""

from __future__ import annotations

import os
import runpy
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine

ENV = "MYNAGATE_TEST_MOVED_CLOCK"
# Seconds the moved clock is ahead of the real one, set once the session travels, so that a
# subprocess started later lands at the same moved moment rather than at the start date.
OFFSET_ENV = "MYNAGATE_TEST_CLOCK_OFFSET"
# A file: the real-clock run writes the node ids of the tests that read the clock into it; the
# moved-clock runs read it to mark those tests ``clock``.
READERS_ENV = "MYNAGATE_TEST_CLOCK_READERS"
PROJECT = str(Path(__file__).resolve().parents[1]) + os.sep


def moved_to() -> datetime | None:
    """Where ``MYNAGATE_TEST_MOVED_CLOCK`` moves the clock, or None when it is not set."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return None
    when = datetime.fromisoformat(raw)
    if when.tzinfo is None:
        raise ValueError(f"{ENV}={raw!r}: give a UTC offset, e.g. 2027-03-31T23:59:00+09:00")
    return when


def travel_from_env() -> time_machine.travel | None:
    """Move this process's clock as the environment says (None when it is not moved).

    The first process to travel records the offset in the environment; its subprocesses read
    it, so parent and child agree on the moved time however long the session has run."""
    hatch = time_machine.escape_hatch
    real_now = (hatch.datetime.datetime.now(UTC) if hatch.is_travelling()  # the real clock
                else datetime.now(UTC))
    offset = os.environ.get(OFFSET_ENV)
    if offset is not None:
        when: datetime | None = real_now + timedelta(seconds=float(offset))
    else:
        when = moved_to()
        if when is None:
            return None
        os.environ[OFFSET_ENV] = str((when - real_now).total_seconds())
    traveller = time_machine.travel(when, tick=True)
    traveller.start()
    return traveller


class ClockProbe:
    """Notes which test reads the wall clock (``datetime.now``, ``time.time``, ``date.today``,
    from any thread), through the one method every clock read of time-machine passes through.

    Only reads by the project's own code during the test body count: a library's (pytest's
    timings, hypothesis, logging, connection pools) do not make a test depend on the date, nor
    does a fixture stamping its rows at setup (a fixture whose value is the date is ``now`` or
    ``wall_clock``, marked by name). A subprocess started at setup counts: it reads the clock
    during the body where the probe cannot see. The probe travels to the current time (offset
    0), so the clock it shows is unchanged."""

    active: ClockProbe | None = None  # the installed probe, told of subprocesses by python()

    def __init__(self) -> None:
        self.current: str | None = None  # the test being set up or run
        self.in_body = False  # whether the current test's body (pytest's call phase) runs
        self.readers: set[str] = set()
        self._original = time_machine.Traveller.time_ns
        self._travel: time_machine.travel | None = None

    def install(self) -> None:
        original, probe = self._original, self

        def time_ns(traveller: time_machine.Traveller) -> int:
            caller = sys._getframe(1).f_code.co_filename  # who called datetime.now() & co.
            if probe.in_body and caller.startswith(PROJECT) and "site-packages" not in caller:
                probe.note()
            return original(traveller)

        time_machine.Traveller.time_ns = time_ns  # type: ignore[method-assign]
        self._travel = time_machine.travel(datetime.now(UTC), tick=True)
        self._travel.start()
        ClockProbe.active = self

    def note(self) -> None:
        """The current test reads the clock."""
        if self.current is not None:
            self.readers.add(self.current)

    def uninstall(self) -> None:
        ClockProbe.active = None
        if self._travel is not None:
            self._travel.stop()
        time_machine.Traveller.time_ns = self._original  # type: ignore[method-assign]


def write_clock_readers(node_ids: set[str]) -> None:
    Path(os.environ[READERS_ENV]).write_text("".join(f"{n}\n" for n in sorted(node_ids)))


def read_clock_readers() -> set[str]:
    """The tests the real-clock run saw reading the clock (none without the file)."""
    path = Path(os.environ.get(READERS_ENV) or "/nonexistent")
    return set(path.read_text().splitlines()) if path.is_file() else set()


def python(*args: str) -> list[str]:
    """The command line of ``python -m MODULE ...`` or ``python -c CODE ...`` on the moved clock.

    The probe cannot see a subprocess read the clock, so a test starting one, in its body or
    in a fixture's setup, counts as a reader."""
    if ClockProbe.active is not None:
        ClockProbe.active.note()
    return [sys.executable, "-m", "tests.clock", *args]


def main(argv: list[str]) -> None:
    """Run ``-m MODULE ARGS...`` or ``-c CODE ARGS...`` like python would, after travelling."""
    if len(argv) < 2 or argv[0] not in {"-m", "-c"}:
        raise SystemExit("usage: python -m tests.clock (-m MODULE | -c CODE) [ARGS...]")
    travel_from_env()
    kind, target, rest = argv[0], argv[1], argv[2:]
    if kind == "-m":
        sys.argv = [target, *rest]
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        sys.argv = ["-c", *rest]
        exec(compile(target, "<string>", "exec"), {"__name__": "__main__"})  # noqa: S102


if __name__ == "__main__":
    main(sys.argv[1:])
