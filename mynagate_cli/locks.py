"""``mynagate locks``: lock status, alert evaluation and the booking → PIN → opening demo."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import typer

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from api.db import Database
    from api.locks.settings import LockSettings

app = typer.Typer(no_args_is_help=True, help="Facility locks and key boxes")

PIN_RE = re.compile(r"暗証番号（[^）]+）: (\d{10})")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DemoMailbox:
    """A local SMTP server (aiosmtpd on a free loopback port) keeping what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.received: list[email.message.EmailMessage] = []
        self.port = _free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        self.received.append(email.message_from_bytes(  # type: ignore[arg-type]
            envelope.content, policy=email.policy.default))
        return "250 OK"

    def start(self) -> DemoMailbox:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def settings(self) -> Any:
        from api.mail.settings import SmtpSettings

        return SmtpSettings(host="127.0.0.1", port=self.port)

    def find(self, message_id: str, timeout_s: float = 5.0) -> email.message.EmailMessage:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for msg in self.received:
                if msg["Message-ID"] == message_id:
                    return msg
            time.sleep(0.02)
        raise RuntimeError(f"the email {message_id} did not arrive")


def _delivered(db: Any, smtp: Any, ls: Any, booking_id: int, now: datetime) -> Any:
    """Deliver the outbox once (a running service's sender may beat us to it: both claim
    atomically) and wait until the booking's email is no longer queued; its outbox row."""
    from api.mail import repository as mail_repo
    from api.mail_delivery import deliver_outbox
    from api.models import MailStatus

    deliver_outbox(db, smtp, ls, now=now)
    deadline = time.monotonic() + 10
    while True:
        with db.session() as s:
            mail = mail_repo.latest_for_bookings(s, [booking_id])[booking_id]
        if mail.status not in (MailStatus.QUEUED, MailStatus.SENDING) \
                or time.monotonic() > deadline:
            return mail
        time.sleep(0.05)


def demo_flow(session: Session, settings: LockSettings, *,
              facility_code: str = "aso-gym", lock_id: str = "aso-gym-01",
              booker_email: str = "yamada@example.jp", now: datetime | None = None,
              actor: str = "demo") -> dict[str, Any]:
    """The demo: a facility with an offline key box, a booking now, paid → PIN email queued.

    Returns ``{"booking_id", "lock_id", "lock_key" (bytes, to provision the emulator),
    "generation"}``; the caller commits, then types the emailed PIN on a KeyBox."""
    from api.bookings.schemas import BookingCreate
    from api.bookings.service import create, mark_paid
    from api.errors import Conflict
    from api.facilities import repository as facility_repo
    from api.facilities.schemas import FacilityCreate
    from api.facilities.service import create as create_facility
    from api.locks import repository as lock_repo
    from api.locks.schemas import LockCreate
    from api.locks.service import create as create_lock
    from api.locks.service import provisioning_key
    from api.models.base import utcnow

    now = now or utcnow()
    facility = facility_repo.get_by_code(session, facility_code) or create_facility(
        session, FacilityCreate(code=facility_code, name="阿蘇市体育館",
                                address="熊本県阿蘇市", contact="阿蘇市 施設管理係",
                                instructions="キーボックスのテンキーで暗証番号を入力し、確認キーを押して"
                                             "鍵を取り出してください。利用後は鍵を戻して扉を閉めてください。"),
        actor=actor)
    lock = lock_repo.get_by_lock_id(session, lock_id) or create_lock(
        session, LockCreate(facility_id=facility.id, lock_id=lock_id, name="正面キーボックス",
                            kind="offline"), actor=actor)

    slot_start = datetime.fromtimestamp(int(now.timestamp()) // 900 * 900, now.tzinfo)
    # a demo run again in the same quarter hour takes another length (all variants may be used)
    for extra in range(12):
        try:
            with session.begin_nested():
                b = create(session, BookingCreate(
                    facility_id=facility.id, start_at=slot_start,
                    end_at=slot_start + timedelta(hours=2, minutes=15 * extra),
                    booker_name="山田 花子", booker_email=booker_email), source="api", actor=actor)
                mark_paid(session, settings, b.id, actor=actor, now=now)
            break
        except Conflict:
            continue
    else:
        raise Conflict("no free demo slot on the lock", field="start_at")
    key = provisioning_key(session, settings, lock, actor=actor)
    return {"booking_id": b.id, "lock_id": lock.lock_id, "lock_key": key,
            "generation": lock.generation}


def demo_scenario(database_url: str, data_dir: Path, *, smtp_host: str | None = None,
                  smtp_port: int | None = None, mailbox: DemoMailbox | None = None,
                  now: datetime | None = None,
                  echo: Callable[[str], None] = print) -> dict[str, Any]:
    """A paid booking, its PIN email through the outbox over SMTP, and the key-box emulator
    opening with it.

    Without ``smtp_host`` the mail goes to ``mailbox`` (or a local one started here) and the
    PIN is read from it; with one, the mail goes there and the PIN is recomputed from the
    master. The PIN itself is never printed."""
    from api.bookings.service import pin_info
    from api.db import Database
    from api.locks.settings import LockSettings
    from api.mail.settings import SmtpSettings
    from api.models import MailStatus

    now = now or datetime.now(UTC)
    ls = LockSettings(data_dir=data_dir)
    db = Database(database_url)
    own = mailbox is None and smtp_host is None
    if own:
        mailbox = DemoMailbox().start()
    try:
        smtp = mailbox.settings() if mailbox else SmtpSettings(host=smtp_host, port=smtp_port or 25)
        with db.session() as s:
            flow = demo_flow(s, ls, now=now)
            s.commit()
        mail = _delivered(db, smtp, ls, flow["booking_id"], now)
        if mail.status != MailStatus.SENT:
            echo(f"予約 {flow['booking_id']}: 暗証番号メールを送信できませんでした "
                 f"({mail.status}: {mail.last_error})")
            return {"booking_id": flow["booking_id"], "emailed": False, "opened": False,
                    "opened_outside_slot": False}
        echo(f"予約 {flow['booking_id']}: 支払確認 → 暗証番号をメール送信しました "
             f"({smtp.host}:{smtp.port}, 試行 {mail.attempts} 回)")
        if mailbox is not None:
            part = mailbox.find(mail.message_id).get_body(preferencelist=("plain",))
            m = PIN_RE.search(str(part.get_content()) if part else "")
            if m is None:
                raise RuntimeError("the PIN email has no PIN")
            pin = m.group(1)
        else:
            with db.session() as s:
                pin = pin_info(s, ls, flow["booking_id"], now)[0].pin
        opened, later_opened = _key_box(db, ls, flow, pin, data_dir, now, echo)
        return {"booking_id": flow["booking_id"], "emailed": True, "opened": opened,
                "opened_outside_slot": later_opened}
    finally:
        if own and mailbox is not None:
            mailbox.stop()
        db.dispose()


def _key_box(db: Any, ls: Any, flow: dict[str, Any], pin: str, data_dir: Path, now: datetime,
             echo: Callable[[str], None]) -> tuple[bool, bool]:
    """Type the emailed PIN on the key-box emulator now and 6 hours later; a staff sync."""
    from api.locks import service as lock_service
    from api.models import SmartLock
    from reader_agent.lock_emulator import DriftingClock, KeyBox

    state = Path(data_dir) / f"demo-{flow['lock_id']}.json"
    state.unlink(missing_ok=True)
    offset = now.timestamp() - time.time()
    box = KeyBox(flow["lock_id"], flow["lock_key"], flow["generation"], state,
                 DriftingClock(time.time, offset_s=offset))
    opened = box.enter(pin).opened
    echo("キーボックス: " + ("解錠しました" if opened else "解錠できませんでした"))
    box.door(True)
    box.door(False)
    later = KeyBox(flow["lock_id"], flow["lock_key"], flow["generation"],
                   state.with_name(state.stem + "-later.json"),
                   DriftingClock(time.time, offset_s=offset + 6 * 3600))
    later_opened = later.enter(pin).opened
    echo("6時間後の同じ暗証番号: " + ("解錠" if later_opened else "拒否（有効時間外）"))
    with db.session() as s:
        lock = s.query(SmartLock).filter_by(lock_id=flow["lock_id"]).one()
        answer = lock_service.staff_sync(s, ls, lock, box.sync_upload(), now=now, actor="demo")
        s.commit()
    box.sync_apply(answer)
    echo(f"職員同期: ログ {answer['ack_seq']} 件まで受信")
    return opened, later_opened


@app.command()
def demo(smtp_host: str = typer.Option(None, help="SMTP host (default: a local test server)"),
         smtp_port: int = typer.Option(None, help="SMTP port")) -> None:
    """Paid booking → PIN email → the key-box emulator opens with it."""
    from api.migrate import upgrade
    from api.settings import get_settings
    from mynagate_cli.service_config import database_url, require_data_dir

    settings = get_settings()
    url = database_url(None, settings)
    data_dir = require_data_dir(settings, create=True)
    upgrade(url)
    result = demo_scenario(url, data_dir, smtp_host=smtp_host, smtp_port=smtp_port,
                           echo=typer.echo)
    if not result["emailed"] or not result["opened"] or result["opened_outside_slot"]:
        raise typer.Exit(1)


UNKNOWN = "不明/unknown"
ALERT_DAYS = 14


def status_line(st: dict[str, Any], tz: ZoneInfo) -> str:
    """One lock's status for people: whole days left, drift to a tenth of a second."""
    battery = UNKNOWN if st["battery_percent"] is None else f"{st['battery_percent']:.0f}%"
    days = st["battery_days_left"]
    days_text = UNKNOWN if days is None else f"{int(days)} 日"
    seen = st["last_contact_at"]
    seen_text = "なし/never" if seen is None else f"{seen.astimezone(tz):%Y-%m-%d %H:%M}"
    drift = st["clock_offset_s"]
    drift_text = UNKNOWN if drift is None else f"{drift:+.1f} s"
    return (f"{st['lock_id']:<20} {st['kind']:<8} 電池 {battery} 残り日数 {days_text} "
            f"最終通信 {seen_text} 時計差 {drift_text} 取消待ち {st['pending_revocations']}")


def show_status(db: Database, ls: LockSettings, now: datetime, tz: ZoneInfo,
                echo: Callable[[str], None]) -> None:
    from api.locks import repository
    from api.locks import service as lock_service

    with db.session() as s:
        locks = repository.list_all(s)
        if not locks:
            echo("錠はありません / no locks")
        for lock in locks:
            echo(status_line(lock_service.status(s, ls, lock, now), tz))


def check_alerts_report(db: Database, ls: LockSettings, now: datetime, tz: ZoneInfo,
                        echo: Callable[[str], None]) -> int:
    """Evaluate the anomaly rules for every lock; print the last two weeks' alerts or a line
    saying there are none. Returns how many were printed."""
    from api.locks import repository
    from api.worker.jobs import evaluate_lock_alerts

    with db.session() as s:
        locks = evaluate_lock_alerts(s, ls, now)
        s.commit()
        names = {lock.id: lock.lock_id for lock in locks}
        recent = [a for a in repository.alerts(s) if a.at >= now - timedelta(days=ALERT_DAYS)]
    for a in recent[:50]:
        echo(f"{a.at.astimezone(tz):%Y-%m-%d %H:%M} {a.kind} 錠 {names.get(a.lock_id, a.lock_id)}"
             f" {a.detail}".rstrip())
    if not recent:
        echo(f"{len(locks)} 台の錠を確認しました。直近{ALERT_DAYS}日の警報はありません / checked "
             f"{len(locks)} lock(s): no alerts in the last {ALERT_DAYS} days")
    return len(recent[:50])


def _open() -> tuple[Database, LockSettings, ZoneInfo]:
    from api.settings import get_settings
    from mynagate_cli.service_config import checked_lock_settings, database_url, open_database

    settings = get_settings()
    db = open_database(database_url(None, settings))
    try:
        return db, checked_lock_settings(settings, db), ZoneInfo(settings.timezone)
    except BaseException:
        db.dispose()
        raise


@app.command()
def status() -> None:
    """Every lock: battery, days left, last contact, clock offset, pending revocations."""
    db, ls, tz = _open()
    try:
        show_status(db, ls, datetime.now(UTC), tz, typer.echo)
    finally:
        db.dispose()


@app.command("check-alerts")
def check_alerts() -> None:
    """Evaluate the anomaly rules (no-show, left open, ...) for every lock now."""
    db, ls, tz = _open()
    try:
        check_alerts_report(db, ls, datetime.now(UTC), tz, typer.echo)
    finally:
        db.dispose()
