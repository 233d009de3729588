"""``GET /device/v1/config``: a reader fetches its own signed configuration bundle.

Part of the device API (docs/device-protocol.md), served from this domain so the device
protocol does not depend on it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from api.db import SessionDep
from api.device_protocol.auth import DeviceDep
from api.device_protocol.negotiation import negotiate
from api.models.base import utcnow

from .service import current_bundle

router = APIRouter(prefix="/device/v1", tags=["device"], dependencies=[Depends(negotiate)])


@router.get("/config", response_model=None,
            responses={204: {"description": "no configuration newer than `have`, or none"}})
def config(request: Request, device: DeviceDep, session: SessionDep,
           have: Annotated[int | None, Query(ge=0, le=2**31 - 2)] = None
           ) -> dict[str, Any] | Response:
    """This device's signed ``firmware_config`` bundle, as of now.

    204 when the service holds no settings for the device (a site that renders bundles
    offline) or when ``have`` is already the current ``config_version``."""
    settings = request.app.state.settings
    bundle = current_bundle(session, device.id, service_key=request.app.state.signing_key,
                            municipality_code=settings.municipality_code, now=utcnow(),
                            have=have)
    if bundle is None or (have is not None and bundle["payload"]["config_version"] == have):
        return Response(status_code=204)
    return bundle
