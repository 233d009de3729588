"""Events out through the real parts: taps posted by a signed device reach a paho subscriber
on the Mosquitto server at 127.0.0.1:1883 within a second (the worker publishing them), the
door state is retained, and a loopback HTTP receiver checks the Standard Webhooks signature
and sees the retry after its 500. No payload carries a PIN, a card key or a credential."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import re
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import func, select

from api.db import Database
from api.events.ingest import ingest
from api.models import OutboundDelivery, OutboundEvent, OutboundTarget
from api.outbound.deliver import expand_all
from api.outbound.queue import expand_queued
from api.outbound.settings import MqttSettings, WebhookSettings
from api.outbound.webhooks import url_problem
from api.worker.runner import Worker
from tests.device_protocol.signer import World, enroll, make_events

from .helpers import NOW, chained, context, store, town

PIN, CARD_KEY = "4711", "c0ffee" * 8
SECRETS = (PIN, CARD_KEY)


def _subscriber(topic: str) -> tuple[mqtt.Client, queue.Queue[Any]]:
    got: queue.Queue[Any] = queue.Queue()
    ready = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"sub-{uuid.uuid4().hex}")
    client.on_message = lambda c, u, msg: got.put((time.monotonic(), msg))
    client.on_subscribe = lambda *a: ready.set()
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    client.subscribe(topic, qos=1)
    assert ready.wait(5), "no SUBACK from Mosquitto at 127.0.0.1:1883"
    return client, got


def _stop(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


@pytest.fixture
def root() -> str:
    return f"mynagate-test/{uuid.uuid4().hex[:12]}"


def _no_secrets(body: str) -> None:
    # As values of their own: a random hex id or hash in the body may hold the PIN's 4 digits.
    for secret in SECRETS:
        assert re.search(rf"(?<![0-9a-f]){secret}(?![0-9a-f])", body) is None, secret
    assert "ab" * 16 not in body  # the credential reference
    assert '"pin"' not in body and "card_key" not in body and "credential_ref" not in body


def test_a_tap_reaches_mqtt_within_a_second(admin, database: Database, tmp_path: Path,  # type: ignore[no-untyped-def]
                                            root: str, wall_clock) -> None:
    world = World(database)
    device, _ = enroll(admin, door_ids=[world.archive.id])
    ctx = context(database, tmp_path, mqtt=MqttSettings(enabled=True, topic_root=root,
                                                       client_id=f"w-{uuid.uuid4().hex}"),
                  outbound_interval_s=0.05, poll_s=0.05)
    # the production clock: the device API stamps rows with the real time
    worker = Worker(ctx, worker_id="w", clock=wall_clock)
    runner = threading.Thread(target=worker.run_forever)
    runner.start()
    sub, got = _subscriber(f"{root}/#")
    try:
        time.sleep(0.3)  # the worker has run its first pass
        tap = make_events(1, kind="tap", door_id=world.archive.id,
                          credential_ref=world.cred.credential_ref, staff_id=world.yamada.id,
                          granted=True, reason="granted",
                          data={"auth": "staff_ap", "pin": PIN, "card_key": CARD_KEY})
        resp = device.post_events(tap)
        posted = time.monotonic()
        assert resp.status_code == 200, resp.text
        arrived, msg = got.get(timeout=5)
        latency = arrived - posted
    finally:
        worker.stop()
        runner.join(10)
        _stop(sub)
        ctx.deliverer.close()
    print(f"tap to MQTT subscriber: {latency * 1000:.0f} ms")
    assert latency < 1.0, f"tap took {latency:.3f} s"
    assert msg.topic == f"{root}/events/honcho/shoko"
    assert msg.qos == 1
    body = msg.payload.decode()
    payload = json.loads(body)
    assert payload["type"] == "door.tap" and payload["event_id"] == tap[0]["id"]
    assert (payload["granted"], payload["reason"], payload["staff_number"]) == \
        (True, "granted", "S001")
    assert payload["door"] == {"code": "shoko", "name": "書庫"}
    _no_secrets(body)


def test_door_state_is_retained_and_alarms_go_to_system(database: Database, tmp_path: Path,
                                                        root: str) -> None:
    device_id, door_id = town(database)
    store(database, device_id, chained([
        {"occurred_at": NOW, "door_id": door_id, "data": {"state": "open"}},
        {"occurred_at": NOW, "kind": "alarm", "door_id": door_id,
         "data": {"alarm": "forced_open", "active": True, "detail": "note " + PIN}}]), NOW)
    ctx = context(database, tmp_path, mqtt=MqttSettings(enabled=True, topic_root=root,
                                                       client_id=f"w-{uuid.uuid4().hex}"))
    report = ctx.deliverer.deliver_pending(database, now=NOW)
    ctx.deliverer.close()
    assert (report.delivered, report.failed) == (3, 0)  # event, retained state, alarm
    # a subscriber that connects afterwards gets the retained state at once
    sub, got = _subscriber(f"{root}/doors/#")
    try:
        _, msg = got.get(timeout=5)
    finally:
        _stop(sub)
    assert (msg.topic, msg.retain) == (f"{root}/doors/honcho/shoko/state", True)
    assert json.loads(msg.payload)["data"] == {"state": "open"}
    with database.session() as s:
        topics = [r.topic for r in s.execute(select(OutboundDelivery)
                                             .order_by(OutboundDelivery.id)).scalars()]
    assert topics == ["events/honcho/shoko", "doors/honcho/shoko/state", "system/honcho/shoko"]
    # clear the retained message so the broker keeps nothing from the test
    cleaner = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    cleaner.connect("127.0.0.1", 1883)
    cleaner.loop_start()
    cleaner.publish(f"{root}/doors/honcho/shoko/state", b"", qos=1, retain=True).wait_for_publish(5)
    _stop(cleaner)


class _Receiver(BaseHTTPRequestHandler):
    """Answers 500 to the first request, 204 afterwards; keeps every request."""

    requests: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(500 if len(self.requests) == 1 else 204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver's own Standard Webhooks check (no library)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(f"v1,{expected}", s)
               for s in headers["webhook-signature"].split())


def test_signed_webhook_is_retried_after_a_500(admin, database: Database,  # type: ignore[no-untyped-def]
                                               tmp_path: Path) -> None:
    _Receiver.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    created = admin.post("/admin/webhooks", json={"url": url, "event_types": ["door.tap"]})
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    listed = admin.get("/admin/webhooks").json()
    assert [e["url"] for e in listed] == [url] and "secret" not in listed[0]

    device_id, door_id = town(database)
    store(database, device_id, chained([
        {"occurred_at": NOW, "door_id": door_id, "data": {"state": "open"}},  # filtered out
        {"occurred_at": NOW, "kind": "tap", "door_id": door_id, "granted": False,
         "reason": "unknown_credential", "credential_ref": "ab" * 16,
         "data": {"pin": PIN, "card_key": CARD_KEY}}]), NOW)
    ctx = context(database, tmp_path, webhooks=WebhookSettings(
        retry_initial_s=1, retry_jitter_s=0, retry_attempts=3))
    try:
        first = ctx.deliverer.deliver_pending(database, now=NOW)
        too_early = ctx.deliverer.deliver_pending(database, now=NOW + timedelta(seconds=0.5))
        second = ctx.deliverer.deliver_pending(database, now=NOW + timedelta(seconds=2))
    finally:
        ctx.deliverer.close()
        server.shutdown()
        server.server_close()
    assert (first.retried, too_early.delivered + too_early.retried, second.delivered) == (1, 0, 1)
    assert first.skipped == 3  # MQTT is off here: its rows are skipped, not kept forever
    [(h1, b1), (h2, b2)] = _Receiver.requests
    assert h1["webhook-id"] == h2["webhook-id"]  # the same message, tried again
    assert (h1["webhook-timestamp"], h2["webhook-timestamp"]) == \
        (str(int(NOW.timestamp())), str(int(NOW.timestamp()) + 2))
    assert _verify(secret, h1, b1) and _verify(secret, h2, b2)
    assert not _verify(secret, h2, b2.replace(b"door.tap", b"door.tab"))
    envelope = json.loads(b2)
    assert envelope["type"] == "door.tap" and envelope["data"]["reason"] == "unknown_credential"
    _no_secrets(b2.decode())
    with database.session() as s:
        [row] = s.execute(select(OutboundDelivery).where(
            OutboundDelivery.target == OutboundTarget.WEBHOOK)).scalars().all()
        assert (row.status, row.attempts) == ("delivered", 2)


def _count(database: Database, model: type[Any]) -> int:
    with database.session() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def test_an_event_rolled_back_is_never_queued(database: Database) -> None:
    device_id, door_id = town(database)
    with database.session() as s:
        ingest(s, device_id=device_id, now=NOW,
               events=chained([{"occurred_at": NOW, "door_id": door_id}]))
        assert s.execute(select(func.count()).select_from(OutboundEvent)).scalar_one() == 1
        s.rollback()
    assert expand_all(database, now=NOW) == 0
    assert (_count(database, OutboundEvent), _count(database, OutboundDelivery)) == (0, 0)


def test_queued_events_become_their_deliveries_exactly_once(database: Database) -> None:
    """Ingest queues one row per event, not its messages; two expansions at once take
    different rows (SKIP LOCKED), one that dies leaves its rows queued, and the messages of
    every event are made once."""
    device_id, door_id = town(database)
    store(database, device_id, chained([
        {"occurred_at": NOW, "door_id": door_id, "data": {"state": "open"}},
        {"occurred_at": NOW, "door_id": door_id, "data": {"state": "closed"}},
        {"occurred_at": NOW, "kind": "alarm", "door_id": door_id,
         "data": {"alarm": "forced_open", "active": True}}]), NOW)
    assert (_count(database, OutboundEvent), _count(database, OutboundDelivery)) == (3, 0)
    with database.session() as first, database.session() as second:
        assert expand_queued(first, now=NOW, limit=2) == 2
        assert expand_queued(second, now=NOW) == 1  # the two claimed rows are skipped
        second.commit()
        first.rollback()  # the first expansion dies before its commit
    assert (_count(database, OutboundEvent), _count(database, OutboundDelivery)) == (2, 1)
    assert expand_all(database, now=NOW) == 2
    assert expand_all(database, now=NOW) == 0
    with database.session() as s:
        rows = s.execute(select(OutboundDelivery.message_id, OutboundDelivery.topic)
                         .order_by(OutboundDelivery.id)).all()
    assert _count(database, OutboundEvent) == 0
    assert len(rows) == len({m for m, _ in rows}) == 5  # 2 per door state, 1 per alarm
    assert [t for _, t in rows] == ["system/honcho/shoko", "events/honcho/shoko",
                                    "doors/honcho/shoko/state", "events/honcho/shoko",
                                    "doors/honcho/shoko/state"]


def test_webhook_urls_are_https_or_this_host(admin) -> None:  # type: ignore[no-untyped-def]
    assert url_problem("https://bms.example.lg.jp/hook") is None
    assert url_problem("http://127.0.0.1:8080/hook") is None
    assert url_problem("http://bms.example.lg.jp/hook") is not None
    assert url_problem("https://user:pw@bms.example.lg.jp/") is not None
    resp = admin.post("/admin/webhooks", json={"url": "http://10.0.0.5/hook"})
    assert resp.status_code == 422
    assert admin.delete("/admin/webhooks/99").status_code == 404
