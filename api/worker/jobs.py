"""The timed work of ``mynagate worker``, one function per job kind, and the list of jobs
the scheduler runs (``jobs(ctx)``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from api.db import Database
from api.events import partitions
from api.events.ingest import lock_device, record_service_alarm
from api.locks import repository as lock_repo
from api.locks import service as lock_service
from api.locks.settings import LockSettings
from api.mail import outbox
from api.mail.settings import SmtpSettings
from api.mail_delivery import deliver_outbox
from api.models import (
    Device,
    DeviceNonce,
    DeviceStatus,
    HeartbeatAlarm,
    JobKind,
    LockNonce,
    MailKind,
)
from api.models.facility import SmartLock
from api.outbound.deliver import Deliverer

from . import retention
from .scheduler import Job, every
from .settings import RetentionSettings, WorkerSettings

SILENT_ALARM = "device_silent"


@dataclass
class WorkerContext:
    """Everything the jobs need, built once by ``mynagate worker`` (or a test)."""

    db: Database
    settings: WorkerSettings
    retention: RetentionSettings
    smtp: SmtpSettings
    locks: LockSettings
    signing_key: Ed25519PrivateKey
    deliverer: Deliverer
    tz: ZoneInfo


def evaluate_lock_alerts(session: Session, locks: LockSettings,
                         now: datetime) -> Sequence[SmartLock]:
    """The anomaly rules for every lock (``mynagate locks check-alerts`` does the same)."""
    rows = lock_repo.list_all(session)
    for lock in rows:
        lock_service.evaluate_alerts(session, locks, lock, now)
    return rows


def check_heartbeats(session: Session, silence: timedelta, now: datetime) -> list[uuid.UUID]:
    """Raise one ``device_silent`` alarm for each active device not heard from for
    ``silence``; a device is alarmed again only after a new heartbeat. The devices alarmed."""
    limit = now - silence
    silent = session.execute(select(Device.id, Device.last_heartbeat_at).where(
        Device.status == DeviceStatus.ACTIVE,
        or_(Device.last_heartbeat_at < limit,
            Device.last_heartbeat_at.is_(None) & (Device.enrolled_at < limit)))
        .order_by(Device.id)).all()
    raised = []
    for device_id, heard_at in silent:
        lock_device(session, device_id)
        seen = session.get(HeartbeatAlarm, device_id, with_for_update=True)
        if seen is not None and seen.heartbeat_at == heard_at:
            continue
        since = heard_at or now
        record_service_alarm(session, device_id, alarm=SILENT_ALARM, now=now, detail={
            "last_heartbeat_at": heard_at.isoformat() if heard_at else None,
            "silent_s": int((now - since).total_seconds())})
        if seen is None:
            session.add(HeartbeatAlarm(device_id=device_id, heartbeat_at=heard_at,
                                       raised_at=now))
        else:
            seen.heartbeat_at, seen.raised_at = heard_at, now
        raised.append(device_id)
    session.flush()
    return raised


def prune_nonces(session: Session, now: datetime) -> int:
    """Drop replay nonces whose timestamp window has passed (devices and online locks)."""
    n = session.execute(delete(DeviceNonce).where(DeviceNonce.expires_at < now)).rowcount
    return n + session.execute(delete(LockNonce).where(LockNonce.expires_at < now)).rowcount


def next_reminder(settings: WorkerSettings, tz: ZoneInfo, now: datetime) -> datetime:
    """The first reminder moment (day ``export_reminder_day`` at ``export_reminder_hour``,
    local time) strictly after ``now``."""
    local = now.astimezone(tz)
    at = time(settings.export_reminder_hour)
    candidate = datetime.combine(date(local.year, local.month, settings.export_reminder_day),
                                 at, tz)
    if candidate <= local:
        month = date(local.year + local.month // 12, local.month % 12 + 1,
                     settings.export_reminder_day)
        candidate = datetime.combine(month, at, tz)
    return candidate


def _in_tx(ctx: WorkerContext, work, now: datetime):  # type: ignore[no-untyped-def]
    with ctx.db.session() as s:
        result = work(s, now)
        s.commit()
    return result


def jobs(ctx: WorkerContext) -> list[Job]:
    s = ctx.settings

    def mail(now: datetime) -> str:
        report = deliver_outbox(ctx.db, ctx.smtp, ctx.locks, now=now)
        return f"mail={dict(report.counts)} interrupted={report.interrupted}"

    def outbound(now: datetime) -> str:
        r = ctx.deliverer.deliver_pending(ctx.db, now=now)
        return (f"expanded={r.expanded} delivered={r.delivered} retried={r.retried} "
                f"failed={r.failed}")

    def lock_alerts(now: datetime) -> str:
        return f"locks={len(_in_tx(ctx, lambda ss, t: evaluate_lock_alerts(ss, ctx.locks, t), now))}"

    def reminder(now: datetime) -> str:
        if not s.hr_email:
            return "no MYNAGATE_WORKER_HR_EMAIL: no reminder"
        _in_tx(ctx, lambda ss, t: outbox.enqueue(ss, kind=MailKind.EXPORT_REMINDER,
                                                 to_addr=s.hr_email, now=t), now)
        return f"queued to {s.hr_email}"

    def retain(now: datetime) -> str:
        rows = _in_tx(ctx, lambda ss, t: retention.prune_all(ss, ctx.retention,
                                                            ctx.signing_key, t), now)
        return f"summaries={len(rows)} removed={sum(r.removed for r in rows)}"

    def nonces(now: datetime) -> str:
        return f"removed={_in_tx(ctx, prune_nonces, now)}"

    def heartbeats(now: datetime) -> str:
        silence = timedelta(seconds=s.heartbeat_silence_s)
        return f"alarms={len(_in_tx(ctx, lambda ss, t: check_heartbeats(ss, silence, t), now))}"

    def event_partitions(now: datetime) -> str:
        made = _in_tx(ctx, lambda ss, t: partitions.ensure_months(ss, now=t), now)
        return f"made={','.join(made) or 'none'}"

    def monthly(now: datetime) -> datetime:
        return next_reminder(s, ctx.tz, now)

    return [Job(JobKind.MAIL, mail, every(s.mail_interval_s)),
            Job(JobKind.OUTBOUND, outbound, every(s.outbound_interval_s)),
            Job(JobKind.LOCK_ALERTS, lock_alerts, every(s.lock_alerts_interval_s)),
            Job(JobKind.EXPORT_REMINDER, reminder, monthly, first_run=monthly),
            Job(JobKind.RETENTION, retain, every(s.retention_interval_s)),
            Job(JobKind.NONCE_PRUNING, nonces, every(s.nonce_interval_s)),
            Job(JobKind.HEARTBEATS, heartbeats, every(s.heartbeat_interval_s)),
            Job(JobKind.EVENT_PARTITIONS, event_partitions, every(s.partitions_interval_s))]
