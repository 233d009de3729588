"""``require_device``: the signed-request check in front of every device endpoint but enroll.

A request carries ``X-Mynagate-Device``, ``-Timestamp``, ``-Nonce`` and ``-Signature`` (see
docs/device-protocol.md). The check runs in its own short transaction, so the nonce is
committed (and a replay refused) even if the endpoint later fails, and long-polls hold no
database connection while they wait. The nonce goes into ``device_nonce`` whose primary key
(device, nonce) makes the database itself refuse a replay sent to another API process.

Refusals are all 401: missing or malformed header, unknown/pending/revoked device, bad
signature, timestamp outside the window (the body then carries ``server_time``), replay.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from cryptography.exceptions import InvalidSignature
from fastapi import Depends, Request
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from api.db import Database
from api.errors import Unauthorized
from api.limits import RawBody
from api.models import Device, DeviceNonce, DeviceStatus
from api.models.base import utcnow
from api.settings import Settings
from api.timefmt import format_time
from gate.signing import SignatureError, load_public_key, request_signing_string

log = logging.getLogger(__name__)

H_DEVICE = "x-mynagate-device"
H_TIMESTAMP = "x-mynagate-timestamp"
H_NONCE = "x-mynagate-nonce"
H_SIGNATURE = "x-mynagate-signature"

NONCE_RE = re.compile(r"^[0-9a-f]{32,64}$")
TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")
PURGE_EVERY_S = 60.0

_purge_lock = threading.Lock()
_last_purge = 0.0


def signed_path(request: Request) -> str:
    """The path and query exactly as the client sent them (what the device signed)."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.decode("latin-1").split("?", 1)[0]
    query = request.scope.get("query_string") or b""
    return f"{path}?{query.decode('latin-1')}" if query else path


def _insert_nonce(session: Session, device_id: uuid.UUID, nonce: str, expires_at: datetime) -> bool:
    """Store the nonce; False if this device already used it (a replay)."""
    values = {"device_id": device_id, "nonce": nonce, "expires_at": expires_at}
    dialect = session.get_bind().dialect.name
    stmt: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        stmt = postgresql.insert(DeviceNonce).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(DeviceNonce).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - only the two supported backends
        raise RuntimeError(f"unsupported database dialect {dialect}")
    return session.execute(stmt.returning(DeviceNonce.nonce)).first() is not None


def _purge_expired(session: Session) -> None:
    """Delete expired nonces, at most once a minute per process."""
    global _last_purge
    now = time.monotonic()
    with _purge_lock:
        if now - _last_purge < PURGE_EVERY_S:
            return
        _last_purge = now
    session.execute(delete(DeviceNonce).where(DeviceNonce.expires_at < utcnow()))


def verify_request(db: Database, settings: Settings, *, method: str, path: str,
                   headers: dict[str, str], body: bytes, protocol: str | None = None,
                   pending_ok: bool = False) -> Device:
    """Check one signed request and record its nonce (and the ``protocol`` version the agent
    spoke, when it changed); the active Device, or Unauthorized. With ``pending_ok`` an
    enrolled device still awaiting its confirmation passes too (its heartbeat only)."""
    missing = [h for h in (H_DEVICE, H_TIMESTAMP, H_NONCE, H_SIGNATURE) if not headers.get(h)]
    if missing:
        raise Unauthorized(f"missing header(s): {', '.join(missing)}", field=missing[0])
    try:
        device_id = uuid.UUID(headers[H_DEVICE])
    except ValueError as err:
        raise Unauthorized("malformed device id", field=H_DEVICE) from err
    timestamp = headers[H_TIMESTAMP]
    nonce = headers[H_NONCE]
    if not TIMESTAMP_RE.match(timestamp):
        raise Unauthorized("timestamp must be integer unix seconds", field=H_TIMESTAMP)
    if not NONCE_RE.match(nonce):
        raise Unauthorized("nonce must be 32-64 lowercase hex characters", field=H_NONCE)
    try:
        signature = base64.b64decode(headers[H_SIGNATURE], validate=True)
    except (binascii.Error, ValueError) as err:
        raise Unauthorized("malformed signature", field=H_SIGNATURE) from err
    # The window in plain integers, before any database read: a timestamp far outside it
    # (year 33658) is a 401, never an overflow.
    now = utcnow()
    skew_s = int(timestamp) - int(now.timestamp())
    if abs(skew_s) > settings.request_clock_skew_s:
        log.warning("device.auth.clock_skew device=%s skew_s=%d", device_id, skew_s)
        raise Unauthorized(
            f"timestamp is more than {settings.request_clock_skew_s} s from the server "
            "clock", field=H_TIMESTAMP, server_time=format_time(now))
    sent = datetime.fromtimestamp(int(timestamp), UTC)

    with db.session() as session:
        device = session.get(Device, device_id)
        if device is None:
            raise Unauthorized("unknown device")
        usable = device.status == DeviceStatus.ACTIVE or (pending_ok and device.status == DeviceStatus.PENDING)
        if not usable or not device.public_key:
            log.warning("device.auth.refused device=%s status=%s", device_id, device.status)
            raise Unauthorized(f"device is {device.status}"
                               + (" (awaiting confirmation in the console)"
                                  if device.status == DeviceStatus.PENDING and device.public_key else ""))
        try:
            load_public_key(device.public_key).verify(
                signature, request_signing_string(method, path, timestamp, nonce, body))
        except (InvalidSignature, SignatureError) as err:
            log.warning("device.auth.bad_signature device=%s", device_id)
            raise Unauthorized("signature does not verify") from err
        expires = max(sent, now) + timedelta(seconds=settings.request_clock_skew_s + 60)
        if not _insert_nonce(session, device_id, nonce, expires):
            session.rollback()
            log.warning("device.auth.replay device=%s", device_id)
            raise Unauthorized("nonce already used (replayed request)", field=H_NONCE)
        if protocol is not None and device.agent_protocol != protocol:
            device.agent_protocol = protocol
        _purge_expired(session)
        session.commit()
        return device


def require_device(request: Request, body: RawBody, *, pending_ok: bool = False) -> Device:
    """FastAPI dependency: the verified, active device that signed this request (or 401).

    The returned Device is detached; endpoints that change it load it again with a lock."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    spoken = getattr(request.state, "agent_protocol", None)  # set by negotiation
    return verify_request(request.app.state.db, request.app.state.settings,
                          method=request.method, path=signed_path(request),
                          headers=headers, body=body,
                          protocol=str(spoken) if spoken is not None else None,
                          pending_ok=pending_ok)


def require_enrolled_device(request: Request, body: RawBody) -> Device:
    """An active device, or an enrolled one awaiting confirmation: its heartbeat shows the
    admin what to confirm (version, clock), while its snapshot, decisions, configuration and
    events wait (the events stay in its outbox)."""
    return require_device(request, body, pending_ok=True)


DeviceDep = Annotated[Device, Depends(require_device)]
EnrolledDeviceDep = Annotated[Device, Depends(require_enrolled_device)]
