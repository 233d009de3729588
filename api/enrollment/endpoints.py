"""Admin REST API for card enrollment at an enrollment reader."""

from __future__ import annotations

from fastapi import APIRouter

from api.bounded import Id
from api.db import SessionDep
from api.users.auth import AdminDep

from . import service
from .schemas import (
    CertificateCheck,
    CertificateCheckRead,
    EnrollmentCreate,
    EnrollmentRead,
    EnrollmentResponse,
)

router = APIRouter(prefix="/admin/enrollments", tags=["enrollment"])


@router.post("", status_code=201, response_model=EnrollmentRead)
def start_enrollment(data: EnrollmentCreate, session: SessionDep,
                     actor: AdminDep) -> EnrollmentRead:
    """Open an enrollment for a staff member; the answer carries the challenge for the card."""
    return service.start(session, data, actor=actor)


@router.get("/{enrollment_id}", response_model=EnrollmentRead)
def get_enrollment(enrollment_id: Id, session: SessionDep, actor: AdminDep) -> EnrollmentRead:
    """One enrollment and its state."""
    return service.get(session, enrollment_id)


@router.post("/{enrollment_id}/certificate", response_model=CertificateCheckRead)
def check_enrollment_certificate(enrollment_id: int, data: CertificateCheck,
                                 session: SessionDep, actor: AdminDep) -> CertificateCheckRead:
    """Check a JPKI certificate before the PIN: valid now, RSA-2048, not already registered."""
    return service.check_certificate(session, enrollment_id, data)


@router.post("/{enrollment_id}/response", response_model=EnrollmentRead)
def respond_enrollment(enrollment_id: Id, data: EnrollmentResponse, session: SessionDep,
                       actor: AdminDep) -> EnrollmentRead:
    """Submit the card's credential file and signature; proves possession of the card key."""
    return service.respond(session, enrollment_id, data, actor=actor)


@router.post("/{enrollment_id}/confirm", response_model=EnrollmentRead)
def confirm_enrollment(enrollment_id: Id, session: SessionDep,
                       actor: AdminDep) -> EnrollmentRead:
    """Bind the credential to the staff member (revokes the previous staff card)."""
    return service.confirm(session, enrollment_id, actor=actor)
