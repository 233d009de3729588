"""Property tests of the pure parts: the secret rule, the int32 clamp, and the body limit over
any chunking of a body."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from api.bounded import INT32_MAX, INT32_MIN, clamp_int32
from api.limits import BodyLimitMiddleware, BodyTooLarge, limit_for
from api.settings import MIN_SECRET_CHARS, PLACEHOLDER_SECRETS, Env, InsecureSettings, check_secrets


@given(st.text(max_size=40), st.sampled_from([Env.PRODUCTION, Env.TEST]))
def test_a_secret_is_accepted_outside_development_iff_long_and_not_published(value, env):
    ok = len(value) >= MIN_SECRET_CHARS and value not in PLACEHOLDER_SECRETS
    try:
        check_secrets(env, {"MYNAGATE_X": value})
    except InsecureSettings as err:
        assert not ok and err.setting == "MYNAGATE_X"
    else:
        assert ok
    check_secrets(Env.DEVELOPMENT, {"MYNAGATE_X": value})  # development takes anything


@given(st.integers())
def test_clamp_int32_saturates(value):
    out = clamp_int32(value)
    assert INT32_MIN <= out <= INT32_MAX
    assert out == value or (value > INT32_MAX and out == INT32_MAX) or \
        (value < INT32_MIN and out == INT32_MIN)


PATH = "/api/v1/locks/x/poll"
LIMIT = limit_for(PATH).max_bytes


async def _send(chunks: list[bytes], declare: bool) -> tuple[int | None, int]:
    """Run the middleware over an app that reads the whole body; (status, bytes the app read)."""
    read = 0
    status: int | None = None

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        nonlocal read
        while True:
            message = await receive()
            read += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    queue = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
             for i, c in enumerate(chunks)]

    async def receive():  # type: ignore[no-untyped-def]
        return queue.pop(0)

    async def send(message):  # type: ignore[no-untyped-def]
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    total = sum(map(len, chunks))
    headers = [(b"content-length", str(total).encode())] if declare else []
    try:
        await BodyLimitMiddleware(app)({"type": "http", "path": PATH, "headers": headers},
                                       receive, send)
    except BodyTooLarge:
        status = 413
    return status, read


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=LIMIT // 2), min_size=1, max_size=6),
       st.booleans())
def test_any_chunking_is_refused_iff_over_the_limit_and_never_read_far_past_it(sizes, declare):
    chunks = [b"x" * n for n in sizes]
    total = sum(sizes)
    status, read = asyncio.run(_send(chunks, declare))
    assert (status == 413) == (total > LIMIT)
    if total > LIMIT:
        # Declared: nothing read. Streamed: stopped within the chunk that passed the limit.
        assert read == 0 if declare else read <= LIMIT
