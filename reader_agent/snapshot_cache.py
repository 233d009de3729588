"""The signed decision snapshot, cached on disk and verified on every load.

The files hold only documents exactly as the service signed them: the last full snapshot and
the deltas since. ``snapshot.json`` holds the full snapshot and the deltas kept when it was last
written; each delta applied since is appended to ``snapshot.journal`` beside it (one document
per line, fsync'd), so a delta costs an append of a few kilobytes, not a rewrite of the whole
file (6.4 MB for 20,000 staff). The journal's first line names the ``snapshot.json`` it
extends (a random token written in both); a journal naming another is ignored. Once the
journal holds ``JOURNAL_MAX`` documents, or with a full snapshot, ``snapshot.json`` is written
again (atomically) and a new journal started; a crash between the two leaves a journal naming
the old file, which is ignored, the new file already holding everything. A torn last line (a
crash during an append) is dropped on load: that delta was never accepted. Every load verifies each signature with the service's public key (from
enrollment) and re-merges the deltas (credentials by ``ref``; the other lists are complete in
every document, so the newest one wins). Nothing the agent computed itself is trusted from
disk, so an edited file is refused: the agent logs ``snapshot.cache.rejected``, keeps the
snapshot it already holds in memory, and with none it denies every tap (``no_snapshot``).

Snapshots only move forward: the newest version and ``issued_at`` accepted are kept in a
separate state file (:mod:`reader_agent.snapshot_state`), and an older document, from the
network or on disk, is refused (``rollback``), however genuinely it is signed. The offline age
is measured with the state's time floor, which a clock set back does not rewind.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import json
import logging
import os
import pickle
import secrets
import threading
import zlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gate.access_index import AccessIndex, AccessIndexBuilder
from gate.door import Assurance, DoorMode
from gate.policy import CredentialStatus, Decision, DoorInfo, Schedule, TimeWindow
from gate.signing import SignatureError, verify_document

from .clock_point import day_change_of
from .keys import atomic_write
from .memory import release_free_memory
from .snapshot_state import STATE_FILE, HighWater, SnapshotState

log = logging.getLogger(__name__)

MAX_DELTAS = 50
JOURNAL_SUFFIX = ".journal"
JOURNAL_MAX = 32  # documents appended before snapshot.json is written again
# Settling after a load (see ``_settle``) pays off only for a large snapshot: a small one pins
# no arena worth a full collection, which costs a process with a large heap (a test run)
# a quarter of a second per load.
SETTLE_BYTES = 1024 * 1024


class SnapshotError(ValueError):
    """A snapshot document is unsigned, mis-signed, for another device, or out of order.

    Hierarchy::

        SnapshotError
         └── SnapshotRollback   older than the newest snapshot already accepted
    """


class SnapshotRollback(SnapshotError):
    """The snapshot is older (version or ``issued_at``) than one the agent already accepted."""


@dataclass(frozen=True)
class DoorView:
    info: DoorInfo
    code: str
    name: str
    show_overtime: bool = True  # a clock point shows the month's overtime on 退勤


@dataclass(frozen=True)
class OvertimeFigures:
    """The month's overtime so far against each person's cap, as of the snapshot (the 退勤
    line 「今月の時間外 32:15 / 45:00」). Staff not in ``staff`` have ``default``."""

    month: tuple[int, int]
    default: tuple[int, int]
    staff: dict[int, tuple[int, int]]

    def of(self, staff_id: int, day: date) -> tuple[int, int] | None:
        """(minutes, cap) for the business day's month; None for another month (a snapshot
        from before the month changed knows nothing of the new month)."""
        if (day.year, day.month) != self.month:
            return None
        return self.staff.get(staff_id, self.default)


def _overtime(raw: Any) -> OvertimeFigures | None:
    if raw is None:
        return None
    y, m = (int(x) for x in str(raw["month"]).split("-"))
    d = raw["default"]
    return OvertimeFigures((y, m), (int(d[0]), int(d[1])),
                           {int(e[0]): (int(e[1]), int(e[2])) for e in raw.get("staff", [])})


@dataclass(frozen=True)
class Snapshot:
    """The merged, verified decision data of this device (staff and credentials compact in
    ``index``: no Python object per staff member)."""

    device_id: str
    version: int
    issued_at: datetime
    doors: dict[int, DoorView]
    index: AccessIndex
    # Digests of the credentials enrolled for other readers (gate.policy.credential_digest).
    other_refs: frozenset[str] = frozenset()
    overtime: OvertimeFigures | None = None

    @property
    def tz(self) -> ZoneInfo:
        return self.index.tz

    @property
    def day_change(self) -> time:
        return self.index.day_change

    def public_key_for(self, ref: str) -> bytes | None:
        return self.index.public_key(ref)

    def not_after_of(self, ref: str) -> datetime | None:
        cred = self.index.credential(ref)
        return None if cred is None else cred.not_after

    def staff_of(self, ref: str) -> int | None:
        cred = self.index.credential(ref)
        return None if cred is None else cred.staff_id

    def staff_name(self, staff_id: int) -> str:
        return self.index.staff_name(staff_id)

    def decide(self, ref: str | None, door: DoorView, now: datetime, *,
               pin_verified: bool) -> Decision:
        """gate.policy's decision for the credential ``ref`` at ``door``."""
        return self.index.decide(ref, door.info, now, pin_verified=pin_verified)


def _parse_dt(s: str | None) -> datetime | None:
    if not s:
        return None
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


# What a compact delta (``"compact": true``) changes besides the complete lists it replaces.
_COMPACT_KEYS = {"credentials_removed", "staff_removed", "other_refs_added",
                 "other_refs_removed"}


def _merge_compact(merged: dict[str, Any], staff: dict[int, dict[str, Any]],
                   others: set[str], p: dict[str, Any]) -> None:
    for s in p.get("staff", []):
        staff[int(s["id"])] = s
    for i in p.get("staff_removed", []):
        staff.pop(int(i), None)
    others |= set(p.get("other_refs_added", []))
    others -= set(p.get("other_refs_removed", []))
    for key, value in p.items():
        if key not in {"credentials", "full", "since", "compact", "staff", *_COMPACT_KEYS}:
            merged[key] = value


def merge_payloads(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge a full payload and the deltas after it into one payload (no verification).

    Credentials merge by ``ref``. A compact delta also merges staff by ``id`` and
    ``other_refs`` as a set, with the removals it names; in any other delta every list but
    ``credentials`` is complete and replaces the one before."""
    if not payloads or not payloads[0].get("full"):
        raise SnapshotError("the first snapshot document must be full")
    merged = dict(payloads[0])
    creds = {c["ref"]: c for c in payloads[0].get("credentials", [])}
    staff = {int(s["id"]): s for s in payloads[0].get("staff", [])}
    others = set(payloads[0].get("other_refs", []))
    for p in payloads[1:]:
        if p.get("full"):
            raise SnapshotError("a full snapshot after the first document")
        since = int(p.get("since") if p.get("since") is not None else -1)
        if since < 0 or since > int(merged["version"]):
            raise SnapshotError(
                f"delta since {since} does not follow version {merged['version']}")
        if int(p["version"]) < int(merged["version"]):
            raise SnapshotError("delta goes backwards")
        for c in p.get("credentials", []):
            creds[c["ref"]] = c
        for ref in p.get("credentials_removed", []):
            creds.pop(ref, None)
        if p.get("compact"):
            _merge_compact(merged, staff, others, p)
            continue
        staff = {int(s["id"]): s for s in p.get("staff", [])}
        others = set(p.get("other_refs", []))
        for key, value in p.items():
            if key not in {"credentials", "full", "since"}:
                merged[key] = value
    merged["credentials"] = list(creds.values())
    merged["staff"] = [staff[i] for i in sorted(staff)]
    merged["other_refs"] = sorted(others)
    return merged


def needed_later(payload: dict[str, Any], before: int | None) -> bool:
    """Whether a delta applied over version ``before`` must stay in the file once a later
    document follows: when it changes something, or when it moved the version on (the next
    delta starts from its version, and the chain of versions must not break)."""
    return carries_changes(payload) or before is None or int(payload["version"]) > int(before)


def carries_changes(payload: dict[str, Any]) -> bool:
    """Whether a delta changes anything a later delta does not repeat: its credentials (and
    for a compact delta its staff and removals); the complete lists are in every document."""
    keys = ("credentials", "staff", *_COMPACT_KEYS) if payload.get("compact") else (
        "credentials",)
    return any(payload.get(k) for k in keys)


def _rows(payload: dict[str, Any]) -> AccessIndexBuilder:
    rows = AccessIndexBuilder()
    for c in payload.get("credentials", []):
        rows.credential(str(c["ref"]), int(c["staff_id"]), str(c["kind"]),
                        CredentialStatus(c["status"]), _parse_dt(c.get("not_after")),
                        base64.b64decode(c.get("public_key") or ""))
    for s in payload.get("staff", []):
        rows.staff(int(s["id"]), date.fromisoformat(s["active_from"]),
                   date.fromisoformat(s["active_until"]) if s.get("active_until") else None,
                   (int(g) for g in s.get("group_ids", [])), str(s.get("display_name", "")))
    for p in payload.get("permissions", []):
        rows.permission(int(p["group_id"]), int(p["door_id"]), int(p["schedule_id"]))
    return rows


def _door(d: dict[str, Any]) -> DoorView:
    return DoorView(DoorInfo(int(d["id"]), DoorMode(d.get("mode", DoorMode.ACCESS)),
                             Assurance(d.get("assurance", Assurance.CARD)),
                             bool(d.get("lockdown", False)), bool(d.get("fail_open", False))),
                    str(d.get("code", "")), str(d.get("name", "")),
                    bool(d.get("show_overtime", True)))


class _NoPatch(Exception):
    """A compact delta that cannot be written over the current index (see ``patched``)."""


def build_snapshot(payload: dict[str, Any], base: AccessIndex | None = None) -> Snapshot:
    """The snapshot of a merged ``payload``; with ``base``, of a compact delta written over
    that index (raises ``_NoPatch`` when it does not fit)."""
    try:
        doors = {int(d["id"]): _door(d) for d in payload.get("doors", [])}
        schedules = {
            int(s["id"]): Schedule(
                int(s["id"]),
                tuple(TimeWindow(int(w["weekday"]), int(w["start_minute"]), int(w["end_minute"]))
                      for w in s.get("windows", [])),
                bool(s.get("allow_closed_days", False)))
            for s in payload.get("schedules", [])
        }
        issued = _parse_dt(payload.get("issued_at"))
        if issued is None:
            raise SnapshotError("snapshot has no issued_at")
        rows = _rows(payload)
        frame = {"schedules": schedules,
                 "closed_days": frozenset(date.fromisoformat(d)
                                          for d in payload.get("closed_days", [])),
                 "tz": ZoneInfo(str(payload.get("timezone") or "Asia/Tokyo")),
                 "day_change": day_change_of(payload)}
        index = rows.build(**frame) if base is None else base.patched(rows, **frame)
        if index is None:
            raise _NoPatch
        return Snapshot(str(payload["device_id"]), int(payload["version"]), issued, doors, index,
                        frozenset(str(d) for d in payload.get("other_refs", ())),
                        _overtime(payload.get("overtime")))
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, SnapshotError):
            raise
        raise SnapshotError(f"malformed snapshot payload: {err!r}") from err


def _patch(current: Snapshot | None, payload: dict[str, Any]) -> Snapshot | None:
    """``current`` with a compact delta that follows it written over its rows in memory (the
    delta's signature already verified); None when it must be merged and rebuilt instead:
    not compact, not from the current version, or it adds or removes a person or card."""
    if (current is None or not payload.get("compact") or payload.get("since") != current.version
            or payload.get("staff_removed") or payload.get("credentials_removed")):
        return None
    others = (current.other_refs | set(payload.get("other_refs_added", []))) - set(
        payload.get("other_refs_removed", []))
    try:
        return build_snapshot({**payload, "other_refs": others}, current.index)
    except _NoPatch:
        return None


def _line(doc: dict[str, Any]) -> bytes:
    """One document as a line of compact JSON (JSON escapes every newline in a string)."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def _compact(doc: dict[str, Any]) -> bytes:
    return zlib.compress(_line(doc), 1)


class _Journal:
    """``snapshot.journal``: the deltas applied since ``snapshot.json`` was written, one signed
    document per line after a header line naming that file's token (see the module)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.token: str | None = None  # of the snapshot.json this journal extends
        self.count = 0  # documents in it

    def start(self, token: str) -> None:
        """A new, empty journal for the snapshot.json with ``token`` (written atomically)."""
        atomic_write(self.path, _line({"journal": token}) + b"\n")
        self.token, self.count = token, 0

    def append(self, doc: dict[str, Any]) -> None:
        """Append one document and fsync: durable before the agent accepts it. A failed
        append (a full disk) is cut off again, and the next document rewrites both files
        instead of appending after what may remain of it."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
        try:
            start = os.lseek(fd, 0, os.SEEK_END)
            try:
                view = memoryview(_line(doc) + b"\n")
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            except OSError:
                self.token = None
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                raise
        finally:
            os.close(fd)
        self.count += 1

    def read(self, token: str | None) -> list[dict[str, Any]]:
        """The documents of a journal that extends the snapshot.json with ``token`` (none for
        another or no journal). A torn last line, from a crash during an append, is cut off
        the file, so the next append starts on a line of its own."""
        self.token, self.count = None, 0
        if token is None or not self.path.exists():
            return []
        raw = self.path.read_bytes()
        lines = raw.split(b"\n")
        if json.loads(lines[0]) != {"journal": token}:
            log.warning("snapshot.journal.ignored path=%s reason=another snapshot file",
                        self.path)
            return []
        whole = raw.rfind(b"\n") + 1  # bytes up to the last complete line
        if whole < len(raw):
            log.warning("snapshot.journal.torn path=%s dropped_bytes=%d", self.path,
                        len(raw) - whole)
            os.truncate(self.path, whole)
        docs = [json.loads(line) for line in lines[1:-1]]
        self.token, self.count = token, len(docs)
        return docs


class SnapshotCache:
    """The on-disk cache of signed snapshot documents plus the verified in-memory snapshot."""

    def __init__(self, path: Path, service_key: Ed25519PublicKey, device_id: str, *,
                 state: SnapshotState | None = None) -> None:
        self.path = path
        self._key = service_key
        self._device_id = device_id
        self._lock = threading.Lock()
        # The signed documents as compressed JSON, not parsed: a parsed 20,000-staff document
        # holds tens of megabytes of dicts for the life of the agent (only apply reads them).
        self._docs: list[bytes] = []
        self._keep: list[bool] = []  # per document: still needed once a later one follows
        self._journal = _Journal(path.with_suffix(JOURNAL_SUFFIX))
        self.current: Snapshot | None = None
        self.state = state or SnapshotState(path.with_name(STATE_FILE))
        #: The mark a snapshot file on disk was older than (set by ``load``), for an alarm.
        self.rolled_back: HighWater | None = None

    @property
    def version(self) -> int | None:
        snap = self.current
        return None if snap is None else snap.version

    @property
    def delta_count(self) -> int:
        return max(0, len(self._docs) - 1)

    def now(self, wall: datetime) -> datetime:
        """The agent's time: ``wall``, or the time floor when the clock went back."""
        return self.state.now(wall)

    def tick(self, wall: datetime) -> datetime:
        """:meth:`now`, also saving the time floor from time to time (the heartbeat calls it)."""
        return self.state.tick(wall)

    def offline_age(self, snap: Snapshot, wall: datetime) -> timedelta:
        """How old ``snap`` is at ``wall``, by the clock that never runs backwards."""
        return self.now(wall) - snap.issued_at

    def _refuse_older(self, snap: Snapshot) -> None:
        if self.state.refuses(snap.version, snap.issued_at):
            mark = self.state.mark
            raise SnapshotRollback(
                f"rollback: version {snap.version} issued at {snap.issued_at.isoformat()} is "
                f"older than the accepted version {mark.version if mark else None} issued at "
                f"{mark.issued_at.isoformat() if mark else None}")

    def _verify(self, docs: list[dict[str, Any]]) -> Snapshot:
        payloads = []
        for doc in docs:
            try:
                payload = verify_document(doc, self._key)
            except SignatureError as err:
                raise SnapshotError(str(err)) from err
            if not isinstance(payload, dict):
                raise SnapshotError("snapshot payload is not an object")
            if str(payload.get("device_id")) != self._device_id:
                raise SnapshotError("snapshot is for another device")
            payloads.append(payload)
        return build_snapshot(merge_payloads(payloads))

    def load(self) -> Snapshot | None:
        """Read and verify the file. On failure log, keep the current snapshot, return None.

        The agent loads at start, before any tap or background thread reads ``current``."""
        # No local may hold the loaded snapshot while it is settled: it could not be freed.
        if self._load() is None:
            snap = None
        elif self._file_bytes() >= SETTLE_BYTES:
            snap = self._settle()
        else:
            snap = self.current
        if snap is not None:
            snap.index.prepare()
        release_free_memory()  # the parsed file and the lookups' scratch are garbage now
        return snap

    def _file_bytes(self) -> int:
        return sum(p.stat().st_size for p in (self.path, self._journal.path) if p.exists())

    def _settle(self) -> Snapshot | None:
        """The current snapshot and the kept documents, made again once the parsed file is
        garbage.

        Their small objects (doors, schedules, array headers, lists) were made among the
        file's millions of parsed ones, and CPython's small-object allocator gives an arena
        (1 MiB) back only when all of it is free: a few hundred of them pinned about 2 MB of
        freed memory. So they are serialized (our own objects of a moment ago, nothing read
        from outside), dropped, and made again among the memory that stays. The full
        collection also empties the interpreter's free lists of tuples, lists and dicts,
        which the parse filled."""
        with self._lock:
            frozen = pickle.dumps((self.current, self._docs, self._keep),
                                  pickle.HIGHEST_PROTOCOL)
            self.current, self._docs, self._keep = None, [], []
            gc.collect()
            self.current, self._docs, self._keep = pickle.loads(frozen)  # noqa: S301
            return self.current

    def _load(self) -> Snapshot | None:
        with self._lock:
            if not self.path.exists():
                return None
            try:
                raw = json.loads(self.path.read_bytes())
                docs = raw["docs"] if isinstance(raw, dict) else None
                if not isinstance(docs, list):
                    raise SnapshotError("not a snapshot cache file")
                token = raw.get("journal")
                docs = docs + self._journal.read(token if isinstance(token, str) else None)
                snap = self._verify(docs)
                self._refuse_older(snap)
            except (SnapshotError, ValueError, KeyError, TypeError) as err:
                log.error("snapshot.cache.rejected path=%s reason=%s kept_version=%s",
                          self.path, err, self.version)
                if isinstance(err, SnapshotRollback):
                    self.rolled_back = self.state.mark
                return None
            mark = self.state.mark
            if mark is None or (snap.version, snap.issued_at) > (mark.version, mark.issued_at):
                # First start with this guard, or a crash between the two writes of apply.
                self.state.accept(snap.version, snap.issued_at)
            self._docs = [_compact(d) for d in docs]
            self._keep = [i == 0 or needed_later(d["payload"], docs[i - 1]["payload"]["version"])
                          for i, d in enumerate(docs)]
            self.current = snap
            log.info("snapshot.cache.loaded version=%d", snap.version)
            return snap

    def apply(self, doc: dict[str, Any]) -> Snapshot:
        """Verify a document from the service, merge it, persist it, and make it current."""
        with self._lock:
            try:
                payload = verify_document(doc, self._key)
            except SignatureError as err:
                log.error("snapshot.fetch.rejected reason=%s", err)
                raise SnapshotError(str(err)) from err
            if not isinstance(payload, dict):
                raise SnapshotError("snapshot payload is not an object")
            if str(payload.get("device_id")) != self._device_id:
                raise SnapshotError("snapshot is for another device")
            # A compact delta after the current version: written over the verified snapshot in
            # memory; the others are merged with the documents kept and verified again.
            snap = _patch(self.current, payload)
            if snap is None:
                docs = self._merged_docs(doc, payload)
                snap = self._verify(docs)
            try:
                self._refuse_older(snap)
            except SnapshotRollback as err:
                log.error("snapshot.fetch.rejected reason=%s", err)
                raise
            kept: list[tuple[bytes, bool]] = [] if payload.get("full") else [
                (d, keep) for d, keep in zip(self._docs, self._keep, strict=True) if keep]
            kept.append((_compact(doc), not payload.get("full") and needed_later(
                payload, self.current.version if self.current is not None else None)))
            kept[0] = (kept[0][0], True)  # the full snapshot
            # The snapshot first: a crash between the two writes leaves a file newer than the
            # mark (raised on the next load), never a mark that refuses the file.
            if payload.get("full") or self._journal.token is None:
                self._write(kept)
            else:
                self._journal.append(doc)
            self.state.accept(snap.version, snap.issued_at)
            self._docs, self._keep = [d for d, _ in kept], [k for _, k in kept]
            self.current = snap
            if self._journal.count >= JOURNAL_MAX:  # after the swap: the new version is held
                self._write(kept)
            return snap

    def _write(self, kept: list[tuple[bytes, bool]]) -> None:
        """snapshot.json with the documents kept, under a new token, then a new journal for
        it (a crash between leaves the old journal, which names the old token: ignored)."""
        token = secrets.token_hex(8)
        atomic_write(self.path, b'{"format":1,"journal":"' + token.encode() + b'","docs":['
                     + b",".join(zlib.decompress(d) for d, _ in kept) + b"]}")
        self._journal.start(token)

    def _merged_docs(self, doc: dict[str, Any], payload: dict[str, Any]) -> list[dict[str, Any]]:
        if payload.get("full"):
            return [doc]
        if not self._docs:
            raise SnapshotError("a delta without a full snapshot")
        # Deltas that changed nothing are superseded by any later document.
        return [json.loads(zlib.decompress(d))
                for d, keep in zip(self._docs, self._keep, strict=True) if keep] + [doc]
