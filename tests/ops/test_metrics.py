"""``/metrics``: its own scoped token, and the business metrics read from the real database
after a device enrolled, heartbeat and sent taps through the device API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.metrics.settings import MetricsSettings
from api.models import SmartLock, SnapshotCounter
from tests.conftest import ADMIN_TOKEN
from tests.device_protocol.signer import World, enroll, iso, make_events
from tests.locks.helpers import create_site

METRICS_TOKEN = "m3tr1cs-scrape-token-for-tests"


def scrape(client, token: str | None = METRICS_TOKEN):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get("/metrics", headers=headers)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.mark.parametrize("token", ["", "changeme", "short-token"])
def test_weak_token_keeps_metrics_closed_outside_development(app, client, token: str) -> None:
    app.state.metrics_settings = MetricsSettings(metrics_token=token)
    r = scrape(client, token or None)
    assert r.status_code == 403
    assert r.json()["setting"] == "MYNAGATE_METRICS_TOKEN"


def test_only_the_metrics_token_opens_metrics(app, client) -> None:
    app.state.metrics_settings = MetricsSettings(metrics_token=METRICS_TOKEN)
    assert scrape(client, None).status_code == 401
    assert scrape(client, ADMIN_TOKEN).status_code == 401  # the admin token is not the scope
    assert scrape(client, METRICS_TOKEN[:-1] + "x").status_code == 401
    r = scrape(client)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")


def test_development_without_a_token_is_open(app, client) -> None:
    app.state.settings = app.state.settings.model_copy(update={"env": "development"})
    app.state.metrics_settings = MetricsSettings(metrics_token="")
    assert scrape(client, None).status_code == 200


def test_metrics_from_a_device_flow(app, admin, database) -> None:
    app.state.metrics_settings = MetricsSettings(metrics_token=METRICS_TOKEN)
    now = datetime.now(UTC)  # the device API checks request timestamps against the real clock
    world = World(database)
    device, _ = enroll(admin, name="shoko-reader", door_ids=[world.archive.id])
    oldest = now - timedelta(minutes=7)
    assert device.heartbeat(outbox_pending=3, oldest_pending_at=iso(oldest),
                            last_seq=3).status_code == 200
    events: list[dict[str, object]] = []
    for seq, (reason, granted) in enumerate(
            [("granted", True), ("no_permission", False), ("no_permission", False)], start=1):
        events += make_events(1, start_seq=seq, prev_hash=events[-1]["hash"] if events else None,
                              kind="tap", door_id=world.archive.id, granted=granted,
                              reason=reason, credential_ref=world.cred.credential_ref,
                              staff_id=world.yamada.id, data={})
    r = device.post_events(events)
    assert r.status_code == 200, r.text
    _, lock_pk = create_site(admin)
    with database.session() as s:
        s.get(SmartLock, lock_pk).battery_percent = 17.5  # type: ignore[union-attr]
        version = s.get(SnapshotCounter, 1).version  # type: ignore[union-attr]
        s.commit()

    got = samples(scrape(admin).text)
    dev = (("device", "shoko-reader"), ("device_id", device.device_id))
    assert got[("mynagate_taps_total", ())] == 3
    assert got[("mynagate_tap_decisions_total",
                (("decision", "granted"), ("reason", "granted")))] == 1
    assert got[("mynagate_tap_decisions_total",
                (("decision", "denied"), ("reason", "no_permission")))] == 2
    assert got[("mynagate_device_outbox_pending", dev)] == 3
    assert got[("mynagate_device_outbox_oldest_pending_timestamp_seconds", dev)] == \
        pytest.approx(oldest.timestamp(), abs=0.001)
    assert got[("mynagate_devices_online", ())] == 1
    assert got[("mynagate_devices", (("status", "active"),))] == 1
    assert 0 <= got[("mynagate_device_ingest_lag_seconds", dev)] < 60
    assert got[("mynagate_snapshot_version", ())] == version
    assert got[("mynagate_lock_battery_percent", (("kind", "offline"),
                                                   ("lock", "aso-keybox-07")))] == 17.5
    posted = (("method", "POST"), ("route", "/device/v1/events"), ("status", "200"))
    assert got[("mynagate_http_request_duration_seconds_count", posted)] >= 1

