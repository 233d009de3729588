"""The snapshot journal: a delta is appended to ``snapshot.journal`` instead of rewriting
``snapshot.json``, and an agent that crashes at any step restarts on a consistent, verified
snapshot that is never older than the one it had accepted."""

from __future__ import annotations

import errno
import json
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from reader_agent import snapshot_cache
from reader_agent.snapshot_cache import JOURNAL_SUFFIX, SnapshotCache, _Journal
from reader_agent.snapshot_state import SnapshotState

from .helpers import DEVICE_ID, cred, payload, signed

NOW = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()
REFS = ["aa" * 16, "bb" * 16, "cc" * 16]


class Crash(Exception):
    """The process dies here (nothing after this step runs)."""


def _full() -> dict[str, Any]:
    return signed(payload(version=1, issued_at=NOW, credentials=[cred(r) for r in REFS]), KEY)


def _revoke(version: int, ref: str) -> dict[str, Any]:
    """A compact delta from ``version - 1`` revoking ``ref``."""
    p = payload(version=version, since=version - 1, issued_at=NOW + timedelta(minutes=version),
                credentials=[cred(ref, "revoked")])
    return signed({**p, "compact": True, "staff": [], "staff_removed": [],
                   "credentials_removed": [], "other_refs_added": [],
                   "other_refs_removed": []}, KEY)


def _cache(tmp_path: Path) -> SnapshotCache:
    """A cache as a (re)started agent opens it: its own state read from disk."""
    return SnapshotCache(tmp_path / "snapshot.json", KEY.public_key(), DEVICE_ID)


def _reloaded(tmp_path: Path, version: int) -> SnapshotCache:
    """The cache of an agent started again over the same files, loaded at ``version``."""
    cache = _cache(tmp_path)
    assert cache.load() is not None and cache.version == version
    return cache


def _statuses(cache: SnapshotCache) -> list[str]:
    snap = cache.current
    assert snap is not None
    return [snap.index.credential(r).status.value for r in REFS]  # type: ignore[union-attr]


def test_a_delta_is_appended_and_the_snapshot_file_left_alone(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    cache.apply(_full())
    file = tmp_path / "snapshot.json"
    before = (file.read_bytes(), file.stat().st_ino)
    cache.apply(_revoke(2, REFS[0]))
    assert (file.read_bytes(), file.stat().st_ino) == before
    journal = file.with_suffix(JOURNAL_SUFFIX).read_bytes().splitlines()
    assert len(journal) == 2 and json.loads(journal[1])["payload"]["version"] == 2
    restarted = _reloaded(tmp_path, 2)
    assert _statuses(restarted) == ["revoked", "active", "active"]


def test_a_crash_during_an_append_restarts_on_the_version_before(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    cache = _cache(tmp_path)
    cache.apply(_full())
    cache.apply(_revoke(2, REFS[0]))

    def torn(self: _Journal, doc: dict[str, Any]) -> None:
        with self.path.open("ab") as f:  # half the line reaches the disk, then the crash
            f.write(json.dumps(doc).encode()[:100])
        raise Crash

    with monkeypatch.context() as m:
        m.setattr(_Journal, "append", torn)
        with pytest.raises(Crash):
            cache.apply(_revoke(3, REFS[1]))
    restarted = _cache(tmp_path)
    with caplog.at_level(logging.WARNING):
        assert restarted.load() is not None
    assert "snapshot.journal.torn" in caplog.text
    assert restarted.version == 2 and _statuses(restarted) == ["revoked", "active", "active"]
    # The torn bytes are gone: the delta fetched again is appended on a line of its own.
    restarted.apply(_revoke(3, REFS[1]))
    again = _reloaded(tmp_path, 3)
    assert _statuses(again) == ["revoked", "revoked", "active"]


def test_a_crash_after_the_append_before_the_mark_keeps_the_delta(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = _cache(tmp_path)
    cache.apply(_full())
    with monkeypatch.context() as m:
        m.setattr(SnapshotState, "accept", lambda *_: (_ for _ in ()).throw(Crash()))
        with pytest.raises(Crash):
            cache.apply(_revoke(2, REFS[0]))
    restarted = _reloaded(tmp_path, 2)
    mark = restarted.state.mark
    assert mark is not None and mark.version == 2  # raised on load
    assert _statuses(restarted) == ["revoked", "active", "active"]


def test_a_crash_while_the_file_is_rewritten_loses_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot_cache, "JOURNAL_MAX", 2)
    cache = _cache(tmp_path)
    cache.apply(_full())
    cache.apply(_revoke(2, REFS[0]))
    with monkeypatch.context() as m:  # snapshot.json written anew, then the crash
        m.setattr(_Journal, "start", lambda *_: (_ for _ in ()).throw(Crash()))
        with pytest.raises(Crash):
            cache.apply(_revoke(3, REFS[1]))  # the second append: the file is rewritten
    restarted = _reloaded(tmp_path, 3)  # the old journal names the old file: ignored
    assert _statuses(restarted) == ["revoked", "revoked", "active"]
    restarted.apply(_revoke(4, REFS[2]))  # no journal for this file yet: written whole again
    again = _reloaded(tmp_path, 4)
    assert _statuses(again) == ["revoked", "revoked", "revoked"]


def test_the_journal_is_folded_into_the_file_and_restarted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot_cache, "JOURNAL_MAX", 2)
    cache = _cache(tmp_path)
    cache.apply(_full())
    for version, ref in zip((2, 3, 4), REFS, strict=True):
        cache.apply(_revoke(version, ref))
    file = tmp_path / "snapshot.json"
    assert len(json.loads(file.read_bytes())["docs"]) == 3  # full + versions 2 and 3
    assert len(file.with_suffix(JOURNAL_SUFFIX).read_bytes().splitlines()) == 2  # + version 4
    restarted = _reloaded(tmp_path, 4)
    assert _statuses(restarted) == _statuses(cache) == ["revoked"] * 3


def test_an_edited_journal_is_refused(tmp_path: Path,
                                      caplog: pytest.LogCaptureFixture) -> None:
    cache = _cache(tmp_path)
    cache.apply(_full())
    cache.apply(_revoke(2, REFS[0]))
    journal = (tmp_path / "snapshot.json").with_suffix(JOURNAL_SUFFIX)
    journal.write_bytes(journal.read_bytes().replace(b'"revoked"', b'"active"'))
    restarted = _cache(tmp_path)
    with caplog.at_level(logging.ERROR):
        assert restarted.load() is None
    assert "snapshot.cache.rejected" in caplog.text and restarted.current is None


def test_a_removed_journal_is_a_rollback(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    cache.apply(_full())
    cache.apply(_revoke(2, REFS[0]))
    (tmp_path / "snapshot.json").with_suffix(JOURNAL_SUFFIX).unlink()
    restarted = _cache(tmp_path)
    assert restarted.load() is None  # version 1 only, older than the version 2 accepted
    assert restarted.rolled_back is not None and restarted.rolled_back.version == 2


def test_a_full_disk_during_an_append_leaves_no_torn_line_behind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = _cache(tmp_path)
    cache.apply(_full())
    real_write = os.write

    def full_disk(fd: int, data: Any) -> int:
        real_write(fd, bytes(data[:50]))  # part of the line fits, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(snapshot_cache.os, "write", full_disk)
        with pytest.raises(OSError):
            cache.apply(_revoke(2, REFS[0]))
    assert cache.version == 1  # not accepted
    journal = (tmp_path / "snapshot.json").with_suffix(JOURNAL_SUFFIX)
    assert len(journal.read_bytes().splitlines()) == 1  # the part written is cut off again
    cache.apply(_revoke(2, REFS[0]))  # space again: the next delta is taken
    restarted = _reloaded(tmp_path, 2)
    assert _statuses(restarted) == ["revoked", "active", "active"]
