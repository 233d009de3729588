"""Nonces of online-lock polls, kept until their timestamp window has passed (replays)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class LockNonce(Base):
    __tablename__ = "lock_nonce"

    lock_id: Mapped[int] = mapped_column(ForeignKey("smart_lock.id", ondelete="CASCADE"),
                                         primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
