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
    ca: Path | None = typer.Option(None, "--ca", help="PEM CA bundle the service's TLS "
                                   "certificate must chain to (kept in the data dir)"),
) -> None:
    """Register this host's device key with the service using a one-time token."""
    from reader_agent.agent import enroll_agent
    from reader_agent.client import ClientError, tls_verify

    try:
        tls_verify(ca)
    except OSError as err:  # an unreadable or broken --ca bundle (ssl.SSLError is an OSError)
        typer.echo(f"CA 証明書を読めません / cannot load the CA bundle (--ca {ca}): {err}",
                   err=True)
        raise typer.Exit(1) from err
    try:
        identity = enroll_agent(data_dir, service, token, ca_file=ca)
    except ClientError as err:
        typer.echo(f"登録に失敗しました / enrollment failed (--service {service}): {err}",
                   err=True)
        raise typer.Exit(1) from err
    typer.echo(f"登録しました / enrolled: device {identity.device_id} "
               f"(service key {identity.service_key_id})")
    typer.echo("管理画面の「リーダー端末」で承認されるまで待機します / the reader waits until an "
               "admin confirms it on the console's devices page")


BUNDLE_FILE = "config.bundle.json"


def _install_bundle(data_dir: Path, bundle: Path | None) -> Any:
    """Verify and install ``bundle`` (or reuse the installed one); None if there is neither.

    A refused bundle is reported and the last good one stays in force; with no last good one
    the agent does not start.
    """
    from firmware_config.bundle import BundleError, load_bundle, read_last_good
    from reader_agent.config_updater import STATE_FILE, ConfigMark
    from reader_agent.keys import load_identity

    identity = load_identity(data_dir)
    installed = data_dir / BUNDLE_FILE
    if bundle is None:
        return read_last_good(installed, identity.service_public_key)
    mark = ConfigMark(data_dir / STATE_FILE)  # the highest version the agent ever accepted
    try:
        new = load_bundle(bundle, identity.service_public_key, installed,
                          min_version=mark.version)
        mark.raise_to(new.config_version)
        return new
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
    keypad: str = typer.Option(None, "--keypad", help="PIN keypad URI for card+PIN doors: "
                               "pcsc-pinpad:[NAME], serial:DEVICE[:BAUD], gpio:[R,R,R,R/C,C,C], "
                               "sim:NAME"),
    pin_timeout: float = typer.Option(20.0, "--pin-timeout", help="seconds to type the PIN"),
    clear_key: str = typer.Option("*", "--clear-key", help="keypad key that clears the entry"),
    enter_key: str = typer.Option("#", "--enter-key", help="keypad key that confirms the PIN"),
    jpki_ca: list[Path] = typer.Option([], "--jpki-ca", help="JPKI authentication CA "
                                       "certificate (PEM) for card+PIN doors (bundle: trust)"),
    heartbeat_s: float = typer.Option(30.0, help="heartbeat interval"),
    skew_alarm_ms: int = typer.Option(5000, help="clock skew alarm threshold"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Run the reader agent until SIGTERM or Ctrl-C."""
    from gate.door import DoorTiming
    from reader_agent.agent import AgentAlreadyRunning, DoorEvents, ReaderAgent
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
        "config_version": None, "staff_ap_aid": None, "keypad": keypad,
        "pin_timeout": pin_timeout, "clear_key": clear_key, "enter_key": enter_key,
    }
    if installed is not None:
        from firmware_config.bundle import agent_settings

        settings.update(agent_settings(installed))
        typer.echo(f"設定バンドル version {installed.config_version} ({installed.device})")
    if not settings["reader"] or settings["door"] is None:
        typer.echo("--reader and --door (or --bundle) are required", err=True)
        raise typer.Exit(2)
    config = _agent_config(settings)
    pad = _keypad_from(settings, config.language)
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
    if pad is not None:
        _start_keypad(pad, agent, config.door_id)
    auth_options: dict[str, Any] = {"lang": config.language, "keypad": pad,
                                    "pin_timeout": config.pin_timeout_s,
                                    "show": lambda text: display.show(text, ok=True),
                                    "jpki_cas": _jpki_cas(installed, jpki_ca, agent)}
    if settings["staff_ap_aid"]:
        auth_options["aid"] = bytes.fromhex(str(settings["staff_ap_aid"]))
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
        if pad is not None:
            pad.close()
    sys.exit(0)


def _agent_config(settings: dict[str, Any]) -> Any:
    from reader_agent.agent import AgentConfig

    return AgentConfig(
        reader_id=str(settings["reader"]), door_id=int(settings["door"]),
        max_offline_age=timedelta(hours=float(settings["max_offline_hours"])),
        fail_open_doors=frozenset(int(d) for d in settings["fail_open_doors"]),
        unlock_seconds=float(settings["unlock_seconds"]), language=str(settings["lang"]),
        pin_timeout_s=float(settings["pin_timeout"]))


def _jpki_cas(installed: Any, files: list[Path], agent: Any) -> list[Any]:
    """The JPKI CA certificates of card+PIN doors: the bundle's trust, else ``--jpki-ca``."""
    from cryptography import x509

    try:
        pems = [pem.encode() for pem in installed.config.trust.jpki_ca_certs] \
            if installed is not None else [path.read_bytes() for path in files]
        return [x509.load_pem_x509_certificate(pem) for pem in pems]
    except (OSError, ValueError) as err:
        typer.echo(f"--jpki-ca を読めません / cannot read --jpki-ca: {err}", err=True)
        agent.close()
        raise typer.Exit(2) from err


def _keypad_from(settings: dict[str, Any], lang: str) -> Any:
    """The keypad named in the settings (None without one); a bad URI or key ends the run."""
    from reader_agent.keypad import KeypadOptions, open_keypad

    if not settings["keypad"]:
        return None
    if str(settings["keypad"]).startswith("pcsc-pinpad:") and \
            not str(settings["reader"]).startswith("pcsc:"):
        typer.echo("--keypad pcsc-pinpad: is the PIN pad of the PC/SC card reader: use it "
                   "with --reader pcsc:…", err=True)
        raise typer.Exit(2)
    try:
        options = KeypadOptions(timeout_s=float(settings["pin_timeout"]),
                                clear_key=str(settings["clear_key"]),
                                enter_key=str(settings["enter_key"]))
        return open_keypad(str(settings["keypad"]), options, lang=lang)
    except ValueError as err:
        typer.echo(f"--keypad: {err}", err=True)
        raise typer.Exit(2) from err


def _start_keypad(pad: Any, agent: Any, door_id: int) -> None:
    """Check the keypad; its faults become alarm events. A PIN pad reader without secure PIN
    entry cannot serve a card+PIN door: the agent refuses to run with it."""
    from reader_agent.keypad import KeypadUnavailable

    def on_fault(err: Exception, active: bool) -> None:
        agent.record("alarm", door_id=door_id, data={
            "alarm": getattr(err, "code", "keypad_error"), "active": active,
            "detail": str(err)[:200]})

    pad.on_fault = on_fault
    try:
        pad.check()
    except KeypadUnavailable as err:
        typer.echo(f"暗証番号の入力装置が使用できません / keypad {pad.name} unavailable: {err}",
                   err=True)
        if pad.secure:
            typer.echo("この読み取り機では暗証番号付きの扉を運用できません / refusing to run a "
                       "card+PIN door with this keypad", err=True)
            agent.close()
            raise typer.Exit(2) from err
        return
    typer.echo(f"暗証番号の入力装置 / keypad: {pad.name}"
               + (" (secure PIN entry on the reader)" if pad.secure else ""))


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
