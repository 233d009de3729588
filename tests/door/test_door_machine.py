"""gate.door: the electric strike state machine, by example and by property."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.door import (
    Alarm,
    ClearAlarm,
    DoorClosed,
    DoorEvent,
    DoorOpened,
    DoorState,
    DoorTiming,
    EmergencyRelease,
    EnergizeRelay,
    Grant,
    GrantAccepted,
    Lockdown,
    RaiseAlarm,
    RefuseGrant,
    ReleaseRelay,
    Tick,
    initial_state,
    next_deadline,
    step,
)

T = DoorTiming(unlock_seconds=5.0, held_open_seconds=30.0)


def run(events: list[DoorEvent], state: DoorState | None = None):
    state = state or initial_state(T, now=0.0)
    out = []
    for ev in events:
        s = step(state, ev)
        state = s.state
        out.append(s.actions)
    return state, out


# ---- examples -----------------------------------------------------------------------------


def test_grant_unlocks_and_relocks_when_the_door_closes():
    state, acts = run([Grant(1.0), DoorOpened(2.0), DoorClosed(3.0)])
    assert acts[0] == (GrantAccepted(6.0), EnergizeRelay())
    assert acts[1] == ()
    assert acts[2] == (ReleaseRelay(),)
    assert not state.relay and not state.alarms


def test_grant_relocks_after_n_seconds_when_nobody_opens():
    state, acts = run([Grant(1.0), Tick(5.9), Tick(6.0)])
    assert acts[1] == ()
    assert acts[2] == (ReleaseRelay(),)
    assert state.unlock_until is None


def test_door_still_open_when_time_is_up_relocks_without_forced_alarm():
    state, acts = run([Grant(0.0), DoorOpened(1.0), Tick(5.0), DoorClosed(8.0)])
    assert acts[2] == (ReleaseRelay(),)
    assert acts[3] == ()
    assert not state.alarms


def test_opening_while_locked_is_forced_open_until_closed():
    state, acts = run([DoorOpened(1.0), DoorClosed(2.0)])
    assert acts[0] == (RaiseAlarm(Alarm.FORCED_OPEN),)
    assert acts[1] == (ClearAlarm(Alarm.FORCED_OPEN),)
    assert not state.relay


def test_opening_just_after_the_window_is_forced_even_without_a_tick():
    _, acts = run([Grant(0.0), DoorOpened(5.0)])
    assert acts[1] == (ReleaseRelay(), RaiseAlarm(Alarm.FORCED_OPEN))


def test_held_open_after_t_and_cleared_on_close():
    state, acts = run([Grant(0.0), DoorOpened(1.0), Tick(30.9), Tick(31.0), Tick(40.0),
                       DoorClosed(41.0)])
    assert acts[3] == (RaiseAlarm(Alarm.HELD_OPEN),)
    assert acts[4] == ()  # raised once
    assert acts[5] == (ClearAlarm(Alarm.HELD_OPEN),)


def test_lockdown_refuses_grants_and_ends_running_unlock():
    _, acts = run([Grant(0.0), Lockdown(1.0, on=True), Grant(2.0), Lockdown(3.0, on=False),
                   Grant(4.0)])
    assert acts[1] == (ReleaseRelay(),)
    assert acts[2] == (RefuseGrant("lockdown"),)
    assert acts[3] == ()
    assert acts[4] == (GrantAccepted(9.0), EnergizeRelay())


def test_emergency_release_holds_unlocked_and_wins_over_lockdown():
    state, acts = run([Lockdown(0.0, on=True), EmergencyRelease(1.0, on=True), Tick(100.0),
                       DoorOpened(101.0), Tick(500.0), EmergencyRelease(600.0, on=False)])
    assert acts[1] == (EnergizeRelay(),)
    assert acts[2] == () and acts[3] == () and acts[4] == ()  # no forced, no held-open
    assert acts[5] == (ReleaseRelay(),)
    # held-open counts again from the end of the emergency
    state, acts = run([Tick(629.0), Tick(630.0)], state)
    assert acts == [(), (RaiseAlarm(Alarm.HELD_OPEN),)]


def test_a_second_grant_extends_the_window_and_time_never_runs_back():
    state, acts = run([Grant(0.0), Grant(3.0), Tick(7.9), Tick(2.0), Tick(8.0)])
    assert acts[1] == (GrantAccepted(8.0),)
    assert acts[2] == () and acts[3] == ()
    assert acts[4] == (ReleaseRelay(),)
    assert state.now == 8.0


def test_next_deadline():
    s = initial_state(T, now=0.0)
    assert next_deadline(s) is None
    s = step(s, Grant(1.0)).state
    assert next_deadline(s) == 6.0
    s = step(s, DoorOpened(2.0)).state
    assert next_deadline(s) == 6.0
    s = step(s, Tick(6.0)).state
    assert next_deadline(s) == 32.0


def test_start_with_the_door_open_counts_held_open_but_not_forced():
    s = initial_state(T, now=10.0, door_open=True)
    _, acts = run([Tick(39.0), Tick(40.0)], s)
    assert acts == [(), (RaiseAlarm(Alarm.HELD_OPEN),)]


def test_bad_timing_and_grant_rejected():
    with pytest.raises(ValueError):
        DoorTiming(unlock_seconds=0)
    with pytest.raises(ValueError):
        step(initial_state(T, now=0), Grant(1.0, seconds=-1))


# ---- properties ---------------------------------------------------------------------------

timings = st.builds(DoorTiming,
                    unlock_seconds=st.sampled_from([1.0, 3.0, 5.0, 10.0]),
                    held_open_seconds=st.sampled_from([5.0, 15.0, 30.0]))

kinds = st.one_of(
    st.tuples(st.just("grant"), st.none() | st.sampled_from([1.0, 2.5, 8.0])),
    st.tuples(st.sampled_from(["open", "close", "tick"]), st.none()),
    st.tuples(st.sampled_from(["lockdown", "emergency"]), st.booleans()),
)
traces = st.lists(st.tuples(st.sampled_from([0.0, 0.1, 0.5, 1.0, 2.0, 4.9, 5.0, 12.0, 31.0]),
                            kinds), max_size=40)


def make(now: float, kind: str, arg: object) -> DoorEvent:
    if kind == "grant":
        return Grant(now, seconds=arg)  # type: ignore[arg-type]
    if kind == "open":
        return DoorOpened(now)
    if kind == "close":
        return DoorClosed(now)
    if kind == "tick":
        return Tick(now)
    if kind == "lockdown":
        return Lockdown(now, on=bool(arg))
    return EmergencyRelease(now, on=bool(arg))


@dataclass
class World:
    """An independent bookkeeping of the trace, to check the machine against."""

    timing: DoorTiming
    relay: bool = False  # replayed from the actions only
    alarms: set[Alarm] = field(default_factory=set)
    door_open: bool = False
    opened_at: float | None = None
    emergency: bool = False
    lockdown: bool = False
    # (time, seconds) of grants accepted since the last lockdown and since the last close
    live_grants: list[tuple[float, float]] = field(default_factory=list)


def check_trace(timing: DoorTiming, trace: list[tuple[float, tuple[str, object]]]) -> World:
    state = initial_state(timing, now=0.0)
    w = World(timing)
    now = 0.0
    for dt, (kind, arg) in trace:
        now += dt
        ev = make(now, kind, arg)
        s = step(state, ev)
        state = s.state
        was_open = w.door_open
        opened_before, emergency_before = w.opened_at, w.emergency
        relay_before_event: bool | None = None
        for a in s.actions:
            if isinstance(a, EnergizeRelay):
                assert not w.relay, "energized twice"
                w.relay = True
            elif isinstance(a, ReleaseRelay):
                assert w.relay, "released twice"
                w.relay = False
            elif isinstance(a, RaiseAlarm):
                assert a.alarm not in w.alarms
                if a.alarm is Alarm.FORCED_OPEN:
                    relay_before_event = w.relay
                w.alarms.add(a.alarm)
            elif isinstance(a, ClearAlarm):
                assert a.alarm in w.alarms
                w.alarms.discard(a.alarm)
            elif isinstance(a, GrantAccepted):
                w.live_grants.append((now, a.until - now))
        assert w.relay == state.relay
        assert w.alarms == set(state.alarms)

        if kind == "lockdown":
            w.lockdown = bool(arg)
            if arg:
                w.live_grants.clear()
        if kind == "emergency":
            if w.emergency and not arg and w.door_open:
                w.opened_at = now
            w.emergency = bool(arg)
        if kind == "grant":
            accepted = any(isinstance(a, GrantAccepted) for a in s.actions)
            refused = any(isinstance(a, RefuseGrant) for a in s.actions)
            assert accepted != refused
            assert refused == (w.lockdown and not w.emergency)
        w.live_grants = [(g, d) for g, d in w.live_grants if now < g + d]
        window_open = bool(w.live_grants) and not w.lockdown

        # The relay is never energized during lockdown without emergency release.
        if w.lockdown and not w.emergency:
            assert not state.relay
            assert not any(isinstance(a, EnergizeRelay) for a in s.actions)
        # Every unlock ends within its N seconds unless emergency release holds it.
        if state.relay and not w.emergency:
            assert any(g <= now < g + d for g, d in w.live_grants)
        # Emergency release always holds the strike released.
        if w.emergency:
            assert state.relay

        if kind == "open" and not was_open:
            w.door_open, w.opened_at = True, now
            locked = not (w.emergency or window_open)
            forced = Alarm.FORCED_OPEN in state.alarms
            # Forced-open is raised iff the door opened while locked.
            assert forced == locked
            if relay_before_event is not None:
                assert relay_before_event is False
        if kind == "close" and was_open:
            w.door_open, w.opened_at = False, None
            w.live_grants.clear()  # relock on close
            assert not state.alarms
            assert state.relay == w.emergency
        if kind == "open" and was_open:
            assert not any(isinstance(a, RaiseAlarm) and a.alarm is Alarm.FORCED_OPEN
                           for a in s.actions)
        # Held-open: raised iff the door has been open for T, outside emergency.
        if (w.opened_at is not None and not w.emergency
                and now - w.opened_at >= timing.held_open_seconds):
            assert Alarm.HELD_OPEN in state.alarms
        if not w.door_open:
            assert Alarm.HELD_OPEN not in state.alarms
        if RaiseAlarm(Alarm.HELD_OPEN) in s.actions:  # raised before the event applies
            assert opened_before is not None and not emergency_before
            assert now - opened_before >= timing.held_open_seconds
    return w


@settings(max_examples=400, deadline=None, derandomize=True)
@given(timings, traces)
def test_properties_hold_on_every_trace(timing: DoorTiming, trace):
    check_trace(timing, trace)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(timings, traces)
def test_every_unlock_ends_within_n_seconds_unless_emergency(timing: DoorTiming, trace):
    state = initial_state(timing, now=0.0)
    now = 0.0
    last_grant_end = 0.0
    for dt, (kind, arg) in trace:
        now += dt
        s = step(state, make(now, kind, arg))
        state = s.state
        for a in s.actions:
            if isinstance(a, GrantAccepted):
                last_grant_end = max(last_grant_end, a.until)
    if not state.emergency:
        later = step(state, Tick(max(now, last_grant_end)))
        assert not later.state.relay
        assert later.state.unlock_until is None


@settings(max_examples=200, deadline=None, derandomize=True)
@given(timings, traces)
def test_forced_open_never_raised_while_unlocked(timing: DoorTiming, trace):
    """The door opening while the strike is released is never a forced open."""
    state = initial_state(timing, now=0.0)
    now = 0.0
    for dt, (kind, arg) in trace:
        now += dt
        ev = make(now, kind, arg)
        before = step(state, Tick(now)).state  # the strike as it is at this instant
        s = step(state, ev)
        if isinstance(ev, DoorOpened) and not state.door_open:
            assert (RaiseAlarm(Alarm.FORCED_OPEN) in s.actions) == (
                not before.relay and Alarm.FORCED_OPEN not in before.alarms)
        state = s.state
