"""Events out: webhook endpoints configured by an admin, the durable queue of events still to
fan out (written in the transaction of the event), and the deliveries (MQTT publishes and
webhook posts) the worker makes of them."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TimestampMixin


class OutboundTarget(StrEnum):
    MQTT = "mqtt"
    WEBHOOK = "webhook"


class OutboundStatus(StrEnum):
    PENDING = "pending"  # waiting for its first or next attempt
    DELIVERED = "delivered"
    FAILED = "failed"  # attempts used up
    SKIPPED = "skipped"  # an MQTT message while MQTT is off


class WebhookEndpoint(Base, TimestampMixin):
    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    # "whsec_" + base64 of 32 random bytes; shown once, kept to sign (Standard Webhooks).
    secret: Mapped[str] = mapped_column(String(100))
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every type
    enabled: Mapped[bool] = mapped_column(default=True)
    description: Mapped[str | None] = mapped_column(String(200), default=None)


class OutboundDelivery(Base):
    __tablename__ = "outbound_delivery"
    __table_args__ = (Index("ix_outbound_delivery_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(60))  # same on every attempt (webhook-id)
    target: Mapped[str] = mapped_column(String(10))
    endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), index=True, default=None)
    event_type: Mapped[str] = mapped_column(String(40))
    topic: Mapped[str | None] = mapped_column(String(300), default=None)
    retain: Mapped[bool] = mapped_column(default=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default=OutboundStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class OutboundEvent(Base):
    """A stored event whose deliveries are still to be made (``api.outbound.queue``).

    Ingest writes one such row per new event in its own transaction (in the statement that
    inserts the events); the worker turns the rows into deliveries and deletes them in one
    transaction, so each event's messages are queued exactly once, outside the request. No
    foreign key: events are partitioned by month and pruned; a pruned event is skipped."""

    __tablename__ = "outbound_event"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    event_id: Mapped[uuid.UUID]
    occurred_at: Mapped[datetime]  # the event's partition key: its lookup prunes partitions
