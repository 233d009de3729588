"""Credentials bind a card to a staff member: the town's staff AP, or a JPKI auth certificate."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gate.policy import CredentialStatus

from .base import Base, TimestampMixin
from .org import Staff

CREDENTIAL_KINDS = ("staff_ap", "jpki_auth")


class Credential(Base, TimestampMixin):
    __tablename__ = "credential"
    __table_args__ = (
        # At most one active credential of each kind per staff member.
        Index(
            "uq_credential_one_active_per_kind",
            "staff_id",
            "kind",
            unique=True,
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    # staff_ap: hex of the 16-byte credential id; jpki_auth: SHA-256 fingerprint of the cert.
    credential_ref: Mapped[str] = mapped_column(String(64), unique=True)
    # staff_ap: base64 SEC1 P-256 point; jpki_auth: base64 DER SubjectPublicKeyInfo.
    public_key: Mapped[str] = mapped_column(Text)
    issuer_code: Mapped[str | None] = mapped_column(String(6), default=None)
    not_after: Mapped[datetime | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(20), default=CredentialStatus.ACTIVE, index=True)
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    status_changed_at: Mapped[datetime | None] = mapped_column(default=None)
    # Snapshot version at which this row last changed (drives snapshot deltas).
    snapshot_version: Mapped[int] = mapped_column(default=0, index=True)

    staff: Mapped[Staff] = relationship(lazy="raise")
