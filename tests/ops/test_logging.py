"""Structured logs: one JSON object per line with request and device ids, and no secret in
them after a representative flow (device enrolled, events posted, a PIN booked and mailed,
admin calls, a metrics scrape)."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import structlog
from cryptography.hazmat.primitives import serialization

from api.logging_config import REDACTED, configure_logging
from api.metrics.settings import MetricsSettings
from tests.conftest import ADMIN_TOKEN
from tests.device_protocol.signer import World, enroll, make_events
from tests.locks.helpers import PIN_RE, SmtpServer, create_site, text_of, wire

METRICS_TOKEN = "m3tr1cs-scrape-token-for-log-test"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The service's JSON log lines, captured; the previous logging setup restored after."""
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    buffer = io.StringIO()
    configure_logging(stream=buffer)
    try:
        yield buffer
    finally:
        root.handlers, level = before
        root.setLevel(level)
        structlog.reset_defaults()


def lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_redaction_of_secret_keys_and_pin_like_digits(captured: io.StringIO) -> None:
    log = structlog.get_logger("api.test")
    log.info("booking.pin issued 0123456789 for booking 42", pin="0123456789",
             booking_id=42, headers={"Authorization": "Bearer abc", "accept": "json"})
    logging.getLogger("api.test").warning("lock.code entered=%s", "987654321012")
    first, second = lines(captured)
    assert first["pin"] == REDACTED and first["booking_id"] == 42
    assert first["headers"] == {"Authorization": REDACTED, "accept": "json"}
    assert first["event"] == f"booking.pin issued {REDACTED} for booking 42"
    assert second["event"] == f"lock.code entered={REDACTED}" and second["level"] == "warning"


def test_flow_logs_carry_ids_and_no_secret(app, admin, database, tmp_path,  # type: ignore[no-untyped-def]
                                           captured: io.StringIO) -> None:
    app.state.metrics_settings = MetricsSettings(metrics_token=METRICS_TOKEN)
    world = World(database)
    created = admin.post("/admin/devices", json={"name": "probe", "door_ids": []})
    enrollment_token = created.json()["enrollment_token"]
    device, _ = enroll(admin, name="shoko-reader", door_ids=[world.archive.id])
    device.heartbeat()
    signatures = [device.last[3]["X-Mynagate-Signature"]]  # type: ignore[index]
    r = device.post_events(make_events(2, kind="tap", door_id=world.archive.id, granted=True,
                                       reason="granted", staff_id=world.yamada.id,
                                       credential_ref=world.cred.credential_ref, data={}))
    assert r.status_code == 200, r.text
    signatures.append(device.last[3]["X-Mynagate-Signature"])  # type: ignore[index]
    with SmtpServer() as smtp:
        lock_settings = wire(app, tmp_path, smtp.settings())
        fid, _ = create_site(admin)
        start = datetime.now(UTC) + timedelta(days=1)  # the booking API wants a future window
        booked = admin.post("/api/v1/bookings", json={
            "facility_id": fid, "start_at": start.isoformat(),
            "end_at": (start + timedelta(hours=2)).isoformat(), "booker_name": "森",
            "booker_email": "mori@example.jp", "payment_status": "paid"})
        assert booked.status_code == 201, booked.text
        pins = [m["pin"] for m in PIN_RE.finditer(text_of(smtp.inbox.wait(1)[0]))]
    assert pins
    assert admin.get("/admin/devices").status_code == 200
    assert admin.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}) \
        .status_code == 200

    raw = device.key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                   serialization.NoEncryption())
    wrap = (tmp_path / "pin-wrap.key").read_text().strip()
    secrets = {"admin token": ADMIN_TOKEN, "enrollment token": enrollment_token,
               "metrics token": METRICS_TOKEN, "device key": base64.b64encode(raw).decode(),
               "device key hex": raw.hex(), "pin wrap key": wrap,
               "webhook secret": lock_settings.booking_webhook_secret.get_secret_value(),
               **{f"signature {i}": s for i, s in enumerate(signatures)},
               **{f"PIN {i}": p for i, p in enumerate(pins)}}
    text = captured.getvalue()
    assert [name for name, value in secrets.items() if value in text] == []

    logged = lines(captured)  # every line is one JSON object
    requests = [e for e in logged if e["event"] == "http.request"]
    assert len(requests) >= 8
    assert all(isinstance(e.get("request_id"), str) for e in requests)
    device_lines = [e for e in requests if str(e["route"]).startswith("/device/v1/")
                    and e["route"] != "/device/v1/enroll"]
    assert device_lines and all(e["device_id"] == device.device_id for e in device_lines)
    assert {e["route"] for e in requests} >= {"/api/v1/bookings", "/device/v1/events",
                                              "/metrics"}


def test_one_json_object_per_line_without_duplicate_text(captured: io.StringIO) -> None:
    # as uvicorn logs (its own logger's level is set by whichever server ran before)
    logging.getLogger("tests.uvicorn_like").info("Started server process [%d]", 42,
                                                 extra={"color_message": "Started [42]"})
    [line] = lines(captured)
    assert line["event"] == "Started server process [42]"
    assert line["logger"] == "tests.uvicorn_like"
    assert "message" not in line and "color_message" not in line
