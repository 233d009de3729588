"""The device API, ``/device/v1`` (docs/device-protocol.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, Query, Request

from api.db import SessionDep
from api.events.admission import IngestSlot
from api.events.ingest import IncomingEvent, ingest
from api.limits import RawBody, json_body_doc, parse_json_body
from api.models.base import utcnow
from api.snapshot.service import build_signed

from . import service
from .auth import DeviceDep, EnrolledDeviceDep
from .negotiation import negotiate
from .schemas import (
    DecideRequest,
    DecideResponse,
    EnrollRequest,
    EnrollResponse,
    EventBatch,
    EventBatchResult,
    HeartbeatRequest,
    HeartbeatResponse,
    WaitResponse,
)
from .watcher import get_watcher


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Stop the long-poll watcher thread (and its LISTEN connection) at shutdown."""
    yield None
    watcher = getattr(app.state, "snapshot_watcher", None)
    if watcher is not None:
        await asyncio.to_thread(watcher.stop)


router = APIRouter(prefix="/device/v1", tags=["device"], lifespan=_lifespan,
                   dependencies=[Depends(negotiate)])
MAX_WAIT_S = 30


@router.post("/enroll", response_model=EnrollResponse)
def enroll(data: EnrollRequest, request: Request, session: SessionDep) -> EnrollResponse:
    """Register the agent's public key with a one-time enrollment token (unsigned)."""
    return service.enroll(session, data, now=utcnow(),
                          service_key=request.app.state.signing_key)


@router.post("/heartbeat", response_model=HeartbeatResponse)
def heartbeat(data: HeartbeatRequest, request: Request, device: EnrolledDeviceDep,
              session: SessionDep) -> HeartbeatResponse:
    """Liveness, clock offset and the delivery watermark."""
    settings = request.app.state.settings
    return service.heartbeat(session, device.id, data, now=utcnow(),
                             skew_alarm_ms=settings.clock_skew_alarm_ms,
                             max_skew_s=settings.request_clock_skew_s)


@router.get("/snapshot")
def snapshot(request: Request, device: DeviceDep, session: SessionDep,
             since: Annotated[int | None, Query(ge=0)] = None,
             compact: bool = False) -> dict[str, Any]:
    """The signed decision data for this device's doors: full, or a delta since a version.

    ``compact=true``: a delta carries only what changed (docs/device-protocol.md), built from
    a table read once per version and shared by every device."""
    settings = request.app.state.settings
    return build_signed(session, device_id=device.id, since=since, now=utcnow(),
                        tz=ZoneInfo(settings.timezone), signing_key=request.app.state.signing_key,
                        compact=compact)


@router.get("/snapshot/wait", response_model=WaitResponse)
async def snapshot_wait(request: Request, device: DeviceDep,
                        version: Annotated[int, Query(ge=0)],
                        timeout: Annotated[int, Query(ge=0, le=MAX_WAIT_S)] = 25
                        ) -> WaitResponse:
    """Long-poll: answers as soon as the snapshot version exceeds ``version``, or at the timeout.

    Holds no database connection while waiting."""
    watcher = get_watcher(request.app)
    return WaitResponse(version=await watcher.wait_above(version, float(timeout),
                                                        gone=request.is_disconnected))


@router.post("/events", response_model=EventBatchResult,
             openapi_extra=json_body_doc(EventBatch))
def post_events(body: RawBody, _slot: IngestSlot, device: DeviceDep,
                session: SessionDep) -> EventBatchResult:
    """Store a batch of events: idempotent by id and (device, seq), gaps and chain checked.

    At most ``ingest_max_inflight`` batches are processed at once; past that the answer is
    429 with ``Retry-After`` at once (``api.events.admission``): after the bounded body is
    read (a slow sender holds no slot), before the signature check or any database work.
    The batch (up to 4 MiB) is parsed here, in the thread pool, after the signature check:
    never on the event loop, never for an unsigned request."""
    batch, data = parse_json_body(EventBatch, body)
    # The validated fields as they are (``EventIn`` forbids extras, so its ``__dict__`` holds
    # exactly them): ``model_dump`` copied every value again, at twice the cost.
    events = [IncomingEvent(raw=r, **vars(e)) for e, r in zip(batch.events, data["events"],
                                                              strict=True)]
    result = ingest(session, device_id=device.id, events=events, now=utcnow())
    return EventBatchResult(accepted=result.accepted, duplicates=result.duplicates,
                            acked_through_seq=result.acked_through_seq, gaps=result.gaps,
                            chain_ok=result.chain_ok)


@router.post("/decide", response_model=DecideResponse)
def decide(data: DecideRequest, request: Request, device: DeviceDep,
           session: SessionDep) -> DecideResponse:
    """An online decision for a tap, from the database at server time."""
    return service.decide(session, device.id, data, now=utcnow(),
                          tz=ZoneInfo(request.app.state.settings.timezone))
