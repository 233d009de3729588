"""The worker's jobs on the real database (and a real SMTP server for the reminder)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from api.db import Database
from api.models import Device, DeviceNonce, Event, JobKind, MailKind, MailOutbox
from api.worker.jobs import check_heartbeats, prune_nonces
from api.worker.runner import Worker
from tests.locks.helpers import SmtpServer

from .helpers import NOW, context, town

SILENCE = timedelta(minutes=15)


def _alarms(db: Database) -> list[Event]:
    with db.session() as s:
        return list(s.execute(select(Event).where(Event.kind == "alarm")
                              .order_by(Event.received_at)).scalars())


def test_a_silent_device_raises_one_alarm_per_silence(database: Database) -> None:
    quiet, _ = town(database, name="quiet", heartbeat=NOW - timedelta(minutes=20))
    town(database, name="talking", heartbeat=NOW - timedelta(minutes=5))
    with database.session() as s:
        assert check_heartbeats(s, SILENCE, NOW) == [quiet]
        s.commit()
    with database.session() as s:  # still silent: no second alarm
        assert check_heartbeats(s, SILENCE, NOW + timedelta(minutes=5)) == []
        s.commit()
    alarms = _alarms(database)
    assert [(a.device_id, a.data["alarm"], a.data["silent_s"]) for a in alarms] == \
        [(quiet, "device_silent", 1200)]
    assert alarms[0].seq < 0  # the service's own event, outside the device's chain
    with database.session() as s:  # heard from again, then silent again: a new alarm
        for d in s.execute(select(Device)).scalars():
            d.last_heartbeat_at = NOW + timedelta(hours=1, minutes=d.name == "talking")
        s.commit()
    with database.session() as s:
        assert check_heartbeats(s, SILENCE, NOW + timedelta(hours=1, minutes=10)) == []
        assert check_heartbeats(s, SILENCE, NOW + timedelta(hours=1, minutes=15, seconds=30)) \
            == [quiet]
        s.commit()
    assert len(_alarms(database)) == 2


def test_expired_nonces_are_pruned(database: Database) -> None:
    device, _ = town(database)
    with database.session() as s:
        s.add_all([DeviceNonce(device_id=device, nonce="old", expires_at=NOW - timedelta(1)),
                   DeviceNonce(device_id=device, nonce="new", expires_at=NOW + timedelta(1))])
        s.commit()
    with database.session() as s:
        assert prune_nonces(s, NOW) == 1
        s.commit()
        assert [n.nonce for n in s.execute(select(DeviceNonce)).scalars()] == ["new"]


def test_the_monthly_reminder_reaches_hr_by_email(database: Database, tmp_path: Path) -> None:
    with SmtpServer() as smtp:
        ctx = context(database, tmp_path, smtp=smtp.settings(), hr_email="jinji@example.lg.jp")
        worker = Worker(ctx, worker_id="w", clock=lambda: NOW)
        assert JobKind.EXPORT_REMINDER not in worker.run_once(NOW)  # 30 Nov: not yet
        first = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 1 Dec 09:00 JST
        ran = worker.run_once(first)
        assert JobKind.EXPORT_REMINDER in ran
        worker.run_once(first + timedelta(minutes=1))  # the mail job sends it
        assert JobKind.EXPORT_REMINDER not in worker.run_once(first + timedelta(days=20))
        ctx.deliverer.close()
        [msg] = smtp.inbox.messages
        assert msg["To"] == "jinji@example.lg.jp"
        assert "2026年11月分の勤怠データ" in msg["Subject"]
        with database.session() as s:
            [mail] = s.execute(select(MailOutbox)).scalars().all()
            assert (mail.kind, mail.status) == (MailKind.EXPORT_REMINDER, "sent")
        # the next one is on 1 January
        assert JobKind.EXPORT_REMINDER in worker.run_once(datetime(2027, 1, 1, 0, 0, tzinfo=UTC))
