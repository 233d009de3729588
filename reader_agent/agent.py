"""The reader agent: the tap path and the process that runs it.

One tap, in three steps of :class:`TapProcessor`::

    decide   authenticate (challenge–response, in a worker thread under a timeout), verifying
             with the public key of the *enrolled* credential from the verified snapshot; the
             card layer names a failure as a gate Reason; then the snapshot's decision
             (gate.access_index, the same as gate.policy.decide) at corrected device time and
             gate.policy's offline rule (a snapshot older than ``max_offline_age`` denies,
             snapshot_stale, unless the door is fail-open)
    record   Outbox.append_many (durable: fsync'd): the tap event, plus the punch at clock points
    actuate  open the strike (DoorIO) if the door mode unlocks, signal, show the message

Nothing opens and no clock point says OK before its event is on disk.
"""

from __future__ import annotations

import concurrent.futures
import fcntl
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from firmware_config.bundle import ReaderBundle
from gate.clock import Punch, PunchKind
from gate.door import Alarm, DoorTiming
from gate.messages import reason_text
from gate.policy import (
    DEFAULT_MAX_OFFLINE_AGE,
    Decision,
    Reason,
    credential_digest,
    offline_decision,
    snapshot_stale,
)
from mynagate_i18n import translations

from . import clock_point
from .card_auth import KIND_JPKI
from .client import ServiceClient, enroll, format_time, tls_verify
from .config_updater import ConfigUpdater
from .display import Display, RecordingDisplay
from .keys import (
    Identity,
    load_device_key,
    load_identity,
    load_or_create_device_key,
    save_identity,
    save_service_ca,
    service_ca_file,
)
from .outbox import Outbox
from .reader_health import ReaderHealth
from .snapshot_cache import DoorView, Snapshot, SnapshotCache
from .uploader import Connectivity, Heartbeat, SnapshotWatcher, Uploader

log = logging.getLogger(__name__)

class DoorIO(Protocol):
    """Drives one electric strike.

    ``unlock`` releases the strike for ``seconds`` and returns at once; the door state machine
    (``gate.door``) relocks on close and raises held-open/forced-open alarms.
    """

    def unlock(self, door_id: int, seconds: float) -> None: ...


class RecordingDoorIO:
    """A DoorIO that only records unlocks (tests, and agents bound to clock-only points)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.unlocks: list[tuple[int, float]] = []

    def unlock(self, door_id: int, seconds: float) -> None:
        with self._lock:
            self.unlocks.append((door_id, seconds))


class AuthResult(Protocol):
    """What the card layer returns (``reader_agent.card_auth.CardAuthResult``)."""

    ok: bool
    kind: Any
    credential_ref: str | None
    failure: Reason | None
    detail: Any


@dataclass(frozen=True)
class TapContext:
    """What an authenticator gets for one tap."""

    door: DoorView | None
    reader_id: str
    now: datetime
    lookup_public_key: Callable[[str], bytes | None]
    # The enrolled expiry of a credential (snapshot), so a card+PIN door can refuse an
    # expired credential before the PIN costs a try.
    lookup_not_after: Callable[[str], datetime | None] = lambda _ref: None


# Runs the card exchange for one tap (blocking, card I/O); returns the card layer's result.
Authenticator = Callable[[TapContext], AuthResult]


@dataclass(frozen=True)
class _Failed:
    """An AuthResult for a card exchange that raised or timed out."""

    ok: bool = False
    kind: Any = None
    credential_ref: str | None = None
    failure: Reason = Reason.CARD_ERROR
    detail: Any = None


@dataclass
class TapOutcome:
    door_id: int
    granted: bool
    reason: Reason
    text: str
    events: list[dict[str, Any]] = field(default_factory=list)
    credential_ref: str | None = None
    staff_id: int | None = None
    punch: Punch | None = None
    offline: bool = False


@dataclass
class Tap:
    """One tap between its steps: what the card proved and the decision, before it is stored."""

    device_now: datetime
    offset_ms: int
    now: datetime  # corrected device time
    snap: Snapshot | None
    door: DoorView | None
    result: AuthResult
    offline: bool
    decision: Decision = Decision(False, Reason.NO_SNAPSHOT)
    kind: str = "tap"  # or card_error
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str | None:
        return self.result.credential_ref

    @property
    def auth_kind(self) -> str | None:
        kind = self.result.kind
        return str(getattr(kind, "value", kind)) if kind else None

    @property
    def staff_id(self) -> int | None:
        """Only an authenticated card names a staff member; a failed one is just a claim."""
        if not self.result.ok or self.snap is None or self.ref is None:
            return None
        return self.snap.staff_of(self.ref)

    @property
    def punches(self) -> bool:
        return (self.decision.granted and self.door is not None
                and self.door.info.mode.is_clock)

    def event(self, door_id: int, reader_id: str) -> dict[str, Any]:
        data: dict[str, Any] = {"auth": self.auth_kind, "offline": self.offline,
                                "snapshot_version": self.snap.version if self.snap else None,
                                "reader": reader_id}
        if getattr(self.result, "apdus", 0):
            data["apdus"] = self.result.apdus  # type: ignore[attr-defined]
            data["transport_ms"] = getattr(self.result, "transport_ms", None)
            data["card_ms"] = getattr(self.result, "total_ms", None)
        return {"kind": self.kind, "occurred_at": format_time(self.device_now),
                "clock_offset_ms": self.offset_ms, "door_id": door_id,
                "credential_ref": self.ref, "staff_id": self.staff_id,
                "granted": self.decision.granted, "reason": self.decision.reason.value,
                "data": {**data, **self.data}}


@dataclass
class AgentConfig:
    reader_id: str
    door_id: int
    max_offline_age: timedelta = DEFAULT_MAX_OFFLINE_AGE
    fail_open_doors: frozenset[int] = frozenset()
    unlock_seconds: float = 5.0
    card_timeout_s: float = 5.0
    # A card+PIN door waits for the keypad inside the card exchange: it gets this much more.
    pin_timeout_s: float = 20.0
    language: str = "ja"


def _failure_reason(result: AuthResult, snap: Snapshot | None) -> Reason:
    """The card layer names its failure as a Reason; one that names none failed to prove. A
    card the service enrolled for other readers only is "not permitted here", not unknown."""
    reason = result.failure if isinstance(result.failure, Reason) else Reason.CARD_AUTH_FAILED
    ref = result.credential_ref
    if reason is Reason.UNKNOWN_CREDENTIAL and snap is not None and ref is not None \
            and credential_digest(ref) in snap.other_refs:
        return Reason.NO_PERMISSION
    return reason


def _overtime_of(tap: Tap, punch: Punch) -> tuple[int, int] | None:
    """The month's overtime and cap for the 退勤 line, if this clock point shows it."""
    figures = tap.snap.overtime if tap.snap is not None else None
    if figures is None or tap.door is None or not tap.door.show_overtime \
            or tap.staff_id is None:
        return None
    return figures.of(tap.staff_id, punch.business_date)


def _not_after_of(snap: Snapshot | None) -> Callable[[str], datetime | None]:
    """The enrolled expiry of a credential in ``snap`` (None: unknown or no expiry)."""
    return snap.not_after_of if snap is not None else (lambda _ref: None)


class TapProcessor:
    """The tap path of one reader bound to one door."""

    def __init__(
        self,
        config: AgentConfig,
        cache: SnapshotCache,
        outbox: Outbox,
        *,
        door_io: DoorIO | None = None,
        display: Display | None = None,
        device_clock: Callable[[], datetime] | None = None,
        clock_offset_ms: Callable[[], int] | None = None,
        is_online: Callable[[], bool] | None = None,
    ) -> None:
        self.config = config
        translations(config.language)  # a missing catalog fails at start, not at a tap
        self.cache = cache
        self.outbox = outbox
        self.door_io: DoorIO = door_io or RecordingDoorIO()
        self.display: Display = display or RecordingDisplay()
        self._device_clock = device_clock or (lambda: datetime.now(UTC))
        self._offset_ms = clock_offset_ms or (lambda: 0)
        self._is_online = is_online or (lambda: False)
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="card-io")
        # Appends from several readers of one agent go through one outbox; the lock keeps a
        # tap's events together.
        self._lock = threading.Lock()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # --- card I/O under a timeout ------------------------------------------------------------
    def _run_card(self, authenticate: Authenticator, ctx: TapContext) -> AuthResult:
        timeout = self.config.card_timeout_s
        if ctx.door is not None and ctx.door.info.assurance.needs_pin:
            timeout += self.config.pin_timeout_s
        future = self._executor.submit(authenticate, ctx)
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            # The worker may be stuck in a blocking driver call: abandon it, start a new one.
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="card-io")
            log.warning("agent.tap.card_timeout reader=%s", self.config.reader_id)
            return _Failed(detail="card exchange timed out")
        except Exception as err:  # a driver bug must never crash the agent
            log.warning("agent.tap.card_exception reader=%s error=%s", self.config.reader_id,
                        type(err).__name__)
            return _Failed(detail=type(err).__name__)

    # --- the tap path: decide, record, actuate ------------------------------------------------
    def tap(self, authenticate: Authenticator, *, explicit: PunchKind | None = None) -> TapOutcome:
        """Process one card presentation end to end and return what happened."""
        tap = self.decide(authenticate)
        stored, punch = self.record(tap, explicit)
        text = self.actuate(tap, punch)
        log.info("agent.tap.%s door=%s reason=%s seq=%s", "granted" if tap.decision.granted
                 else "denied", self.config.door_id, tap.decision.reason.value, stored[0]["seq"])
        return TapOutcome(self.config.door_id, tap.decision.granted, tap.decision.reason, text,
                          stored, tap.ref, tap.staff_id, punch, tap.offline)

    def decide(self, authenticate: Authenticator) -> Tap:
        """Run the card exchange and decide from the snapshot (nothing is stored yet)."""
        device_now = self._device_clock()
        offset_ms = self._offset_ms()
        now = device_now + timedelta(milliseconds=offset_ms)
        snap = self.cache.current
        door = snap.doors.get(self.config.door_id) if snap is not None else None
        lookup: Callable[[str], bytes | None] = (
            snap.public_key_for if snap is not None else (lambda _ref: None))
        result = self._run_card(authenticate, TapContext(door, self.config.reader_id, now, lookup,
                                                         _not_after_of(snap)))
        tap = Tap(device_now, offset_ms, now, snap, door, result, not self._is_online())
        if snap is None:
            tap.decision = Decision.deny(Reason.NO_SNAPSHOT)
        elif door is None:  # the snapshot does not list this reader's door: nothing opens it
            tap.decision = Decision.deny(Reason.NO_PERMISSION)
            tap.data["door_unknown"] = True
        elif not result.ok:
            self._card_failed(tap)
        else:
            tap.decision = self._policy(tap, snap, door)
        return tap

    def _card_failed(self, tap: Tap) -> None:
        result = tap.result
        tap.decision = Decision.deny(_failure_reason(result, tap.snap))
        detail = getattr(result, "detail", None)
        if tap.decision.reason is Reason.CARD_ERROR:
            tap.kind = "card_error"
            tap.data["error"] = str(detail or tap.decision.reason.value)
        else:
            tap.data["failure"] = tap.decision.reason.value
            if detail:
                tap.data["detail"] = str(detail)[:200]

    def _policy(self, tap: Tap, snap: Snapshot, door: DoorView) -> Decision:
        """gate.policy's decision, then its offline rule at the never-rewinding time."""
        decision = snap.decide(tap.ref, door, tap.now, pin_verified=tap.auth_kind == KIND_JPKI)
        floor = self.cache.now(tap.now)  # a clock set back does not make the snapshot younger
        max_age = self.config.max_offline_age
        if snapshot_stale(now=floor, issued_at=snap.issued_at, max_age=max_age):
            tap.data["snapshot_age_s"] = int((floor - snap.issued_at).total_seconds())
        fail_open = door.info.fail_open or door.info.id in self.config.fail_open_doors
        if fail_open and "snapshot_age_s" in tap.data:
            tap.data["fail_open"] = True
        return offline_decision(decision, now=floor, issued_at=snap.issued_at, max_age=max_age,
                                fail_open=fail_open)

    def record(self, tap: Tap, explicit: PunchKind | None) -> tuple[list[dict[str, Any]],
                                                                     Punch | None]:
        """Write the tap (and a clock point's punch) to the outbox: durable before any actuation."""
        event = tap.event(self.config.door_id, self.config.reader_id)
        events = [event]
        punch: Punch | None = None
        snap = tap.snap
        with self._lock:
            if tap.punches and snap is not None and tap.staff_id is not None:
                punch = clock_point.classify(self.outbox, staff_id=tap.staff_id, now=tap.now,
                                             tz=snap.tz, explicit=explicit,
                                             day_change=snap.day_change)
                events.append({**event, "kind": "clock_punch", "granted": True, "data": {
                    **clock_point.punch_event_data(punch), "offline": tap.offline}})
            stored = self.outbox.append_many(
                events, punch=punch.state if punch is not None and
                punch.kind is not PunchKind.REPEAT else None)
        return stored, punch

    def actuate(self, tap: Tap, punch: Punch | None) -> str:
        """Open the strike, signal, show the message; a failing device is logged, never raised."""
        granted = tap.decision.granted
        if granted and tap.door is not None and tap.door.info.mode.unlocks:
            try:
                self.door_io.unlock(self.config.door_id, self.config.unlock_seconds)
            except Exception as err:  # the event is stored; report, never crash
                log.error("agent.door.unlock_failed door=%s error=%s", self.config.door_id,
                          type(err).__name__)
        signal = getattr(self.door_io, "signal", None)  # LED/buzzer (DoorController)
        if callable(signal):
            try:
                signal("granted" if granted else
                       "error" if tap.decision.reason is Reason.CARD_ERROR else "denied")
            except Exception as err:
                log.warning("agent.door.signal_failed error=%s", type(err).__name__)
        lang = self.config.language
        if punch is not None and tap.snap is not None and tap.staff_id is not None:
            text = clock_point.greeting(punch, tap.snap.staff_name(tap.staff_id), tap.snap.tz,
                                        lang, _overtime_of(tap, punch))
        else:
            text = reason_text(tap.decision.reason, translations(lang).gettext)
        try:
            self.display.show(text, ok=granted)
        except Exception as err:
            log.error("agent.display.failed error=%s", type(err).__name__)
        return text


# A source of taps: waits up to ``timeout`` seconds for a card and returns the authenticator
# for it (the card exchange itself runs later, in the tap path's worker thread), or None.
TapSource = Callable[[float], Authenticator | None]


def _opened_at_start(previous: ReaderBundle | None, new: ReaderBundle,
                     reader_id: str) -> list[str]:
    """What changed in ``new`` that the agent only opens at start (driver, door I/O, wiring,
    keypad, indicators, card AID); without an earlier bundle, only the driver is known."""
    if previous is None:
        return ["driver"] if new.config.driver != reader_id else []
    old, cfg = previous.config, new.config
    changed = [k for k in ("driver", "door_io", "indicator", "keypad", "staff_ap_aid", "led",
                           "buzzer") if getattr(old, k) != getattr(cfg, k)]
    wiring = [[(d.door_id, d.relay_pin, d.sensor_pin, d.relay_active_high,
                d.sensor_closed_is_low) for d in c.doors] for c in (old, cfg)]
    return changed + (["doors"] if wiring[0] != wiring[1] else [])


class AgentAlreadyRunning(RuntimeError):
    """Another agent process holds this data directory."""


def _lock_data_dir(data_dir: Path) -> int:
    """One agent per data directory: two would each upload and drive the same reader."""
    fd = os.open(data_dir / "agent.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as err:
        os.close(fd)
        raise AgentAlreadyRunning(f"another agent is running on {data_dir}") from err
    return fd


class ReaderAgent:
    """The agent process: the tap path plus the uploader, heartbeat and snapshot watcher."""

    def __init__(
        self,
        data_dir: Path | str,
        config: AgentConfig,
        *,
        transport: Any = None,
        door_io: DoorIO | None = None,
        display: Display | None = None,
        device_clock: Callable[[], datetime] | None = None,
        heartbeat_s: float = 30.0,
        wait_s: float = 25.0,
        upload_idle_s: float = 1.0,
        skew_threshold_ms: int = 5000,
        config_version: int | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        identity = load_identity(self.data_dir)
        self._lock_fd = _lock_data_dir(self.data_dir)
        self.identity = identity
        self.client = ServiceClient(identity.service_url, identity.device_id,
                                    load_device_key(self.data_dir), transport,
                                    clock=device_clock,
                                    verify=tls_verify(service_ca_file(self.data_dir)))
        self.cache = SnapshotCache(self.data_dir / "snapshot.json", identity.service_key(),
                                   identity.device_id)
        self.cache.load()
        self.outbox = Outbox(self.data_dir / "outbox.sqlite3")
        self.connectivity = Connectivity()
        self.stop = threading.Event()
        self.uploader = Uploader(self.client, self.outbox, self.stop,
                                 connectivity=self.connectivity, idle_s=upload_idle_s)
        self.heartbeat = Heartbeat(self.client, self.outbox, self.cache, self.stop,
                                   connectivity=self.connectivity, interval_s=heartbeat_s,
                                   skew_threshold_ms=skew_threshold_ms,
                                   config_version=config_version, uploader=self.uploader)
        self.config = ConfigUpdater(self.client, self.data_dir, identity.service_key(),
                                    identity.device_id, on_applied=self.apply_config,
                                    on_alarm=lambda data: self.record("alarm", data=data))
        self.watcher = SnapshotWatcher(self.client, self.cache, self.stop,
                                       connectivity=self.connectivity, wait_s=wait_s,
                                       after_sync=self.config.poll)
        self.taps = TapProcessor(config, self.cache, self.outbox, door_io=door_io,
                                 display=display, device_clock=self.client.device_now,
                                 clock_offset_ms=lambda: self.client.clock_offset_ms,
                                 is_online=self.connectivity.online)
        self._started = False
        if self.cache.rolled_back is not None:  # an older snapshot.json was put back
            mark = self.cache.rolled_back
            self.record("alarm", data={"alarm": Alarm.SNAPSHOT_ROLLBACK,
                                       "accepted_version": mark.version})
        if self.config.rolled_back:  # an older config.bundle.json was put back
            self.record("alarm", data={"alarm": Alarm.CONFIG_REFUSED,
                                       "kept_version": self.config.version,
                                       "accepted_version": self.config.mark.version,
                                       "detail": "installed bundle older than one accepted"})

    def apply_config(self, bundle: ReaderBundle) -> None:
        """Put a newly installed bundle (``firmware_config.bundle.ReaderBundle``) in force.

        Door timings, offline limits, fail-open doors, language and heartbeat apply at once;
        the card driver, door I/O, pins and keypad are opened at start, so a change to those
        applies when the agent next starts (from the installed bundle)."""
        cfg = bundle.config
        old = self.taps.config
        door = next((d for d in cfg.doors if d.door_id == old.door_id), None)
        if door is None:
            log.error("agent.config.door_missing door=%s version=%d: the bundle no longer "
                      "lists this reader's door; restart the agent", old.door_id,
                      bundle.config_version)
        self.taps.config = replace(
            old, unlock_seconds=door.unlock_seconds if door else old.unlock_seconds,
            max_offline_age=timedelta(hours=cfg.offline.max_offline_age_hours),
            fail_open_doors=cfg.fail_open_doors(), language=cfg.language,
            pin_timeout_s=cfg.keypad.timeout_seconds if cfg.keypad else old.pin_timeout_s)
        retime = getattr(self.taps.door_io, "retime", None)  # a DoorController
        if callable(retime):
            retime({d.door_id: DoorTiming(d.unlock_seconds, d.held_open_seconds)
                    for d in cfg.doors if d.has_strike})
        self.heartbeat.config_version = bundle.config_version
        self.heartbeat.interval_s = cfg.heartbeat_seconds
        self.heartbeat.skew_threshold_ms = cfg.offline.clock_skew_alarm_ms
        changed = _opened_at_start(self.config.previous, bundle, old.reader_id)
        if changed:
            log.warning("agent.config.restart_needed changed=%s: applies at the next start",
                        ",".join(changed))
        log.info("agent.config.applied version=%d door=%s unlock_seconds=%s",
                 bundle.config_version, old.door_id, self.taps.config.unlock_seconds)

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        for worker in (self.heartbeat, self.watcher, self.uploader):
            worker.start()

    def tap(self, authenticate: Authenticator, *,
            explicit: PunchKind | None = None) -> TapOutcome:
        outcome = self.taps.tap(authenticate, explicit=explicit)
        self.uploader.notify()
        return outcome

    def record(self, kind: str, *, door_id: int | None = None,
               data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Append a non-tap event (door state, alarm) and wake the uploader."""
        event = self.outbox.append({
            "kind": kind, "occurred_at": format_time(self.client.device_now()),
            "clock_offset_ms": self.client.clock_offset_ms, "door_id": door_id,
            "data": data or {}})
        self.uploader.notify()
        return event

    def record_door_notice(self, notice: Any) -> None:
        """``DoorController`` ``on_notice``: alarms and refusals become events."""
        alarm = getattr(notice, "alarm", None)
        alarm_name = str(getattr(alarm, "value", alarm)) if alarm is not None else None
        if notice.kind in ("alarm_raised", "alarm_cleared"):
            self.record("alarm", door_id=notice.door_id,
                        data={"alarm": alarm_name, "active": notice.kind == "alarm_raised"})
        else:
            self.record("alarm", door_id=notice.door_id,
                        data={"alarm": notice.kind, "detail": notice.detail})

    def record_door_state(self, door_id: int, is_open: bool) -> None:
        self.record("door_state", door_id=door_id,
                    data={"state": "open" if is_open else "closed"})

    def tap_once(self, source: TapSource, timeout: float = 1.0) -> TapOutcome | None:
        """Wait up to ``timeout`` for one card from ``source`` and process it (demo, tests)."""
        authenticate = source(timeout)
        return None if authenticate is None else self.tap(authenticate)

    def run(self, source: TapSource, poll_s: float = 0.5) -> None:
        """Serve taps from ``source`` until ``stop`` is set."""
        self.start()
        log.info("agent.run.started device=%s door=%s snapshot_version=%s",
                 self.identity.device_id, self.taps.config.door_id, self.cache.version)
        health = ReaderHealth(self.taps.config.reader_id,
                              lambda data: self.record("alarm", door_id=self.taps.config.door_id,
                                                       data=data))
        while not self.stop.is_set():
            try:
                authenticate = source(poll_s)
            except Exception as err:  # a reader fault must not end the process
                log.warning("agent.reader.error error=%s", type(err).__name__)
                health.failed(err)
                self.stop.wait(poll_s)
                continue
            health.ok()
            if authenticate is not None:
                self.tap(authenticate)

    def close(self, timeout: float = 5.0) -> None:
        self.stop.set()
        self.uploader.notify()
        # The uploader may be between a post and its mark: let it finish first. Closing the
        # client then cuts the watcher's long-poll short.
        for worker, wait in ((self.uploader, timeout), (self.heartbeat, 1.0)):
            if worker.thread is not None:
                worker.thread.join(wait)
        self.client.close()
        if self.watcher.thread is not None:
            self.watcher.thread.join(1.0)
        self.taps.close()
        self.outbox.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None


class DoorEvents:
    """Routes a door controller's notices and sensor edges into the agent's outbox.

    The controller is built before the agent (it is the agent's DoorIO), so its ``on_notice``
    is this object's :meth:`notice`, bound to the agent later by :meth:`attach`.
    """

    def __init__(self) -> None:
        self.agent: ReaderAgent | None = None

    def notice(self, notice: Any) -> None:
        if self.agent is not None:
            self.agent.record_door_notice(notice)

    def attach(self, agent: ReaderAgent, controller: Any) -> None:
        self.agent = agent

        def on_sensor(door_id: int, is_open: bool) -> None:
            controller.on_sensor(door_id, is_open)
            agent.record_door_state(door_id, is_open)

        controller.io.set_sensor_callback(on_sensor)


def enroll_agent(data_dir: Path | str, service_url: str, token: str, *,
                 transport: Any = None, ca_file: Path | None = None) -> Identity:
    """Enroll this host: make (or reuse) the device key, register it, save the identity.

    With ``ca_file`` the service's TLS certificate must chain to that bundle, now and in every
    later request (it is kept in the data dir)."""
    path = Path(data_dir)
    key = load_or_create_device_key(path)
    verify = tls_verify(ca_file)  # a broken bundle fails here, before anything is sent
    result = enroll(service_url, token, key, transport=transport, verify=verify)
    if ca_file is not None:
        save_service_ca(path, ca_file)
    identity = Identity(str(result["device_id"]), service_url.rstrip("/"),
                        str(result["service_public_key"]), str(result["service_key_id"]))
    save_identity(path, identity)
    log.info("agent.enroll.done device=%s", identity.device_id)
    return identity
