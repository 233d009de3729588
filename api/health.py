"""Liveness and version."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from sqlalchemy import text

from .db import Database

router = APIRouter(tags=["health"])
# Health checks run on threads of their own: a thread pool busy with imports or a flood of
# requests must not make the service look dead (issue 9, finding 2).
HEALTH_THREADS = 2


def _ping(db: Database) -> None:
    with db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


@router.get("/healthz")
async def healthz(request: Request) -> dict[str, str]:
    """Service and database are up (the query runs off the event loop)."""
    state = request.app.state
    if getattr(state, "health_limiter", None) is None:  # made on the serving event loop
        state.health_limiter = anyio.CapacityLimiter(HEALTH_THREADS)
    await anyio.to_thread.run_sync(_ping, state.db, limiter=state.health_limiter)
    return {"status": "ok"}
