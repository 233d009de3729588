"""Delivering the outbound queue (run by the worker's ``outbound`` job): first the events
ingest queued become their deliveries (``queue.expand_queued``), then the due deliveries go
out in order, claimed with ``FOR UPDATE SKIP LOCKED``; a failure is retried with backoff
(tenacity, via ``RetryPolicy``) until its attempts are used up, then kept as ``failed``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.db import Database
from api.mail.retry import RetryPolicy
from api.models import OutboundDelivery, OutboundStatus, OutboundTarget, WebhookEndpoint

from .mqtt import MqttPublisher, PublishError
from .queue import expand_queued
from .settings import MqttSettings, WebhookSettings
from .webhooks import WebhookError, post

log = logging.getLogger(__name__)
MAX_ERROR = 500


@dataclass
class OutboundReport:
    expanded: int = 0  # queued events turned into deliveries
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    by_target: dict[str, int] = field(default_factory=dict)


@dataclass
class Deliverer:
    """What the outbound job needs across passes: the broker connection and an HTTP client."""

    mqtt: MqttSettings
    webhooks: WebhookSettings
    publisher: MqttPublisher | None = None
    http: httpx.Client | None = None

    def __post_init__(self) -> None:
        if self.mqtt.enabled:
            self.publisher = MqttPublisher(self.mqtt)
        self.http = httpx.Client(timeout=self.webhooks.timeout_s, follow_redirects=False)
        w = self.webhooks
        self.policy = RetryPolicy(attempts=w.retry_attempts, initial_s=w.retry_initial_s,
                                  max_s=w.retry_max_s, jitter_s=w.retry_jitter_s,
                                  retry_on=(PublishError, WebhookError))

    def close(self) -> None:
        if self.publisher is not None:
            self.publisher.close()
        if self.http is not None:
            self.http.close()

    def _send(self, session: Session, row: OutboundDelivery, now: datetime) -> None:
        if row.target == OutboundTarget.MQTT:
            assert self.publisher is not None and row.topic is not None
            self.publisher.publish(row.topic, row.payload, retain=row.retain)
            return
        endpoint = session.get_one(WebhookEndpoint, row.endpoint_id)
        assert self.http is not None
        post(self.http, endpoint.url, endpoint.secret, row.message_id, row.event_type,
             row.payload, now.astimezone(UTC))

    def _record(self, row: OutboundDelivery, error: Exception | None, now: datetime,
                report: OutboundReport) -> None:
        row.attempts += 1
        if error is None:
            row.status, row.delivered_at, row.last_error = OutboundStatus.DELIVERED, now, None
            report.delivered += 1
            report.by_target[row.target] = report.by_target.get(row.target, 0) + 1
            return
        row.last_error = str(error)[:MAX_ERROR]
        retry_at = self.policy.next_attempt(row.attempts, error, now)
        log.warning("outbound.failed id=%s target=%s attempt=%s retry_at=%s error=%s", row.id,
                    row.target, row.attempts, retry_at, error)
        if retry_at is None:
            row.status = OutboundStatus.FAILED
            report.failed += 1
        else:
            row.next_attempt_at = retry_at
            report.retried += 1

    def deliver_pending(self, db: Database, *, now: datetime) -> OutboundReport:
        """One pass: the queued events become deliveries, then the due rows (at most
        ``batch``) go out, oldest first. After a broker failure the pass leaves the remaining
        MQTT rows for later, so door states are published in order."""
        report = OutboundReport(expanded=expand_all(db, now=now))
        with db.session() as s:
            if self.publisher is None:
                report.skipped = s.execute(
                    update(OutboundDelivery).where(
                        OutboundDelivery.target == OutboundTarget.MQTT,
                        OutboundDelivery.status == OutboundStatus.PENDING)
                    .values(status=OutboundStatus.SKIPPED)).rowcount
            rows = s.execute(
                select(OutboundDelivery).where(OutboundDelivery.status == OutboundStatus.PENDING,
                                               OutboundDelivery.next_attempt_at <= now)
                .order_by(OutboundDelivery.id).limit(self.webhooks.batch)
                .with_for_update(skip_locked=True)).scalars().all()
            broker_down = False
            for row in rows:
                if broker_down and row.target == OutboundTarget.MQTT:
                    continue
                error: Exception | None = None
                try:
                    self._send(s, row, now)
                except (PublishError, WebhookError) as err:
                    error = err
                    broker_down = broker_down or isinstance(err, PublishError)
                self._record(row, error, now, report)
            s.commit()
        return report


def expand_all(db: Database, *, now: datetime) -> int:
    """Turn every queued event into its deliveries, a committed transaction per thousand;
    how many events."""
    total = 0
    while True:
        with db.session() as s:
            n = expand_queued(s, now=now)
            s.commit()
        total += n
        if n == 0:
            return total
