"""``mynagate worker``: the background worker (docs/worker.md). Run it under systemd
(docs/systemd/mynagate-worker.service); two at once are safe."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import typer

app = typer.Typer()


def _now() -> datetime:
    return datetime.now(UTC)


@app.command()
def worker(once: bool = typer.Option(False, "--once", help="run what is due now, then exit"),
           worker_id: str = typer.Option("", "--id", help="name in the job table "
                                                          "(default host:pid)")) -> None:
    """Run the timed work: mail, events out, lock alerts, export reminder, retention,
    nonce pruning, device heartbeats. SIGTERM stops it after the job in hand."""
    from api.keys import load_or_create_signing_key
    from api.logging_config import configure_logging
    from api.mail.settings import SmtpSettings
    from api.outbound.deliver import Deliverer
    from api.outbound.settings import MqttSettings, WebhookSettings
    from api.settings import get_settings
    from api.worker.jobs import WorkerContext
    from api.worker.runner import Worker, stop_on_signals
    from api.worker.settings import RetentionSettings, WorkerSettings
    from mynagate_cli.service_config import (
        checked_lock_settings,
        database_url,
        open_database,
        require_data_dir,
        signing_key_file,
    )

    configure_logging()  # one JSON object per line, as `serve` (docs/monitoring.md)
    settings = get_settings()
    db = open_database(database_url(None, settings))
    deliverer = None
    try:
        key = load_or_create_signing_key(signing_key_file(settings, require_data_dir(settings)))
        deliverer = Deliverer(MqttSettings(), WebhookSettings())
        ctx = WorkerContext(db=db, settings=WorkerSettings(), retention=RetentionSettings(),
                            smtp=SmtpSettings(), locks=checked_lock_settings(settings, db),
                            signing_key=key, deliverer=deliverer,
                            tz=ZoneInfo(settings.timezone))
        w = Worker(ctx, worker_id=worker_id or f"{socket.gethostname()}:{os.getpid()}",
                   clock=_now)
        if once:
            ran = w.run_once(_now())
            typer.echo(f"実行 {len(ran)} 件 (ran {', '.join(k.value for k in ran) or 'nothing'})")
            return
        stop_on_signals(w)
        w.run_forever()
    finally:
        if deliverer is not None:
            deliverer.close()
        db.dispose()
