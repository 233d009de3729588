"""``mynagate mail``: deliver the mail outbox once, and list emails by state."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

app = typer.Typer(no_args_is_help=True, help="Outgoing mail (the outbox)")


@app.command("send-pending")
def send_pending(limit: int = typer.Option(100, min=1, max=10000,
                                           help="at most this many messages")) -> None:
    """Deliver the emails that are due now (safe beside the service's own sender)."""
    from api.bookings.mail import PinMasterUnreadable
    from api.locks.settings import LockSettings
    from api.mail.settings import SmtpSettings
    from api.mail_delivery import deliver_outbox
    from api.models import MailStatus
    from api.settings import get_settings
    from mynagate_cli.service_config import database_url, open_database, require_data_dir

    settings = get_settings()
    url = database_url(None, settings)
    data_dir = require_data_dir(settings)
    db = open_database(url)
    try:
        report = deliver_outbox(db, SmtpSettings(), LockSettings(data_dir=data_dir),
                                now=datetime.now(UTC), limit=limit)
    except PinMasterUnreadable as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    sent, retry = report[MailStatus.SENT], report[MailStatus.QUEUED]
    failed = report[MailStatus.FAILED] + report.interrupted
    typer.echo(f"送信 {sent} 件, 再送待ち {retry} 件, 失敗 {failed} 件 "
               f"(sent {sent}, to retry {retry}, failed {failed})")
    if failed:
        typer.echo("失敗の内容: GET /admin/mail/failed (details of the failures)")


@app.command("list")
def list_mail(status: str = typer.Option("failed", help="queued | sending | sent | failed | "
                                                         "cancelled"),
              limit: int = typer.Option(50, min=1, max=500)) -> None:
    """Emails in one state, newest first, with attempts and the last error."""
    from api.mail import repository
    from api.models import MailStatus
    from api.settings import get_settings
    from mynagate_cli.service_config import database_url, open_database

    try:
        wanted = MailStatus(status)
    except ValueError:
        raise typer.BadParameter(f"unknown status {status!r}", param_hint="--status") from None
    db = open_database(database_url(None, get_settings()))
    try:
        with db.session() as s:
            rows, total = repository.list_page(s, status=wanted, booking_id=None, limit=limit,
                                               offset=0)
    finally:
        db.dispose()
    for m in rows:
        typer.echo(f"{m.id:>6} {m.kind:<18} 予約 {m.booking_id or '-':<6} 試行 {m.attempts:>2} "
                   f"{m.created_at:%Y-%m-%d %H:%M} {m.last_error or ''}")
    typer.echo(f"{total} 件 ({total} {wanted.value})")
