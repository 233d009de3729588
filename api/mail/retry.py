"""When to try a message again: tenacity's stop, wait and retry strategies, applied to the
attempt count kept in the outbox (so retries survive a restart and never sleep a thread)."""

from __future__ import annotations

from datetime import datetime, timedelta

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from .sender import TransientMailError
from .settings import SmtpSettings


class RetryPolicy:
    """Exponential backoff with jitter, at most ``attempts`` tries, transient errors only
    (``retry_on``: mail's by default; events out pass their own)."""

    def __init__(self, *, attempts: int, initial_s: float, max_s: float, jitter_s: float,
                 retry_on: type[BaseException] | tuple[type[BaseException], ...]
                 = TransientMailError) -> None:
        self._retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential_jitter(multiplier=initial_s, max=max_s, jitter=jitter_s),
            retry=retry_if_exception_type(retry_on))

    @classmethod
    def from_settings(cls, s: SmtpSettings) -> RetryPolicy:
        return cls(attempts=s.retry_attempts, initial_s=s.retry_initial_s, max_s=s.retry_max_s,
                   jitter_s=s.retry_jitter_s)

    def next_attempt(self, attempt: int, error: BaseException, now: datetime) -> datetime | None:
        """After the ``attempt``-th try failed with ``error``: when to try again, or None to
        give up (a permanent error, or the last attempt)."""
        state = RetryCallState(self._retrying, fn=None, args=(), kwargs={})
        state.attempt_number = attempt
        state.set_exception((type(error), error, error.__traceback__))
        if not self._retrying.retry(state) or self._retrying.stop(state):
            return None
        return now + timedelta(seconds=self._retrying.wait(state))
