"""Audit log of admin changes, and the counter that versions the decision snapshot."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class AuditLog(Base):
    """Append-only and hash-chained (``api.audit.chain``): row ``seq`` n stores the hash of row
    n-1 and its own hash over that and its canonical content."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class SnapshotCounter(Base):
    """One row: the current snapshot version, bumped (under a row lock) by every change to
    decision data."""

    __tablename__ = "snapshot_counter"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class SnapshotChange(Base):
    """A staff member whose snapshot rows (staff row, group memberships, credentials) a
    transaction changed, written by PostgreSQL triggers (migration 0520) with that
    transaction's id, so the shared snapshot table re-reads just those staff after a change
    (``api.snapshot.tables``) instead of scanning every row. ``staff_id`` -1: everything (a
    TRUNCATE). Empty on SQLite (no triggers; the table is read whole there); rows older than a
    day are deleted by ``bump``."""

    __tablename__ = "snapshot_change"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    xid: Mapped[int] = mapped_column(BigInteger, index=True)  # pg_current_xact_id()
    staff_id: Mapped[int]
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
