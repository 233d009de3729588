"""Card enrollment at an enrollment reader (staff card AP v1).

1. ``start``: a fresh 32-byte challenge for one staff member;
2. ``respond``: the reader sends the card's credential file (``staff_ap``) or its JPKI
   user-authentication certificate (``jpki_auth``, signed after the holder's PIN) and the
   card's signature over the challenge; possession is proven with the key the card presents
   (there is no enrolled key yet — that is what enrollment establishes, under an admin's eyes);
3. ``confirm``: an admin binds the credential to the staff member. The member's previous
   active credential of that kind is revoked ("replaced" — a new card, or a JPKI certificate
   renewed after its 5 years), both rows are stamped with a new snapshot version, and the
   change is audited.

The JPKI chain is checked by the readers at every tap against their configured CAs (and by
the enrollment reader before the PIN); here the signature, the key type and the validity period
are checked. ``check_certificate`` runs every check that needs no PIN — validity now, key type,
not already registered — so the enrollment reader asks for the PIN only for a card that will be
accepted: a refused card never costs a PIN try.
"""

from __future__ import annotations

import base64
import binascii
import os
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy.orm import Session

from api.audit.service import record
from api.errors import BadRequest, Conflict, NotFound
from api.models import CardEnrollment, Credential
from api.models.base import utcnow
from api.snapshot.versioning import bump
from gate.card.apdu import ResponseError
from gate.card.staff_ap import RECORD_LENGTH, CredentialRecord, verify_signature
from gate.policy import CredentialStatus

from . import repository
from .schemas import (
    CertificateCheck,
    CertificateCheckRead,
    EnrollmentCreate,
    EnrollmentRead,
    EnrollmentResponse,
)

CHALLENGE_TTL = timedelta(minutes=10)
JPKI = "jpki_auth"


def _read(e: CardEnrollment) -> EnrollmentRead:
    return EnrollmentRead(
        id=e.id, staff_id=e.staff_id, kind=e.kind, status=e.status, challenge=e.challenge,
        expires_at=e.expires_at, credential_ref=e.credential_ref, issuer_code=e.issuer_code,
        not_after=e.not_after,
        credential_id=e.credential_id, replaced_credential_id=e.replaced_credential_id,
        created_at=e.created_at, responded_at=e.responded_at, confirmed_at=e.confirmed_at)


def _b64(value: str, field: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as err:
        raise BadRequest(f"{field} is not valid base64", field=field) from err


def get_or_raise(session: Session, enrollment_id: int, *, lock: bool = False) -> CardEnrollment:
    enrollment = repository.get(session, enrollment_id, lock=lock)
    if enrollment is None:
        raise NotFound(f"enrollment {enrollment_id} not found", field="id")
    return enrollment


def get(session: Session, enrollment_id: int) -> EnrollmentRead:
    return _read(get_or_raise(session, enrollment_id))


def start(session: Session, data: EnrollmentCreate, *, actor: str) -> EnrollmentRead:
    """Open an enrollment with a fresh challenge."""
    if data.staff_id is not None:
        staff = repository.staff_by_id(session, data.staff_id)
        field = "staff_id"
    else:
        assert data.staff_number is not None
        staff = repository.staff_by_number(session, data.staff_number)
        field = "staff_number"
    if staff is None:
        raise NotFound("no such staff member", field=field)
    enrollment = CardEnrollment(staff_id=staff.id, kind=data.kind, status="awaiting_response",
                                challenge=base64.b64encode(os.urandom(32)).decode(),
                                expires_at=utcnow() + CHALLENGE_TTL, created_by=actor)
    session.add(enrollment)
    session.flush()
    record(session, actor=actor, action="enrollment.start", entity="card_enrollment",
           entity_id=enrollment.id, after={"staff_id": staff.id, "kind": data.kind})
    return _read(enrollment)


def _awaiting(session: Session, enrollment_id: int, *, lock: bool) -> CardEnrollment:
    enrollment = get_or_raise(session, enrollment_id, lock=lock)
    if enrollment.status != "awaiting_response":
        raise Conflict(f"enrollment is {enrollment.status}, not awaiting a card",
                       field="status")
    if utcnow() > enrollment.expires_at:
        raise Conflict("the enrollment challenge has expired: start a new enrollment",
                       field="expires_at")
    return enrollment


def _not_registered(session: Session, enrollment: CardEnrollment, ref: str, field: str,
                    public_key: str | None = None) -> Credential | None:
    """None for a card never registered; the member's own lost card of this kind (a lost card
    that turned up: the enrollment proves it is in hand again, with the key enrolled for it);
    any other registered card is a 409."""
    existing = repository.credential_by_ref(session, ref)
    if existing is None:
        return None
    if existing.status == CredentialStatus.LOST and existing.staff_id == enrollment.staff_id and \
            existing.kind == enrollment.kind and public_key in (None, existing.public_key):
        return existing
    raise Conflict(f"credential {ref} is already registered (status {existing.status})",
                   field=field)


def check_certificate(session: Session, enrollment_id: int,
                      data: CertificateCheck) -> CertificateCheckRead:
    """Before the holder's PIN: would this JPKI certificate be accepted?"""
    enrollment = _awaiting(session, enrollment_id, lock=False)
    if enrollment.kind != JPKI:
        raise Conflict("only a jpki_auth enrollment checks a certificate", field="kind")
    cert, _key = _jpki_certificate(data.certificate)
    ref = cert.fingerprint(hashes.SHA256()).hex()
    _not_registered(session, enrollment, ref, "certificate")
    return CertificateCheckRead(credential_ref=ref, not_after=cert.not_valid_after_utc)


def respond(session: Session, enrollment_id: int, data: EnrollmentResponse, *,
            actor: str) -> EnrollmentRead:
    """Check the card's answer: a well-formed credential file and a signature over the
    challenge made with the key in that file."""
    enrollment = _awaiting(session, enrollment_id, lock=True)
    challenge = base64.b64decode(enrollment.challenge)
    signature = _b64(data.signature, "signature")
    if enrollment.kind == JPKI:
        ref, public_key, issuer_code, not_after = _check_jpki(data, challenge, signature)
    else:
        ref, public_key, issuer_code, not_after = _check_staff_ap(data, challenge, signature)
    key = base64.b64encode(public_key).decode()
    _not_registered(session, enrollment, ref, "certificate" if enrollment.kind == JPKI else
                    "credential_record", public_key=key)
    enrollment.credential_ref = ref
    enrollment.issuer_code = issuer_code
    enrollment.public_key = key
    enrollment.not_after = not_after
    enrollment.status = "pending_confirmation"
    enrollment.responded_at = utcnow()
    session.flush()
    record(session, actor=actor, action="enrollment.respond", entity="card_enrollment",
           entity_id=enrollment.id, after={"credential_ref": ref, "issuer_code": issuer_code})
    return _read(enrollment)


Checked = tuple[str, bytes, str | None, datetime | None]


def _check_staff_ap(data: EnrollmentResponse, challenge: bytes, signature: bytes) -> Checked:
    if data.credential_record is None:
        raise BadRequest("a staff_ap enrollment needs credential_record",
                         field="credential_record")
    raw = _b64(data.credential_record, "credential_record")
    if len(raw) != RECORD_LENGTH:
        raise BadRequest(f"credential_record is {len(raw)} bytes, expected {RECORD_LENGTH}",
                         field="credential_record")
    try:
        rec = CredentialRecord.parse(raw)
    except ResponseError as err:
        raise BadRequest(f"credential_record: {err}", field="credential_record") from err
    if not verify_signature(rec.public_key, rec.credential_id, challenge, signature):
        raise BadRequest("signature does not verify with the card's key over this "
                         "enrollment's challenge", field="signature")
    return rec.credential_ref, rec.public_key, rec.issuer_code, None


def _jpki_certificate(certificate_b64: str) -> tuple[x509.Certificate, rsa.RSAPublicKey]:
    """A JPKI auth certificate with an RSA-2048 key, valid now."""
    der = _b64(certificate_b64, "certificate")
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as err:
        raise BadRequest("certificate is not a DER X.509 certificate",
                         field="certificate") from err
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size != 2048:
        raise BadRequest("the JPKI authentication key is RSA-2048", field="certificate")
    now = utcnow()
    if now > cert.not_valid_after_utc:
        raise BadRequest(f"the certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}: the "
                         "holder must renew it at the municipal counter", field="certificate")
    if now < cert.not_valid_before_utc:
        raise BadRequest("the certificate is not valid yet", field="certificate")
    return cert, key


def _check_jpki(data: EnrollmentResponse, challenge: bytes, signature: bytes) -> Checked:
    if data.certificate is None:
        raise BadRequest("a jpki_auth enrollment needs certificate", field="certificate")
    cert, key = _jpki_certificate(data.certificate)
    try:
        key.verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as err:
        raise BadRequest("signature does not verify with the certificate's key over this "
                         "enrollment's challenge", field="signature") from err
    spki = key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.fingerprint(hashes.SHA256()).hex(), spki, None, cert.not_valid_after_utc


def _cred_view(c: Credential) -> dict[str, Any]:
    return {"staff_id": c.staff_id, "kind": c.kind, "credential_ref": c.credential_ref,
            "status": c.status, "status_reason": c.status_reason}


def _revoke_active(session: Session, staff_id: int, kind: str, *, version: int,
                   now: datetime, actor: str) -> Credential | None:
    """Revoke the member's active credential of ``kind`` ("replaced"), if any."""
    old = repository.active_credential(session, staff_id, kind)
    if old is None:
        return None
    before = _cred_view(old)
    old.status = CredentialStatus.REVOKED
    old.status_reason = "replaced"
    old.status_changed_at = now
    old.snapshot_version = version
    session.flush()  # one active credential per kind: revoke before adding the new one
    record(session, actor=actor, action="credential.revoke", entity="credential",
           entity_id=old.id, before=before, after=_cred_view(old))
    return old


def _recover(session: Session, found: Credential, enrollment: CardEnrollment, *,
             version: int, now: datetime, actor: str) -> Credential:
    """A lost card that turned up, proven in hand again: back to active, audited."""
    before = _cred_view(found)
    found.status = CredentialStatus.ACTIVE
    found.status_reason = f"found: possession proven at enrollment {enrollment.id}"
    found.status_changed_at = now
    found.snapshot_version = version
    session.flush()
    record(session, actor=actor, action="credential.recover", entity="credential",
           entity_id=found.id, before=before,
           after={**_cred_view(found), "enrollment_id": enrollment.id})
    return found


def confirm(session: Session, enrollment_id: int, *, actor: str) -> EnrollmentRead:
    """Bind the proven credential; revoke the member's previous one of the same kind. A lost
    card of the member's that turned up is made active again instead of added."""
    enrollment = get_or_raise(session, enrollment_id, lock=True)
    if enrollment.status != "pending_confirmation":
        raise Conflict(f"enrollment is {enrollment.status}, not pending confirmation",
                       field="status")
    assert enrollment.credential_ref is not None and enrollment.public_key is not None
    repository.lock_staff(session, enrollment.staff_id)
    found = _not_registered(session, enrollment, enrollment.credential_ref, "credential_ref",
                            public_key=enrollment.public_key)
    now = utcnow()
    version = bump(session)
    old = _revoke_active(session, enrollment.staff_id, enrollment.kind, version=version,
                         now=now, actor=actor)
    if found is not None:
        cred = _recover(session, found, enrollment, version=version, now=now, actor=actor)
    else:
        cred = Credential(staff_id=enrollment.staff_id, kind=enrollment.kind,
                          credential_ref=enrollment.credential_ref,
                          public_key=enrollment.public_key, issuer_code=enrollment.issuer_code,
                          not_after=enrollment.not_after, status=CredentialStatus.ACTIVE,
                          status_changed_at=now, snapshot_version=version)
        session.add(cred)
        session.flush()
    enrollment.status = "confirmed"
    enrollment.confirmed_at = now
    enrollment.confirmed_by = actor
    enrollment.credential_id = cred.id
    enrollment.replaced_credential_id = old.id if old is not None else None
    session.flush()
    if found is None:
        record(session, actor=actor, action="credential.enroll", entity="credential",
               entity_id=cred.id, after={**_cred_view(cred), "enrollment_id": enrollment.id,
                                         "replaced_credential_id": old.id if old else None})
    return _read(enrollment)
