"""Admin REST API of outbound webhooks: add an endpoint (its signing secret is shown once),
list them, remove one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import select

from api.audit.admin import AdminRoute
from api.audit.service import record
from api.db import SessionDep
from api.errors import NotFound
from api.models import WebhookEndpoint
from api.users.auth import AdminDep

from .schemas import WebhookCreate, WebhookCreated, WebhookRead
from .webhooks import new_secret

router = APIRouter(prefix="/admin/webhooks", tags=["events out"], route_class=AdminRoute)

EndpointId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("", response_model=WebhookCreated, status_code=201)
def create_webhook(body: WebhookCreate, session: SessionDep, actor: AdminDep) -> WebhookCreated:
    """Add an endpoint; events of the chosen types are posted to it, signed with the secret
    in this answer (Standard Webhooks). Keep the secret: it is not shown again."""
    ep = WebhookEndpoint(url=body.url, secret=new_secret(),
                         event_types=[t.value for t in body.event_types],
                         description=body.description, enabled=True)
    session.add(ep)
    session.flush()
    record(session, actor=actor, action="create", entity="webhook_endpoint", entity_id=ep.id,
           after={"url": ep.url, "event_types": ep.event_types})
    return WebhookCreated(**WebhookRead.model_validate(ep).model_dump(), secret=ep.secret)


@router.get("", response_model=list[WebhookRead])
def list_webhooks(session: SessionDep, actor: AdminDep) -> list[WebhookRead]:
    """Every endpoint (without its secret)."""
    rows = session.execute(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).scalars()
    return [WebhookRead.model_validate(r) for r in rows]


@router.delete("/{endpoint_id}", status_code=204)
def delete_webhook(endpoint_id: EndpointId, session: SessionDep, actor: AdminDep) -> None:
    """Remove an endpoint and the deliveries still queued for it."""
    ep = session.get(WebhookEndpoint, endpoint_id)
    if ep is None:
        raise NotFound(f"webhook endpoint {endpoint_id} not found", field="endpoint_id")
    record(session, actor=actor, action="delete", entity="webhook_endpoint",
           entity_id=endpoint_id, before={"url": ep.url, "event_types": ep.event_types})
    session.delete(ep)
