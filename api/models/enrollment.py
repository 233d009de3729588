"""Card enrollment: read the credential file, prove possession, bind once an admin confirms."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, TimestampMixin
from .credential import Credential
from .org import Staff

ENROLLMENT_STATUSES = ("awaiting_response", "pending_confirmation", "confirmed", "cancelled")


class CardEnrollment(Base, TimestampMixin):
    __tablename__ = "card_enrollment"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="staff_ap")
    # base64 of the 32-byte challenge the card must sign (fresh per enrollment).
    challenge: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24), default="awaiting_response")
    expires_at: Mapped[datetime]
    # Filled from the card's credential file once possession is proven.
    credential_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    issuer_code: Mapped[str | None] = mapped_column(String(6), default=None)
    # staff_ap: base64 SEC1 point; jpki_auth: base64 DER SubjectPublicKeyInfo.
    public_key: Mapped[str | None] = mapped_column(Text, default=None)
    not_after: Mapped[datetime | None] = mapped_column(default=None)  # jpki_auth cert expiry
    responded_at: Mapped[datetime | None] = mapped_column(default=None)
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str] = mapped_column(String(100))
    confirmed_by: Mapped[str | None] = mapped_column(String(100), default=None)
    credential_id: Mapped[int | None] = mapped_column(ForeignKey("credential.id"), default=None)
    replaced_credential_id: Mapped[int | None] = mapped_column(
        ForeignKey("credential.id"), default=None)

    staff: Mapped[Staff] = relationship(lazy="raise")
    credential: Mapped[Credential | None] = relationship(foreign_keys=[credential_id],
                                                         lazy="raise")
