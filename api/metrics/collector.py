"""Business metrics read from the database at scrape time (one short read-only session).

Counters come from the append-only event table, gauges from the device, snapshot and lock
rows. Timestamps are exposed as ``*_timestamp_seconds`` so alert rules compare them with
``time()``; the few values that need "now" (devices online, ingest lag) take it from the
collector's clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from api.db import Database
from api.models import Device, DeviceStatus, Event, SmartLock, SnapshotCounter

from .settings import MetricsSettings

DEVICE_LABELS = ["device", "device_id"]


def _ts(dt: datetime | None) -> float | None:
    return None if dt is None else dt.timestamp()


def package_version() -> str:
    try:
        return version("mynagate")
    except PackageNotFoundError:
        return "unknown"


def tap_metrics(s: Session) -> Iterator[Metric]:
    rows = s.execute(select(Event.granted, Event.reason, func.count())
                     .where(Event.kind == "tap").group_by(Event.granted, Event.reason)).all()
    taps = CounterMetricFamily("mynagate_taps", "Card taps received from readers")
    taps.add_metric([], sum(int(n) for _, _, n in rows))
    decisions = CounterMetricFamily("mynagate_tap_decisions", "Tap decisions by outcome and reason",
                                    labels=["decision", "reason"])
    for granted, reason, n in rows:
        decisions.add_metric(["granted" if granted else "denied", reason or "none"], int(n))
    yield from (taps, decisions)


def device_metrics(s: Session, now: datetime, online_window: timedelta) -> Iterator[Metric]:
    devices = s.execute(select(Device).order_by(Device.name)).scalars().all()
    newest = dict(s.execute(
        select(Event.device_id, Event.received_at - Event.occurred_at)
        .join(Device, and_(Device.id == Event.device_id, Device.max_seq == Event.seq))).all())
    by_status = GaugeMetricFamily("mynagate_devices", "Devices by status", labels=["status"])
    for status in DeviceStatus:
        by_status.add_metric([status], sum(1 for d in devices if d.status == status))
    online = GaugeMetricFamily("mynagate_devices_online",
                               "Active devices whose last heartbeat is within the online window")
    online.add_metric([], sum(1 for d in devices if d.status == DeviceStatus.ACTIVE and d.last_heartbeat_at
                              and now - d.last_heartbeat_at <= online_window))
    families = {
        "lag": GaugeMetricFamily("mynagate_device_ingest_lag_seconds",
                                 "Received minus occurred time of the newest event",
                                 labels=DEVICE_LABELS),
        "pending": GaugeMetricFamily("mynagate_device_outbox_pending",
                                     "Events waiting in the reader's outbox (last heartbeat)",
                                     labels=DEVICE_LABELS),
        "oldest": GaugeMetricFamily("mynagate_device_outbox_oldest_pending_timestamp_seconds",
                                    "Device time of the oldest undelivered event",
                                    labels=DEVICE_LABELS),
        "heartbeat": GaugeMetricFamily("mynagate_device_last_heartbeat_timestamp_seconds",
                                       "Time of the last heartbeat", labels=DEVICE_LABELS),
        "through": GaugeMetricFamily("mynagate_device_delivered_through_timestamp_seconds",
                                     "Device time up to which every event has arrived",
                                     labels=DEVICE_LABELS),
        "snapshot": GaugeMetricFamily("mynagate_device_snapshot_version",
                                      "Snapshot version the reader reported", labels=DEVICE_LABELS),
    }
    for d in (d for d in devices if d.status == DeviceStatus.ACTIVE):
        labels = [d.name, str(d.id)]
        lag = newest.get(d.id)
        values = {"lag": None if lag is None else lag.total_seconds(),
                  "pending": d.outbox_pending, "oldest": _ts(d.oldest_pending_at),
                  "heartbeat": _ts(d.last_heartbeat_at), "through": _ts(d.delivered_through),
                  "snapshot": d.snapshot_version}
        for key, value in values.items():
            if value is not None:
                families[key].add_metric(labels, float(value))
    yield from (by_status, online, *families.values())


def snapshot_metrics(s: Session) -> Iterator[Metric]:
    counter = s.get(SnapshotCounter, 1)
    version_g = GaugeMetricFamily("mynagate_snapshot_version", "Current permission snapshot version")
    built = GaugeMetricFamily("mynagate_snapshot_build_timestamp_seconds",
                              "When the current snapshot version was made")
    if counter is not None:
        version_g.add_metric([], counter.version)
        built.add_metric([], counter.changed_at.timestamp())
    yield from (version_g, built)


def lock_metrics(s: Session) -> Iterator[Metric]:
    locks = s.execute(select(SmartLock).order_by(SmartLock.lock_id)).scalars().all()
    battery = GaugeMetricFamily("mynagate_lock_battery_percent", "Last reported lock battery",
                                labels=["lock", "kind"])
    contact = GaugeMetricFamily("mynagate_lock_last_contact_timestamp_seconds",
                                "Last time the lock talked to the service", labels=["lock", "kind"])
    for lock in locks:
        if lock.battery_percent is not None:
            battery.add_metric([lock.lock_id, lock.kind], lock.battery_percent)
        if lock.last_contact_at is not None:
            contact.add_metric([lock.lock_id, lock.kind], lock.last_contact_at.timestamp())
    yield from (battery, contact)


class DatabaseCollector(Collector):
    """A prometheus-client collector over the service database."""

    def __init__(self, db: Database, settings: MetricsSettings,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.db = db
        self.online_window = timedelta(seconds=settings.metrics_online_window_s)
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("mynagate_build_info", "The running service", labels=["version"])
        info.add_metric([package_version()], 1)
        yield info
        with self.db.session() as s:
            yield from tap_metrics(s)
            yield from device_metrics(s, self.clock(), self.online_window)
            yield from snapshot_metrics(s)
            yield from lock_metrics(s)
