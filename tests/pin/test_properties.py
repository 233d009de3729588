"""Hypothesis properties of PIN v1, variants, reserved codes and the throttle."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gate.pin import (
    Grace,
    LivePin,
    PinWindow,
    ThrottleState,
    VariantsExhausted,
    allowed_at,
    assign_variant,
    derive_lock_key,
    emergency_code,
    issue_pin,
    parse_emergency,
    parse_revocation,
    record_failure,
    revocation_code,
    verify_pin,
)
from gate.pin.codes import REVOCATION_HORIZON_DAYS
from gate.pin.variants import overlaps

KEY = derive_lock_key(b"k" * 32, "aso-gym-01", 0)
LOCK, GEN = "aso-gym-01", 0
BASE = 1994000

starts = st.integers(BASE, BASE + 2000)
durations = st.integers(1, 96)
graces = st.builds(Grace, st.integers(0, 2), st.integers(0, 2))


def test_split_days_chunks_are_accepted_whole():
    from gate.pin.v1 import split_days

    chunks = split_days(BASE, BASE + 300)
    assert [d for _, d in chunks] == [94, 94, 94, 18]
    for s, d in chunks:
        pin = issue_pin(KEY, LOCK, GEN, PinWindow(s, d))
        assert all(verify_pin(KEY, LOCK, GEN, pin, n) for n in range(s - 1, s + d + 1))


@settings(max_examples=300, deadline=None)
@given(start=starts, dur=durations, c=st.integers(0, 2), grace=graces,
       offset=st.integers(-400, 400))
def test_no_pin_valid_outside_its_window_plus_grace(start, dur, c, grace, offset):
    w = PinWindow(start, dur, c)
    pin = issue_pin(KEY, LOCK, GEN, w)
    n = start + offset
    got = verify_pin(KEY, LOCK, GEN, pin, n, grace)
    first, stop = w.accepted_range(grace)
    assert first == start - grace.early and stop <= start + dur + grace.late
    inside = first <= n < stop
    if not inside:
        assert got is None
    else:
        assert got == w


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(bookings=st.lists(st.tuples(st.integers(BASE, BASE + 300), durations), min_size=1,
                         max_size=25),
       dup=st.lists(st.integers(0, 24), max_size=6))
def test_no_two_simultaneously_valid_pins_on_a_lock_collide(bookings, dup):
    # repeat some bookings exactly (same slot twice or more: the case variants exist for)
    bookings = bookings + [bookings[i % len(bookings)] for i in dup]
    live: list[LivePin] = []
    exhausted = 0
    for s, d in bookings:
        try:
            w, pin = assign_variant(s, d, live, lambda w: issue_pin(KEY, LOCK, GEN, w))
        except VariantsExhausted:
            exhausted += 1
            same = [p for p in live if (p.window.start_slot, p.window.duration_slots) == (s, d)]
            assert len(same) == 3  # only refused when all three variants are taken
            continue
        live.append(LivePin(w, pin))
    for i, a in enumerate(live):
        for b in live[i + 1:]:
            if overlaps(a.window, b.window):
                assert a.pin != b.pin
                # and at every common slot the lock tells them apart
                n = max(a.window.start_slot, b.window.start_slot)
                assert verify_pin(KEY, LOCK, GEN, a.pin, n) in (a.window, None)
    assert exhausted <= len(bookings)


@settings(max_examples=200, deadline=None)
@given(start=starts, dur=durations, c=st.integers(0, 2), ahead=st.integers(-95, 96 * 14))
# Found in CI-like runs: a 24 h code exactly at the 14-day horizon was not recognised.
@example(start=1994000, dur=96, c=0, ahead=1344)
def test_revocation_code_names_exactly_its_pin(start, dur, c, ahead):
    w = PinWindow(start, dur, c)
    code = revocation_code(KEY, LOCK, GEN, w)
    assert len(code) == 12 and int(code[:4]) >= 9216
    now = start - ahead
    got = parse_revocation(KEY, LOCK, GEN, code, now)
    still_relevant = start + dur + 1 > now and start - now <= 96 * REVOCATION_HORIZON_DAYS
    if still_relevant:
        assert got == w
    else:
        assert got is None or got != w
    # another generation's key names a different PIN, if anything (a 1e-6 chance per day)
    other = derive_lock_key(b"k" * 32, LOCK, 1)
    assert parse_revocation(other, LOCK, 1, code, start) != w or start < 0


@settings(max_examples=200, deadline=None)
@given(issue=starts, counter=st.integers(0, 9), offset=st.integers(-200, 200))
def test_emergency_code_valid_one_hour_plus_grace(issue, counter, offset):
    code = emergency_code(KEY, LOCK, GEN, issue, counter)
    assert int(code[:4]) >= 9216 and len(code) == 12
    n = issue + offset
    got = parse_emergency(KEY, LOCK, GEN, code, n)
    if -1 <= offset < 4 + 1:
        assert got is not None and got.issue_slot == issue and got.counter == counter
    else:
        assert got is None


DAY = 86400


def guesses_in(times: list[int], start: int, length: int) -> int:
    return sum(1 for t in times if start <= t < start + length)


@settings(max_examples=300, deadline=None)
@given(gaps=st.lists(st.integers(0, 4 * 3600), min_size=1, max_size=120),
       greedy=st.lists(st.booleans(), min_size=1, max_size=120),
       restarts=st.lists(st.integers(0, 119), max_size=5))
def test_throttle_bounds_guesses_to_34_a_day(gaps, greedy, restarts):
    """Any strategy (early tries refused, pauses of any length, power cuts that reload the
    persisted state): every 24 h window holds at most 34 checked guesses, and after the first
    5 at most 29 more; a strategy sticking to it gets no more than 24 a day in steady state."""
    state, t = ThrottleState(), 1_700_000_000
    counted: list[int] = []
    for i, gap in enumerate(gaps):
        if greedy[i % len(greedy)]:
            t = max(t, state.next_allowed)
        else:
            t += gap
        if i in restarts:
            state = ThrottleState.from_dict(dict(state.to_dict()))  # power cut and reload
        if allowed_at(state, t):
            state = record_failure(state, t)
            counted.append(t)
        else:
            t += 1
    for s in counted:
        assert guesses_in(counted, s, DAY) <= 34
        assert guesses_in(counted, s + 1, DAY) <= 34


def test_throttle_greedy_attacker_exact_counts():
    """The fastest attacker: 34 guesses the first day (5 free, waits 1,2,4,...,32, then 60 min),
    then 24 a day."""
    state, t = ThrottleState(), 0
    counted: list[int] = []
    while t < 10 * DAY:
        t = max(t, state.next_allowed)
        assert allowed_at(state, t)
        state = record_failure(state, t)
        counted.append(t)
    assert guesses_in(counted, 0, DAY) == 34
    assert counted[5] - counted[4] == 0 and counted[6] - counted[5] == 60
    assert counted[12] - counted[11] == 3600
    assert max(guesses_in(counted, s, DAY) for s in counted if s >= DAY) == 24


def test_throttle_decays_with_time_not_success():
    state = ThrottleState()
    for _ in range(8):
        state = record_failure(state, max(0, state.next_allowed))
    assert state.failures == 8
    later = state.anchor + 5 * 3600 + 10
    assert allowed_at(state, later)
    after = record_failure(state, later)
    assert after.failures == 8 - 5 + 1  # five idle hours forgave five failures
    assert after.next_allowed == later  # back among the free failures
