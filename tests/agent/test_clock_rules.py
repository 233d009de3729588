"""gate.clock: 出勤/退勤 punch rules (pure, ``now`` passed in) and gate.messages texts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from gate.clock import PunchKind, business_date, feedback_text, punch
from gate.messages import reason_text
from gate.policy import JST, Reason
from mynagate_i18n import translations

JA, EN = translations("ja").gettext, translations("en").gettext


def jst(y: int, m: int, d: int, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=JST)


def test_first_tap_is_in_later_tap_is_out_and_feedback_text():
    p1 = punch(None, staff_id=3, now=jst(2026, 11, 27, 8, 27))
    assert p1.kind is PunchKind.IN
    assert feedback_text(p1, "山田", JA) == "おはようございます 山田さん 08:27 出勤"
    p2 = punch(p1.state, staff_id=3, now=jst(2026, 11, 27, 17, 32))
    assert p2.kind is PunchKind.OUT
    assert feedback_text(p2, "山田", JA) == "お疲れさまでした 山田さん 17:32 退勤"
    assert feedback_text(p2, "Yamada", EN) == "Thank you for your work, Yamada 17:32 clock-out"
    assert p2.state.first_at == jst(2026, 11, 27, 8, 27)  # the shift's 出勤
    # Taps alternate: the next one opens a new shift (attendance still takes the day's first
    # and last punch).
    p3 = punch(p2.state, staff_id=3, now=jst(2026, 11, 27, 18, 5))
    assert p3.kind is PunchKind.IN and p3.state.last_at == jst(2026, 11, 27, 18, 5)


def test_a_shift_past_the_day_change_and_a_call_in_before_it():
    """08:30 → 翌05:40 is one shift; a call-in at 04:30 after the day's 退勤 is an 出勤."""
    p1 = punch(None, staff_id=3, now=jst(2026, 11, 19, 8, 30))
    p2 = punch(p1.state, staff_id=3, now=jst(2026, 11, 20, 5, 40))
    assert p2.kind is PunchKind.OUT  # before 08:00 (05:00 + SHIFT_OVERRUN 3 h)
    p3 = punch(p2.state, staff_id=3, now=jst(2026, 11, 21, 4, 30))
    assert p3.kind is PunchKind.IN
    p4 = punch(p3.state, staff_id=3, now=jst(2026, 11, 21, 17, 15))
    assert p4.kind is PunchKind.OUT  # the shift started 11/21 04:30: open until 11/22 08:00


def test_second_tap_within_a_minute_is_not_a_new_punch():
    p1 = punch(None, staff_id=3, now=jst(2026, 11, 27, 8, 27))
    again = punch(p1.state, staff_id=3, now=jst(2026, 11, 27, 8, 27, 59))
    assert again.kind is PunchKind.REPEAT
    assert again.state == p1.state  # nothing remembered changes
    assert feedback_text(again, "山田", JA) == "打刻済みです 山田さん 08:27 出勤"
    later = punch(p1.state, staff_id=3, now=jst(2026, 11, 27, 8, 28, 0))
    assert later.kind is PunchKind.OUT


def test_forgotten_clock_out_does_not_flip_the_next_day():
    p1 = punch(None, staff_id=3, now=jst(2026, 11, 26, 8, 30))  # no 退勤 that day
    nxt = punch(p1.state, staff_id=3, now=jst(2026, 11, 27, 8, 31))
    assert nxt.kind is PunchKind.IN
    assert nxt.business_date.isoformat() == "2026-11-27"


def test_business_day_changes_at_five():
    assert business_date(jst(2026, 11, 28, 4, 59)).isoformat() == "2026-11-27"
    assert business_date(jst(2026, 11, 28, 5, 0)).isoformat() == "2026-11-28"
    # A night shift: in at 22:00, out at 02:00 the next calendar day is the same business day.
    p1 = punch(None, staff_id=1, now=jst(2026, 11, 27, 22, 0))
    p2 = punch(p1.state, staff_id=1, now=jst(2026, 11, 28, 2, 0))
    assert p2.kind is PunchKind.OUT


def test_explicit_buttons_override():
    p1 = punch(None, staff_id=3, now=jst(2026, 11, 27, 8, 0), explicit=PunchKind.OUT)
    assert p1.kind is PunchKind.OUT
    p2 = punch(p1.state, staff_id=3, now=jst(2026, 11, 27, 8, 0, 20), explicit=PunchKind.IN)
    assert p2.kind is PunchKind.IN  # a different button within a minute still counts


moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31),
                       timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(start=moments, gaps=st.lists(st.integers(min_value=0, max_value=3 * 86400),
                                    min_size=1, max_size=12))
def test_sequence_properties(start: datetime, gaps: list[int]):
    """Over any tap sequence: a tap within 60 s of the last counted punch never counts; after
    a counted 出勤 the next tap is a 退勤 until 08:00 after the next day change (at most 24 h
    later); otherwise it is an 出勤."""
    state = None
    now = start
    for gap in gaps:
        now = now + timedelta(seconds=gap)
        p = punch(state, staff_id=9, now=now)
        assert p.business_date == business_date(now)
        if state is not None and (now - state.last_at) < timedelta(seconds=60):
            assert p.kind is PunchKind.REPEAT
            assert p.state == state
        elif state is not None and state.last_kind is PunchKind.IN:
            started = state.last_at.astimezone(JST).date()
            limit = datetime(started.year, started.month, started.day, 8, tzinfo=JST) \
                + timedelta(days=1)
            closes = now < limit and now - state.last_at <= timedelta(hours=24)
            assert p.kind is (PunchKind.OUT if closes else PunchKind.IN)
        else:
            assert p.kind is PunchKind.IN
        state = p.state


@given(now=moments, prior_hour=st.integers(min_value=5, max_value=23))
def test_yesterdays_state_never_makes_out(now: datetime, prior_hour: int):
    """Whatever happened on an earlier business day, the first tap today after 08:00 is IN."""
    hour = now.astimezone(JST).hour
    if hour < 8:  # 05:00–08:00 may still close last night's shift: move past it
        now += timedelta(hours=8 - hour)
    yesterday = business_date(now) - timedelta(days=1)
    prior_at = datetime(yesterday.year, yesterday.month, yesterday.day, prior_hour, tzinfo=JST)
    prior = punch(None, staff_id=5, now=prior_at).state
    assert punch(prior, staff_id=5, now=now).kind is PunchKind.IN


def test_every_reason_has_japanese_and_english_text():
    for reason in Reason:
        ja, en = reason_text(reason, JA), reason_text(reason, EN)
        assert ja and en and ja != en
    assert "通信" in reason_text(Reason.SNAPSHOT_STALE, JA)
    assert "Offline" in reason_text(Reason.SNAPSHOT_STALE, EN)
