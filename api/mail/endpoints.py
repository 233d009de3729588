"""Admin REST API of the mail outbox: failed (and other) emails for the console, and a retry.
The router's lifespan runs the service's background sender."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request

from api.audit.admin import AdminRoute, LimitQuery, OffsetPage, OffsetQuery
from api.audit.service import record
from api.db import SessionDep
from api.errors import NotFound
from api.models import MailOutbox, MailStatus
from api.models.base import utcnow
from api.users.auth import AdminDep

from . import outbox, repository
from .background import sender_lifespan, wake_sender
from .schemas import MailRead

router = APIRouter(prefix="/admin/mail", tags=["mail"], route_class=AdminRoute,
                   lifespan=sender_lifespan)


@router.get("", response_model=OffsetPage[MailRead])
def list_mail(session: SessionDep, actor: AdminDep, limit: LimitQuery = 100,
              offset: OffsetQuery = 0,
              status: Annotated[MailStatus | None, Query(description="e.g. failed")] = None,
              booking_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
              ) -> OffsetPage[MailRead]:
    """Emails newest first, each with its state, attempts and last error; ``status=failed``
    lists the ones that were not delivered."""
    rows, total = repository.list_page(session, status=status, booking_id=booking_id,
                                       limit=limit, offset=offset)
    return OffsetPage[MailRead](items=[MailRead.model_validate(m) for m in rows], total=total,
                                limit=limit, offset=offset)


@router.get("/failed", response_model=OffsetPage[MailRead])
def list_failed(session: SessionDep, actor: AdminDep, limit: LimitQuery = 100,
                offset: OffsetQuery = 0) -> OffsetPage[MailRead]:
    """Emails that were not delivered (same as ``?status=failed``)."""
    return list_mail(session, actor, limit, offset, MailStatus.FAILED, None)


@router.get("/{mail_id}", response_model=MailRead)
def get_mail(mail_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep,
             actor: AdminDep) -> MailRead:
    """One email."""
    mail = session.get(MailOutbox, mail_id)
    if mail is None:
        raise NotFound(f"mail {mail_id} not found", field="mail_id")
    return MailRead.model_validate(mail)


@router.post("/{mail_id}/retry", response_model=MailRead)
def retry_mail(mail_id: Annotated[int, Path(ge=1, le=2**31 - 1)], request: Request,
               tasks: BackgroundTasks, session: SessionDep, actor: AdminDep) -> MailRead:
    """Send a failed email again, now, with a fresh set of attempts (audited)."""
    mail = outbox.requeue(session, mail_id, now=utcnow())
    record(session, actor=actor, action="mail.retry", entity="mail_outbox", entity_id=mail.id)
    tasks.add_task(wake_sender, request.app)
    return MailRead.model_validate(mail)
