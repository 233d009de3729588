"""Credentials: enrolment from public key material, and the status life cycle.

Status changes (every one needs a reason, and stamps ``status_changed_at``)::

    active ──suspend──▶ suspended ──reactivate──▶ active
    active | suspended ──lost──▶ lost
    active | suspended | lost ──revoke──▶ revoked      (final)

At most one credential of each kind is active per staff member: checked here under a lock on
the staff row, and enforced by the partial unique index ``uq_credential_one_active_per_kind``
(a race that still reaches it answers the same 409). Every change bumps the snapshot version
and stamps the credential with it, so the next snapshot delta carries it.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.audit.admin import row_view
from api.audit.service import record
from api.errors import BadRequest, Conflict, NotFound
from api.models import Credential
from api.models.base import utcnow
from api.snapshot.versioning import bump
from api.staff import repository as staff_repository
from gate.policy import CredentialStatus

from . import repository
from .schemas import CredentialCreate

# action → (statuses it may start from, status it leads to)
_S = CredentialStatus
TRANSITIONS: dict[str, tuple[tuple[CredentialStatus, ...], CredentialStatus]] = {
    "suspend": ((_S.ACTIVE,), _S.SUSPENDED),
    "lost": ((_S.ACTIVE, _S.SUSPENDED), _S.LOST),
    "revoke": ((_S.ACTIVE, _S.SUSPENDED, _S.LOST), _S.REVOKED),
    "reactivate": ((_S.SUSPENDED,), _S.ACTIVE),
}


def _b64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as err:
        raise BadRequest("public_key is not valid base64", field="public_key") from err


def check_key_material(data: CredentialCreate) -> str:
    """Check the key material for its kind; the normalised (lower-case) credential_ref."""
    ref = data.credential_ref.strip().lower()
    raw = _b64(data.public_key)
    if data.kind == "staff_ap":
        if not re.fullmatch(r"[0-9a-f]{32}", ref):
            raise BadRequest("a staff_ap credential_ref is the hex of the 16-byte credential id "
                             "(32 hex digits)", field="credential_ref")
        if len(raw) != 65 or raw[0] != 0x04:
            raise BadRequest("a staff_ap public_key is a 65-byte uncompressed SEC1 P-256 point",
                             field="public_key")
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        except ValueError as err:
            raise BadRequest("public_key is not a point on P-256", field="public_key") from err
        if data.issuer_code is None:
            raise BadRequest("a staff_ap credential needs the card's 6-digit issuer_code",
                             field="issuer_code")
    else:
        if not re.fullmatch(r"[0-9a-f]{64}", ref):
            raise BadRequest("a jpki_auth credential_ref is the SHA-256 fingerprint of the "
                             "authentication certificate (64 hex digits)",
                             field="credential_ref")
        try:
            key = load_der_public_key(raw)
        except ValueError as err:
            raise BadRequest("a jpki_auth public_key is a DER SubjectPublicKeyInfo",
                             field="public_key") from err
        if not isinstance(key, rsa.RSAPublicKey) or key.key_size != 2048:
            raise BadRequest("a jpki_auth public_key is an RSA-2048 key", field="public_key")
        if data.not_after is None:
            raise BadRequest("a jpki_auth credential needs not_after (the certificate's expiry)",
                             field="not_after")
    if data.not_after is not None and data.not_after <= utcnow():
        raise BadRequest("the certificate has already expired", field="not_after")
    return ref


def _integrity_conflict(err: IntegrityError) -> Conflict:
    text = str(err.orig)
    if "one_active_per_kind" in text or "credential.staff_id, credential.kind" in text:
        return Conflict("the staff member already has an active credential of this kind; "
                        "suspend, mark lost or revoke it first", field="kind")
    if "credential_ref" in text:
        return Conflict("this card is already enrolled", field="credential_ref")
    return Conflict("the change conflicts with existing data", field="id")


def _flush(session: Session) -> None:
    try:
        session.flush()
    except IntegrityError as err:
        raise _integrity_conflict(err) from err


def get_or_raise(session: Session, credential_id: int, *, lock: bool = False) -> Credential:
    cred = repository.get(session, credential_id, lock=lock)
    if cred is None:
        raise NotFound(f"credential {credential_id} not found", field="id")
    return cred


def _check_no_other_active(session: Session, staff_id: int, kind: str,
                           credential_id: int | None = None) -> None:
    other = repository.active_of_kind(session, staff_id, kind)
    if other is not None and other.id != credential_id:
        raise Conflict(f"the staff member already has an active {kind} credential "
                       f"(id {other.id}); suspend, mark lost or revoke it first", field="kind")


def create(session: Session, data: CredentialCreate, *, actor: str) -> Credential:
    """Enrol a card for a staff member (active at once)."""
    ref = check_key_material(data)
    # The staff row lock serialises enrolments of one staff member.
    if staff_repository.get_staff(session, data.staff_id, lock=True) is None:
        raise BadRequest(f"staff {data.staff_id} does not exist", field="staff_id")
    if repository.get_by_ref(session, ref) is not None:
        raise Conflict("this card is already enrolled", field="credential_ref")
    _check_no_other_active(session, data.staff_id, data.kind)
    now = utcnow()
    cred = Credential(staff_id=data.staff_id, kind=data.kind, credential_ref=ref,
                      public_key=data.public_key, issuer_code=data.issuer_code,
                      not_after=data.not_after.astimezone(UTC) if data.not_after else None,
                      status=CredentialStatus.ACTIVE, status_reason="enrolled",
                      status_changed_at=now, snapshot_version=0)
    session.add(cred)
    _flush(session)
    cred.snapshot_version = bump(session)
    session.flush()
    record(session, actor=actor, action="credential.create", entity="credential",
           entity_id=cred.id, after=row_view(cred))
    return cred


def change_status(session: Session, credential_id: int, action: str, *, reason: str,
                  actor: str) -> Credential:
    """Suspend, mark lost, revoke or reactivate a credential, with a reason."""
    sources, target = TRANSITIONS[action]
    cred = get_or_raise(session, credential_id)
    staff_repository.get_staff(session, cred.staff_id, lock=True)
    cred = get_or_raise(session, credential_id, lock=True)
    if cred.status not in sources:
        raise Conflict(f"a {cred.status} credential cannot be changed by {action!r} (only from "
                       f"{', '.join(sources)})", field="status")
    if target == "active":
        _check_no_other_active(session, cred.staff_id, cred.kind, cred.id)
    before = row_view(cred)
    cred.status = target
    cred.status_reason = reason
    cred.status_changed_at = utcnow()
    _flush(session)
    cred.snapshot_version = bump(session)
    session.flush()
    record(session, actor=actor, action=f"credential.{action}", entity="credential",
           entity_id=cred.id, before=before, after=row_view(cred))
    return cred
