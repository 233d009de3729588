"""``mynagate agent``: enroll a reader host and run the reader agent."""

from __future__ import annotations

import logging
import signal
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(no_args_is_help=True, help="Reader agent (enroll, run, status)")

DATA_DIR_HELP = "agent data directory (device key, identity, snapshot, outbox)"


@app.command()
def enroll(
    service: str = typer.Option(..., "--service", help="service base URL, e.g. http://svc:8000"),
    token: str = typer.Option(..., "--token", help="one-time enrollment token from the admin"),
    data_dir: Path = typer.Option(..., "--data-dir", help=DATA_DIR_HELP),
) -> None:
    """Register this host's device key with the service using a one-time token."""
    from reader_agent.agent import enroll_agent
    from reader_agent.client import ClientError

    try:
        identity = enroll_agent(data_dir, service, token)
    except ClientError as err:
        typer.echo(f"登録に失敗しました / enrollment failed (--service {service}): {err}",
                   err=True)
        raise typer.Exit(1) from err
    typer.echo(f"登録しました / enrolled: device {identity.device_id} "
               f"(service key {identity.service_key_id})")


BUNDLE_FILE = "config.bundle.json"


def _install_bundle(data_dir: Path, bundle: Path | None) -> Any:
    """Verify and install ``bundle`` (or reuse the installed one); None if there is neither.

    A refused bundle is reported and the last good one stays in force; with no last good one
    the agent does not start.
    """
    from firmware_config.bundle import BundleError, load_bundle, read_last_good
    from reader_agent.keys import load_identity

    identity = load_identity(data_dir)
    installed = data_dir / BUNDLE_FILE
    if bundle is None:
        return read_last_good(installed, identity.service_public_key)
    try:
        return load_bundle(bundle, identity.service_public_key, installed)
    except BundleError as err:
        typer.echo(f"設定バンドルを拒否しました / config bundle refused: {err}", err=True)
        if err.last_good is None:
            raise typer.Exit(2) from err
        typer.echo(f"前回の設定 (version {err.last_good.config_version}) で動作します / "
                   "keeping the last good bundle", err=True)
        return err.last_good


@app.command()
def run(
    data_dir: Path = typer.Option(..., "--data-dir", help=DATA_DIR_HELP),
    reader: str = typer.Option(None, "--reader", help="driver URI: sim:NAME, pcsc:…, nfc:…"),
    door: int = typer.Option(None, "--door", help="the door this reader serves"),
    bundle: Path = typer.Option(None, "--bundle",
                                help="signed firmware_config bundle (overrides the flags)"),
    max_offline_hours: float = typer.Option(72.0, help="offline snapshot age limit"),
    fail_open_door: list[int] = typer.Option([], "--fail-open-door",
                                             help="door that keeps admitting past the limit"),
    unlock_seconds: float = typer.Option(5.0, help="strike release time"),
    lang: str = typer.Option("ja", help="display language: ja or en"),
    heartbeat_s: float = typer.Option(30.0, help="heartbeat interval"),
    skew_alarm_ms: int = typer.Option(5000, help="clock skew alarm threshold"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Run the reader agent until SIGTERM or Ctrl-C."""
    from cryptography import x509

    from gate.door import DoorTiming
    from reader_agent.agent import AgentAlreadyRunning, AgentConfig, DoorEvents, ReaderAgent
    from reader_agent.display import ConsoleDisplay
    from reader_agent.door_io import DoorController, SimDoorIO, controller_from_config
    from reader_agent.keys import NotEnrolledError
    from reader_agent.tap_source import open_tap_source

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        installed = _install_bundle(data_dir, bundle)
    except NotEnrolledError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from err
    settings: dict[str, Any] = {
        "reader": reader, "door": door, "max_offline_hours": max_offline_hours,
        "fail_open_doors": list(fail_open_door), "unlock_seconds": unlock_seconds,
        "lang": lang, "heartbeat_s": heartbeat_s, "skew_alarm_ms": skew_alarm_ms,
        "config_version": None, "staff_ap_aid": None,
    }
    if installed is not None:
        from firmware_config.bundle import agent_settings

        settings.update(agent_settings(installed))
        typer.echo(f"設定バンドル version {installed.config_version} ({installed.device})")
    if not settings["reader"] or settings["door"] is None:
        typer.echo("--reader and --door (or --bundle) are required", err=True)
        raise typer.Exit(2)
    config = AgentConfig(
        reader_id=str(settings["reader"]), door_id=int(settings["door"]),
        max_offline_age=timedelta(hours=float(settings["max_offline_hours"])),
        fail_open_doors=frozenset(int(d) for d in settings["fail_open_doors"]),
        unlock_seconds=float(settings["unlock_seconds"]), language=str(settings["lang"]))
    door_events = DoorEvents()
    if installed is not None:
        door_io = controller_from_config(installed.config, on_notice=door_events.notice)
    else:
        door_io = DoorController(SimDoorIO([config.door_id]),
                                 {config.door_id: DoorTiming(config.unlock_seconds)},
                                 on_notice=door_events.notice)
    display = ConsoleDisplay()
    try:
        agent = ReaderAgent(data_dir, config, display=display, door_io=door_io,
                            heartbeat_s=float(settings["heartbeat_s"]),
                            skew_threshold_ms=int(settings["skew_alarm_ms"]),
                            config_version=settings["config_version"])
    except (NotEnrolledError, AgentAlreadyRunning) as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from err
    door_events.attach(agent, door_io)
    auth_options: dict[str, Any] = {"lang": config.language,
                                    "pin_timeout": config.pin_timeout_s,
                                    "show": lambda text: display.show(text, ok=True)}
    if settings["staff_ap_aid"]:
        auth_options["aid"] = bytes.fromhex(str(settings["staff_ap_aid"]))
    if installed is not None:
        auth_options["jpki_cas"] = [x509.load_pem_x509_certificate(pem.encode())
                                    for pem in installed.config.trust.jpki_ca_certs]
    source = open_tap_source(config.reader_id, **auth_options)

    def _stop(signum: int, frame: object) -> None:
        agent.stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    door_io.start()
    try:
        agent.run(source)
    finally:
        agent.close()
        door_io.close()
        source.close()
    sys.exit(0)


@app.command()
def status(data_dir: Path = typer.Option(..., "--data-dir", help=DATA_DIR_HELP)) -> None:
    """Show the enrolled identity, the snapshot version and the outbox backlog."""
    from reader_agent.keys import NotEnrolledError, load_identity
    from reader_agent.outbox import Outbox
    from reader_agent.snapshot_cache import SnapshotCache

    try:
        identity = load_identity(data_dir)
    except NotEnrolledError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from err
    cache = SnapshotCache(data_dir / "snapshot.json", identity.service_key(), identity.device_id)
    snap = cache.load()
    stats = Outbox(data_dir / "outbox.sqlite3").stats()
    typer.echo(f"device:   {identity.device_id}")
    typer.echo(f"service:  {identity.service_url}")
    typer.echo("snapshot: " + (f"version {snap.version}, issued {snap.issued_at.isoformat()}"
                               if snap else "なし / none (every tap is denied)"))
    typer.echo(f"outbox:   {stats['pending']} pending, last seq {stats['last_seq']}, "
               f"oldest pending {stats['oldest_pending_at'] or '-'}")
