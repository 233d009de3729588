"""The retry schedule of the outbox (tenacity's strategies on the stored attempt count)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from api.mail.retry import RetryPolicy
from api.mail.sender import PermanentMailError, TransientMailError

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
policies = st.builds(dict, attempts=st.integers(1, 20), initial_s=st.floats(0.01, 600),
                     max_s=st.floats(1, 86400), jitter_s=st.floats(0, 60))


@given(policies, st.integers(1, 40))
def test_transient_errors_back_off_exponentially_up_to_the_cap(p, attempt):
    at = RetryPolicy(**p).next_attempt(attempt, TransientMailError("refused"), NOW)
    if attempt >= p["attempts"]:
        assert at is None  # the last attempt: give up
        return
    assert at is not None
    base = p["initial_s"] * 2 ** (attempt - 1)
    wait = (at - NOW).total_seconds()
    assert min(base, p["max_s"]) - 1e-3 <= wait <= min(base + p["jitter_s"], p["max_s"]) + 1e-3


@given(policies, st.integers(1, 40))
def test_a_permanent_refusal_is_never_retried(p, attempt):
    assert RetryPolicy(**p).next_attempt(attempt, PermanentMailError("550"), NOW) is None


@given(st.integers(2, 20), st.floats(0.01, 600), st.floats(1, 86400))
def test_without_jitter_the_waits_never_shrink(attempts, initial_s, max_s):
    policy = RetryPolicy(attempts=attempts, initial_s=initial_s, max_s=max_s, jitter_s=0)
    waits = [policy.next_attempt(n, TransientMailError("x"), NOW) for n in range(1, attempts)]
    assert all(w is not None for w in waits)
    assert waits == sorted(waits)  # type: ignore[type-var]
    assert waits[-1] <= NOW + timedelta(seconds=max_s)  # type: ignore[operator]
