"""Admin payloads for credentials (a card bound to a staff member)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.staff.validation import Reason
from gate.policy import CredentialStatus

CredentialKind = Literal["staff_ap", "jpki_auth"]


class CredentialCreate(BaseModel):
    """Public key material only: the card keeps its private key.

    - ``staff_ap``: ``credential_ref`` = hex of the 16-byte credential id, ``public_key`` =
      base64 of the 65-byte uncompressed SEC1 P-256 point, ``issuer_code`` = 6 digits.
    - ``jpki_auth``: ``credential_ref`` = SHA-256 fingerprint (hex) of the user-authentication
      certificate, ``public_key`` = base64 DER SubjectPublicKeyInfo (RSA-2048), ``not_after`` =
      the certificate's expiry.
    """

    model_config = ConfigDict(extra="forbid")

    staff_id: int
    kind: CredentialKind
    credential_ref: str = Field(min_length=1, max_length=64)
    public_key: str = Field(min_length=1, max_length=4000)
    issuer_code: str | None = Field(default=None, pattern=r"^[0-9]{6}$")
    not_after: AwareDatetime | None = None


class CredentialStatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class CredentialRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    staff_id: int
    kind: str
    credential_ref: str
    public_key: str
    issuer_code: str | None
    not_after: datetime | None
    status: CredentialStatus
    status_reason: str | None
    status_changed_at: datetime | None
    snapshot_version: int
    created_at: datetime
    updated_at: datetime
