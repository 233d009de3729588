"""Liveness and version."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from .db import SessionDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(session: SessionDep) -> dict[str, str]:
    """Service and database are up."""
    session.execute(text("SELECT 1"))
    return {"status": "ok"}
