"""Compact deltas on the agent: written over the snapshot in memory when they fit, merged and
rebuilt when they do not, and always the same snapshot a restart verifies from the file."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from reader_agent.snapshot_cache import Snapshot, SnapshotCache

from .helpers import DEVICE_ID, cred, payload, signed

NOW = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()
STAFF = range(1, 6)
REFS = [f"{i:032x}" for i in STAFF]
STATUSES = ["active", "revoked", "suspended"]


def _person(i: int, until: str | None = None, groups: list[int] | None = None,
            name: str = "山田") -> dict[str, Any]:
    return {"id": i, "display_name": name, "active_from": "2020-04-01", "active_until": until,
            "group_ids": [1] if groups is None else groups}


def _full() -> dict[str, Any]:
    p = payload(issued_at=NOW, credentials=[cred(r, staff_id=i) for i, r in zip(STAFF, REFS,
                                                                                 strict=True)])
    return {**p, "staff": [_person(i) for i in STAFF], "other_refs": ["00" * 8],
            "permissions": [{"group_id": g, "door_id": 1, "schedule_id": 1} for g in (1, 2)]}


def _delta(since: int, **changes: Any) -> dict[str, Any]:
    base = payload(version=since + 1, since=since, issued_at=NOW + timedelta(seconds=since),
                   credentials=[])
    return {**base, "compact": True, "staff": [], "staff_removed": [], "credentials_removed": [],
            "other_refs_added": [], "other_refs_removed": [],
            "permissions": [{"group_id": g, "door_id": 1, "schedule_id": 1} for g in (1, 2)],
            **changes}


def _decisions(snap: Snapshot) -> list[Any]:
    door = snap.doors[1]
    at = [NOW, NOW + timedelta(days=400)]
    return [(ref, t, snap.decide(ref, door, t, pin_verified=False), snap.staff_of(ref),
             snap.staff_name(i)) for ref, i in zip([*REFS, "ff" * 16], [*STAFF, 9], strict=True)
            for t in at] + [sorted(snap.other_refs), snap.version]


def _cache(path: Path) -> SnapshotCache:
    return SnapshotCache(path, KEY.public_key(), DEVICE_ID)


change = st.fixed_dictionaries({
    "credentials": st.lists(st.builds(lambda i, s: cred(REFS[i - 1], s, staff_id=i),
                                      st.sampled_from(STAFF), st.sampled_from(STATUSES)),
                            max_size=3, unique_by=lambda c: c["ref"]),
    "staff": st.lists(st.builds(_person, st.sampled_from(STAFF),
                                st.sampled_from([None, "2026-12-31", "2020-05-01"]),
                                st.sampled_from([[1], [2], [1, 2], []]),
                                st.sampled_from(["山田", "佐藤", "長谷川"])),
                      max_size=3, unique_by=lambda s: s["id"]),
    "staff_removed": st.lists(st.sampled_from(STAFF), max_size=1),
    "other_refs_added": st.lists(st.sampled_from(["11" * 8, "22" * 8]), max_size=2),
    "other_refs_removed": st.lists(st.sampled_from(["00" * 8, "11" * 8]), max_size=1)})


@settings(max_examples=60, deadline=None)
@given(st.lists(change, min_size=1, max_size=4))
def test_applied_in_memory_equals_verified_from_the_file(changes: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "snapshot.json"
        cache = _cache(path)
        cache.apply(signed(_full(), KEY))
        for i, c in enumerate(changes):
            removed = [s for s in c["staff_removed"] if s not in {p["id"] for p in c["staff"]}]
            cache.apply(signed(_delta(1 + i, **{**c, "staff_removed": removed}), KEY))
        snap = cache.current
        again = _cache(path).load()  # every document verified and merged again
        assert snap is not None and again is not None
        assert _decisions(snap) == _decisions(again)


def test_a_revocation_is_written_over_the_snapshot_without_a_rebuild(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = _cache(tmp_path / "snapshot.json")
    cache.apply(signed(_full(), KEY))
    monkeypatch.setattr(SnapshotCache, "_verify", lambda *_: pytest.fail("rebuilt"))
    snap = cache.apply(signed(_delta(1, credentials=[cred(REFS[0], "revoked", staff_id=1)]),
                              KEY))
    assert snap.version == 2 and not snap.decide(REFS[0], snap.doors[1], NOW,
                                                 pin_verified=False).granted
    assert snap.decide(REFS[1], snap.doors[1], NOW, pin_verified=False).granted


def test_a_delta_that_does_not_follow_the_current_version_is_merged(tmp_path: Path) -> None:
    cache = _cache(tmp_path / "snapshot.json")
    cache.apply(signed(_full(), KEY))
    # From version 0: not the version held, so merged (and checked) with the documents kept.
    snap = cache.apply(signed(_delta(0, credentials=[cred(REFS[0], "revoked", staff_id=1)],
                                     version=2), KEY))
    assert snap.version == 2 and snap.index.credential(REFS[0]).status.value == "revoked"


def test_a_delta_that_only_moves_the_version_stays_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    cache = _cache(path)
    cache.apply(signed(_full(), KEY))
    cache.apply(signed(_delta(1), KEY))  # version 2, nothing for this device
    cache.apply(signed(_delta(2, credentials=[cred(REFS[0], "revoked", staff_id=1)]), KEY))
    cache.apply(signed(_delta(3, version=3), KEY))  # the same version again: superseded
    cache.apply(signed(_delta(3, version=3), KEY))
    again = _cache(path).load()  # the versions still chain 1 → 2 → 3
    assert again is not None and again.version == 3 and cache.delta_count == 3
    assert again.index.credential(REFS[0]).status.value == "revoked"
