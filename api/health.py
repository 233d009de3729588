"""Liveness and version."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import text
from sqlalchemy.orm import Session

from .db import get_session

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(session: Session = Depends(get_session)) -> dict[str, str]:
    """Service and database are up."""
    session.execute(text("SELECT 1"))
    return {"status": "ok"}
