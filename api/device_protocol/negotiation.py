"""Device protocol negotiation on every ``/device/v1`` request (gate.protocol has the rules).

The service's own version is ``app.state.device_protocol`` when set (tests run "today's
service" that way), else ``gate.protocol.PROTOCOL``. The version a device spoke is kept on
its row (``Device.agent_protocol``) by the signed-request check (``auth.require_device``); a
too-old agent's request is checked the same way before its 426, so the console can name the
device (a request that does not verify changes nothing).
"""

from __future__ import annotations

import logging

from fastapi import Request, Response

from api.errors import BadRequest, MynagateError, Unauthorized
from api.limits import RawBody
from gate.protocol import (
    PROTOCOL,
    PROTOCOL_HEADER,
    SUPPORTED_HEADER,
    UNVERSIONED,
    ProtocolVersion,
    accepts,
    supported_versions,
)

from .auth import H_DEVICE, require_device

log = logging.getLogger(__name__)


class ProtocolTooOld(MynagateError):
    """426: the agent speaks a protocol version this service no longer serves."""

    status, title = 426, "Device protocol version too old"


def service_protocol(request: Request) -> ProtocolVersion:
    version: ProtocolVersion = getattr(request.app.state, "device_protocol", PROTOCOL)
    return version


def negotiate(request: Request, response: Response, body: RawBody) -> ProtocolVersion:
    """The agent's version, if this service serves it; answers with the versions it does."""
    ours = service_protocol(request)
    supported = ", ".join(str(v) for v in supported_versions(ours))
    response.headers[SUPPORTED_HEADER] = supported
    raw = request.headers.get(PROTOCOL_HEADER)
    try:
        agent = ProtocolVersion.parse(raw) if raw is not None else UNVERSIONED
    except ValueError as err:
        raise BadRequest(str(err), field=PROTOCOL_HEADER.lower()) from err
    request.state.agent_protocol = agent
    if not accepts(ours, agent):
        log.warning("device.protocol.too_old agent=%s supported=%s device=%s", agent, supported,
                    request.headers.get(H_DEVICE, "-")[:40])
        if request.headers.get(H_DEVICE):
            try:  # records the version on the device, if the request is its own
                require_device(request, body, pending_ok=True)
            except Unauthorized:
                pass  # the 426 below says all a stranger needs to know
        raise ProtocolTooOld(
            f"this agent speaks device protocol {agent}; the service supports {supported}: "
            "upgrade the agent (docs/upgrade.md)",
            field=PROTOCOL_HEADER.lower(), agent_protocol=str(agent),
            supported=[str(v) for v in supported_versions(ours)])
    return agent
