"""The door state machine: an electric strike with a door-position sensor.

Pure: :func:`step` takes a state and an event carrying ``now`` (seconds on a monotonic clock)
and returns the new state plus the actions the door I/O must perform. Nothing here reads a
clock or touches hardware; ``reader_agent.door_io.DoorController`` feeds it.

Rules
-----
- A **grant** (a successful tap, or a remote unlock) energizes the relay for ``unlock_seconds``.
  The strike relocks when the door closes after having been opened, or when the time is up
  (whichever comes first), even if the door is still open: a strike only latches on closing.
- **Lockdown** refuses grants and ends any running unlock.
- **Emergency release** (fire alarm input, or an operator) holds the strike released until it
  is switched off. It wins over lockdown: people must be able to get out.
- **Forced open**: the door opens while the strike is locked. Raised at once, cleared when the
  door closes again.
- **Held open**: the door stays open for ``held_open_seconds`` or longer (not during emergency
  release). Cleared when the door closes.

Every event first advances time: an unlock window that has run out ends, and a held-open
alarm that is due is raised, *before* the event itself is applied. So a door opening one
millisecond after the window ended is a forced open, whether or not a tick came in between.
Time never runs backwards inside the machine: an earlier ``now`` is treated as the last one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

__all__ = [
    "Action",
    "Alarm",
    "Assurance",
    "ClearAlarm",
    "DoorClosed",
    "DoorEvent",
    "DoorMode",
    "DoorOpened",
    "DoorState",
    "DoorTiming",
    "EmergencyRelease",
    "EnergizeRelay",
    "Grant",
    "GrantAccepted",
    "Lockdown",
    "RaiseAlarm",
    "RefuseGrant",
    "ReleaseRelay",
    "Step",
    "Tick",
    "initial_state",
    "next_deadline",
    "relay_should_be_energized",
    "step",
]


class Alarm(StrEnum):
    """Alarm names (``data.alarm`` of an ``alarm`` event)."""

    HELD_OPEN = "held_open"
    FORCED_OPEN = "forced_open"
    # Raised by the reader agent, not by the door state machine:
    READER_FAILING = "reader_failing"  # the card reader keeps failing (pcscd, USB, handles)
    SNAPSHOT_ROLLBACK = "snapshot_rollback"  # snapshot.json on disk older than one accepted
    CONFIG_REFUSED = "config_refused"  # a fetched config bundle: bad signature, older, invalid
    DISK_FULL = "disk_full"  # the outbox's disk filled up: its reserve was spent


class DoorMode(StrEnum):
    """What a door point does with a granted tap (the value is the one stored and sent)."""

    ACCESS = "access"  # opens a strike
    CLOCK = "clock"  # 打刻 only: no strike
    BOTH = "both"  # opens and punches

    @property
    def unlocks(self) -> bool:
        """A granted tap releases a strike (a pure clock point has none)."""
        return self is not DoorMode.CLOCK

    @property
    def is_clock(self) -> bool:
        """A granted tap is also a clock punch."""
        return self is not DoorMode.ACCESS


class Assurance(StrEnum):
    """What a tap must prove at a door."""

    CARD = "card"  # the staff card's challenge–response
    CARD_PIN = "card+pin"  # JPKI authentication with its PIN

    @property
    def needs_pin(self) -> bool:
        return self is Assurance.CARD_PIN


@dataclass(frozen=True)
class DoorTiming:
    """How long a grant unlocks the strike, and when an open door becomes held open."""

    unlock_seconds: float = 5.0
    held_open_seconds: float = 30.0

    def __post_init__(self) -> None:
        if not self.unlock_seconds > 0:
            raise ValueError("unlock_seconds must be positive")
        if not self.held_open_seconds > 0:
            raise ValueError("held_open_seconds must be positive")


# ---- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """Unlock for ``seconds`` (default: the door's ``unlock_seconds``)."""

    now: float
    seconds: float | None = None


@dataclass(frozen=True)
class DoorOpened:
    now: float


@dataclass(frozen=True)
class DoorClosed:
    now: float


@dataclass(frozen=True)
class Tick:
    now: float


@dataclass(frozen=True)
class Lockdown:
    now: float
    on: bool


@dataclass(frozen=True)
class EmergencyRelease:
    now: float
    on: bool


DoorEvent = Grant | DoorOpened | DoorClosed | Tick | Lockdown | EmergencyRelease


# ---- actions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnergizeRelay:
    """Release the strike (the relay is energized: a fail-secure strike opens)."""


@dataclass(frozen=True)
class ReleaseRelay:
    """Lock the strike (the relay is de-energized)."""


@dataclass(frozen=True)
class RaiseAlarm:
    alarm: Alarm


@dataclass(frozen=True)
class ClearAlarm:
    alarm: Alarm


@dataclass(frozen=True)
class GrantAccepted:
    until: float


@dataclass(frozen=True)
class RefuseGrant:
    reason: str  # "lockdown"


Action = EnergizeRelay | ReleaseRelay | RaiseAlarm | ClearAlarm | GrantAccepted | RefuseGrant


# ---- state --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DoorState:
    """Everything the machine remembers about one door.

    ``relay`` is what the relay was last told to be; ``unlock_until`` is the end of the
    running grant window (None when no grant is running); ``opened_at`` is when the door
    last opened (None while it is closed).
    """

    timing: DoorTiming
    now: float = 0.0
    relay: bool = False
    door_open: bool = False
    unlock_until: float | None = None
    opened_at: float | None = None
    lockdown: bool = False
    emergency: bool = False
    alarms: frozenset[Alarm] = frozenset()


@dataclass(frozen=True)
class Step:
    state: DoorState
    actions: tuple[Action, ...]


def initial_state(timing: DoorTiming, *, now: float, door_open: bool = False) -> DoorState:
    """The state at start-up: strike locked, the door as the sensor reads it, no alarm."""
    return DoorState(timing=timing, now=now, door_open=door_open,
                     opened_at=now if door_open else None)


def relay_should_be_energized(state: DoorState) -> bool:
    """Emergency release holds the strike open; otherwise a running grant outside lockdown."""
    if state.emergency:
        return True
    return state.unlock_until is not None and not state.lockdown


def next_deadline(state: DoorState) -> float | None:
    """The next time a :class:`Tick` changes something (window end, held-open due)."""
    times: list[float] = []
    if state.unlock_until is not None:
        times.append(state.unlock_until)
    if (state.opened_at is not None and Alarm.HELD_OPEN not in state.alarms
            and not state.emergency):
        times.append(state.opened_at + state.timing.held_open_seconds)
    return min(times) if times else None


def _advance(state: DoorState, now: float, actions: list[Action]) -> DoorState:
    now = max(now, state.now)
    state = replace(state, now=now)
    if state.unlock_until is not None and now >= state.unlock_until:
        state = replace(state, unlock_until=None)
    if (state.opened_at is not None and not state.emergency
            and Alarm.HELD_OPEN not in state.alarms
            and now - state.opened_at >= state.timing.held_open_seconds):
        state = replace(state, alarms=state.alarms | {Alarm.HELD_OPEN})
        actions.append(RaiseAlarm(Alarm.HELD_OPEN))
    return state


def _sync_relay(state: DoorState, actions: list[Action]) -> DoorState:
    want = relay_should_be_energized(state)
    if want != state.relay:
        actions.append(EnergizeRelay() if want else ReleaseRelay())
        state = replace(state, relay=want)
    return state


def _clear(state: DoorState, alarm: Alarm, actions: list[Action]) -> DoorState:
    if alarm in state.alarms:
        actions.append(ClearAlarm(alarm))
        return replace(state, alarms=state.alarms - {alarm})
    return state


def step(state: DoorState, event: DoorEvent) -> Step:
    """Apply one event; return the new state and the actions, in the order to perform them."""
    actions: list[Action] = []
    # Time first: the relay follows the window even when the event itself changes nothing.
    state = _sync_relay(_advance(state, event.now, actions), actions)

    if isinstance(event, Grant):
        if state.lockdown and not state.emergency:
            actions.append(RefuseGrant("lockdown"))
        else:
            seconds = state.timing.unlock_seconds if event.seconds is None else event.seconds
            if not seconds > 0:
                raise ValueError("a grant unlocks for a positive number of seconds")
            until = state.now + seconds
            if state.unlock_until is not None:
                until = max(until, state.unlock_until)
            state = replace(state, unlock_until=until)
            actions.append(GrantAccepted(until))
    elif isinstance(event, DoorOpened):
        if not state.door_open:
            state = replace(state, door_open=True, opened_at=state.now)
            if not state.relay and Alarm.FORCED_OPEN not in state.alarms:
                state = replace(state, alarms=state.alarms | {Alarm.FORCED_OPEN})
                actions.append(RaiseAlarm(Alarm.FORCED_OPEN))
    elif isinstance(event, DoorClosed):
        if state.door_open:
            # The door was opened and is shut again: the grant is used up, relock now.
            state = replace(state, door_open=False, opened_at=None, unlock_until=None)
            state = _clear(state, Alarm.HELD_OPEN, actions)
            state = _clear(state, Alarm.FORCED_OPEN, actions)
    elif isinstance(event, Lockdown):
        state = replace(state, lockdown=event.on)
        if event.on:
            state = replace(state, unlock_until=None)
    elif isinstance(event, EmergencyRelease):
        if state.emergency and not event.on and state.opened_at is not None:
            # Held-open counts from the end of the emergency, not from when the door opened.
            state = replace(state, opened_at=state.now)
        state = replace(state, emergency=event.on)
    # Tick: time has already been advanced.

    return Step(_sync_relay(state, actions), tuple(actions))
