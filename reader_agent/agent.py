"""The reader agent: the tap path and the process that runs it.

One tap::

    card present
      → authenticate (challenge–response, in a worker thread under a timeout), verifying with
        the public key of the *enrolled* credential from the verified snapshot
      → gate.policy.decide with the snapshot's data at corrected device time
      → offline rule: a snapshot older than ``max_offline_age`` denies (snapshot_stale) unless
        the door is on the fail-open list
      → Outbox.append (durable: fsync'd) — the tap event, plus the clock punch on clock points
      → open the door (DoorIO), show the message (Display)

Nothing opens and no clock point says OK before its event is on disk.
"""

from __future__ import annotations

import concurrent.futures
import fcntl
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from gate.clock import Punch, PunchKind
from gate.door import Alarm
from gate.messages import reason_text
from gate.policy import AccessRequest, Decision, Reason, credential_digest, decide

from . import clock_point
from .client import ServiceClient, enroll, format_time, tls_verify
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

DEFAULT_MAX_OFFLINE_AGE = timedelta(hours=72)


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
    failure: Any
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
    failure: Any = "card_error"
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


_CARD_ERROR_FAILURES = {"card_error", "io", "timeout", "removed", "mute", "malformed",
                        "communication", "multiple_cards", "transport"}


def _failure_reason(result: AuthResult, snap: Snapshot | None) -> Reason:
    if isinstance(result.failure, Reason):  # reader_agent.card_auth says why itself
        return result.failure
    failure = str(getattr(result.failure, "value", result.failure) or "").lower()
    ref = result.credential_ref
    if any(f in failure for f in _CARD_ERROR_FAILURES):
        return Reason.CARD_ERROR
    if "pin_tries" in failure or "tries_low" in failure:
        return Reason.PIN_TRIES_LOW
    if "pin" in failure and ("wrong" in failure or "verify" in failure):
        return Reason.PIN_WRONG
    if "unknown" in failure or (snap is not None and ref is not None
                                and ref not in snap.credentials):
        if snap is not None and ref is not None and credential_digest(ref) in set(
                snap.payload.get("other_refs", ())):
            return Reason.NO_PERMISSION  # enrolled, but not for this reader's door
        return Reason.UNKNOWN_CREDENTIAL
    return Reason.CARD_AUTH_FAILED


def _not_after_of(snap: Snapshot | None) -> Callable[[str], datetime | None]:
    """The enrolled expiry of a credential in ``snap`` (None: unknown or no expiry)."""
    def not_after(ref: str) -> datetime | None:
        cred = snap.credentials.get(ref) if snap is not None else None
        return cred.info.not_after if cred is not None else None

    return not_after


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
        if ctx.door is not None and ctx.door.info.assurance == "card+pin":
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
            return _Failed(failure="timeout", detail="card exchange timed out")
        except Exception as err:  # a driver bug must never crash the agent
            log.warning("agent.tap.card_exception reader=%s error=%s", self.config.reader_id,
                        type(err).__name__)
            return _Failed(failure="card_error", detail=type(err).__name__)

    # --- the tap path -------------------------------------------------------------------------
    def tap(self, authenticate: Authenticator, *, explicit: PunchKind | None = None) -> TapOutcome:
        """Process one card presentation end to end and return what happened."""
        device_now = self._device_clock()
        offset_ms = self._offset_ms()
        now = device_now + timedelta(milliseconds=offset_ms)
        snap = self.cache.current
        door = snap.doors.get(self.config.door_id) if snap is not None else None
        lookup: Callable[[str], bytes | None] = (
            snap.public_key_for if snap is not None else (lambda _ref: None))
        ctx = TapContext(door, self.config.reader_id, now, lookup, _not_after_of(snap))
        result = self._run_card(authenticate, ctx)

        ref = result.credential_ref
        auth_kind = str(getattr(result.kind, "value", result.kind)) if result.kind else None
        cred = snap.credentials.get(ref) if snap is not None and ref else None
        # Only an authenticated card names a staff member; a failed one is just what it claimed.
        staff_id = cred.info.staff_id if cred is not None and result.ok else None
        offline = not self._is_online()
        kind = "tap"
        data: dict[str, Any] = {"auth": auth_kind, "offline": offline,
                                "snapshot_version": snap.version if snap else None,
                                "reader": self.config.reader_id}
        if getattr(result, "apdus", 0):
            data["apdus"] = result.apdus  # type: ignore[attr-defined]
            data["transport_ms"] = getattr(result, "transport_ms", None)
            data["card_ms"] = getattr(result, "total_ms", None)

        if snap is None:
            decision = Decision.deny(Reason.NO_SNAPSHOT)
        elif door is None:
            # The snapshot does not list this reader's door: nothing may open it.
            decision = Decision.deny(Reason.NO_PERMISSION)
            data["door_unknown"] = True
        elif not result.ok:
            decision = Decision.deny(_failure_reason(result, snap))
            detail = getattr(result, "detail", None)
            if decision.reason is Reason.CARD_ERROR:
                kind = "card_error"
                data["error"] = str(detail or getattr(result.failure, "value", result.failure))
            else:
                data["failure"] = str(getattr(result.failure, "value", result.failure))
                if detail:
                    data["detail"] = str(detail)[:200]
        else:
            staff = snap.staff.get(cred.info.staff_id) if cred is not None else None
            decision = decide(AccessRequest(
                credential=cred.info if cred is not None else None,
                staff=staff,
                door=door.info,
                now=now,
                permissions=snap.permissions,
                schedules=snap.schedules,
                closed_days=snap.closed_days,
                pin_verified=auth_kind == "jpki_auth",
                tz=snap.tz,
                day_change=clock_point.day_change_of(snap.payload),
            ))
            age = self.cache.offline_age(snap, now)  # a clock set back does not rewind it
            fail_open = door.info.fail_open or door.info.id in self.config.fail_open_doors
            if age > self.config.max_offline_age:
                data["snapshot_age_s"] = int(age.total_seconds())
                if not fail_open:
                    decision = Decision.deny(Reason.SNAPSHOT_STALE)
                else:
                    data["fail_open"] = True

        event: dict[str, Any] = {
            "kind": kind,
            "occurred_at": format_time(device_now),
            "clock_offset_ms": offset_ms,
            "door_id": self.config.door_id,
            "credential_ref": ref,
            "staff_id": staff_id,
            "granted": decision.granted,
            "reason": decision.reason.value,
            "data": data,
        }
        events = [event]
        punch: Punch | None = None
        mode = door.info.mode if door is not None else "access"
        lang = self.config.language
        with self._lock:
            if decision.granted and mode in ("clock", "both") and staff_id is not None \
                    and snap is not None:
                punch = clock_point.classify(self.outbox, staff_id=staff_id, now=now,
                                             tz=snap.tz, explicit=explicit,
                                             day_change=clock_point.day_change_of(snap.payload))
                events.append({
                    "kind": "clock_punch",
                    "occurred_at": event["occurred_at"],
                    "clock_offset_ms": offset_ms,
                    "door_id": self.config.door_id,
                    "credential_ref": ref,
                    "staff_id": staff_id,
                    "granted": True,
                    "reason": decision.reason.value,
                    "data": {**clock_point.punch_event_data(punch), "offline": offline},
                })
            # Durable before anything opens or says OK.
            stored = self.outbox.append_many(
                events, punch=punch.state if punch is not None and
                punch.kind is not PunchKind.REPEAT else None)

        if decision.granted and mode in ("access", "both"):
            try:
                self.door_io.unlock(self.config.door_id, self.config.unlock_seconds)
            except Exception as err:  # the event is stored; report, never crash
                log.error("agent.door.unlock_failed door=%s error=%s", self.config.door_id,
                          type(err).__name__)
        signal = getattr(self.door_io, "signal", None)  # LED/buzzer (DoorController)
        if callable(signal):
            try:
                signal("granted" if decision.granted else
                       "error" if decision.reason is Reason.CARD_ERROR else "denied")
            except Exception as err:
                log.warning("agent.door.signal_failed error=%s", type(err).__name__)
        if punch is not None and snap is not None and staff_id is not None:
            text = clock_point.greeting(punch, snap.staff_names.get(staff_id, ""), snap.tz, lang)
        else:
            text = reason_text(decision.reason, lang)
        try:
            self.display.show(text, ok=decision.granted)
        except Exception as err:
            log.error("agent.display.failed error=%s", type(err).__name__)
        log.info("agent.tap.%s door=%s reason=%s seq=%s", "granted" if decision.granted
                 else "denied", self.config.door_id, decision.reason.value, stored[0]["seq"])
        return TapOutcome(self.config.door_id, decision.granted, decision.reason, text, stored,
                          ref, staff_id, punch, offline)


# A source of taps: waits up to ``timeout`` seconds for a card and returns the authenticator
# for it (the card exchange itself runs later, in the tap path's worker thread), or None.
TapSource = Callable[[float], Authenticator | None]


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
        self.watcher = SnapshotWatcher(self.client, self.cache, self.stop,
                                       connectivity=self.connectivity, wait_s=wait_s)
        self.taps = TapProcessor(config, self.cache, self.outbox, door_io=door_io,
                                 display=display, device_clock=self.client.device_now,
                                 clock_offset_ms=lambda: self.client.clock_offset_ms,
                                 is_online=self.connectivity.online)
        self._started = False
        if self.cache.rolled_back is not None:  # an older snapshot.json was put back
            mark = self.cache.rolled_back
            self.record("alarm", data={"alarm": Alarm.SNAPSHOT_ROLLBACK,
                                       "accepted_version": mark.version})

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
