"""The snapshot cache: verified on every load, tampering refused, deltas merged by ref."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.policy import CredentialStatus, Reason
from reader_agent import snapshot_cache
from reader_agent.agent import AgentConfig, TapProcessor
from reader_agent.outbox import Outbox
from reader_agent.snapshot_cache import SnapshotCache, SnapshotError

from .helpers import DEVICE_ID, cred, fake_card, payload, signed

NOW = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
REF = "aa" * 16


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def cache_at(path: Path, key: Ed25519PrivateKey) -> SnapshotCache:
    return SnapshotCache(path, key.public_key(), DEVICE_ID)


def processor(cache: SnapshotCache, tmp_path: Path) -> TapProcessor:
    return TapProcessor(AgentConfig("sim:t", 1), cache, Outbox(tmp_path / "outbox.sqlite3"),
                        device_clock=lambda: NOW)


def test_apply_persists_and_reload_verifies(tmp_path: Path, key: Ed25519PrivateKey):
    c = cache_at(tmp_path / "snapshot.json", key)
    c.apply(signed(payload(issued_at=NOW), key))
    fresh = cache_at(tmp_path / "snapshot.json", key)
    snap = fresh.load()
    assert snap is not None and snap.version == 1
    assert snap.index.credential(REF).status is CredentialStatus.ACTIVE


def test_delta_merges_credentials_by_ref(tmp_path: Path, key: Ed25519PrivateKey):
    c = cache_at(tmp_path / "snapshot.json", key)
    c.apply(signed(payload(issued_at=NOW, credentials=[cred(REF), cred("bb" * 16)]), key))
    c.apply(signed(payload(version=2, since=1, issued_at=NOW,
                           credentials=[cred(REF, "revoked")]), key))
    for snap in (c.current, cache_at(tmp_path / "snapshot.json", key).load()):
        assert snap is not None and snap.version == 2
        assert snap.index.credential(REF).status is CredentialStatus.REVOKED
        assert snap.index.credential("bb" * 16).status is CredentialStatus.ACTIVE
    # An empty delta (nothing changed) refreshes issued_at and is not piled up.
    c.apply(signed(payload(version=2, since=2, issued_at=NOW, credentials=[]), key))
    c.apply(signed(payload(version=2, since=2, issued_at=NOW, credentials=[]), key))
    assert c.delta_count == 2


def test_delta_that_skips_versions_is_refused(tmp_path: Path, key: Ed25519PrivateKey):
    c = cache_at(tmp_path / "snapshot.json", key)
    c.apply(signed(payload(issued_at=NOW), key))
    with pytest.raises(SnapshotError):
        c.apply(signed(payload(version=5, since=3, issued_at=NOW, credentials=[]), key))
    assert c.version == 1


def test_document_signed_by_another_key_or_for_another_device(tmp_path: Path,
                                                              key: Ed25519PrivateKey):
    c = cache_at(tmp_path / "snapshot.json", key)
    with pytest.raises(SnapshotError):
        c.apply(signed(payload(issued_at=NOW), Ed25519PrivateKey.generate()))
    with pytest.raises(SnapshotError):
        c.apply(signed(payload(issued_at=NOW, device_id="someone-else"), key))
    assert c.current is None and not (tmp_path / "snapshot.json").exists()


def tamper(path: Path) -> None:
    raw = json.loads(path.read_text())
    # Make the revoked credential active again: what an attacker on the host would want.
    for doc in raw["docs"]:
        for c in doc["payload"]["credentials"]:
            c["status"] = "active"
    path.write_text(json.dumps(raw))


def test_tampered_file_is_refused_and_last_good_kept(tmp_path: Path, key: Ed25519PrivateKey,
                                                      caplog: pytest.LogCaptureFixture):
    path = tmp_path / "snapshot.json"
    c = cache_at(path, key)
    c.apply(signed(payload(issued_at=NOW, credentials=[cred(REF, "revoked")]), key))
    tp = processor(c, tmp_path)
    tamper(path)
    with caplog.at_level(logging.ERROR, logger="reader_agent.snapshot_cache"):
        assert c.load() is None
    assert any("snapshot.cache.rejected" in r.getMessage() and "does not verify" in r.getMessage()
               for r in caplog.records)
    # The in-memory last good snapshot is kept: the card is still revoked.
    assert c.current is not None and c.current.version == 1
    out = tp.tap(fake_card(REF))
    assert not out.granted and out.reason is Reason.CREDENTIAL_REVOKED


def test_tampered_file_with_no_good_snapshot_denies_by_default(
        tmp_path: Path, key: Ed25519PrivateKey, caplog: pytest.LogCaptureFixture):
    path = tmp_path / "snapshot.json"
    cache_at(path, key).apply(signed(payload(issued_at=NOW, credentials=[cred(REF, "revoked")]),
                                     key))
    tamper(path)
    restarted = cache_at(path, key)  # an agent restarting on the tampered file
    with caplog.at_level(logging.ERROR, logger="reader_agent.snapshot_cache"):
        assert restarted.load() is None
    assert "snapshot.cache.rejected" in caplog.text
    assert restarted.current is None
    tp = processor(restarted, tmp_path)
    out = tp.tap(fake_card(REF))
    assert not out.granted and out.reason is Reason.NO_SNAPSHOT
    assert tp.display.last is not None and "認証データがない" in tp.display.last.text  # type: ignore[attr-defined]
    # The denial itself is recorded.
    assert out.events[0]["reason"] == "no_snapshot" and out.events[0]["seq"] == 1


def test_garbage_file_is_refused(tmp_path: Path, key: Ed25519PrivateKey,
                                 caplog: pytest.LogCaptureFixture):
    path = tmp_path / "snapshot.json"
    path.write_text("{not json")
    with caplog.at_level(logging.ERROR):
        assert cache_at(path, key).load() is None
    assert "snapshot.cache.rejected" in caplog.text


def test_a_large_snapshot_is_settled_after_load_and_stays_whole(tmp_path: Path,
                                                                key: Ed25519PrivateKey,
                                                                monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "snapshot.json"
    cache_at(path, key).apply(signed(payload(issued_at=NOW, credentials=[
        cred(REF), cred("bb" * 16, "revoked")]), key))
    settled: list[int] = []
    settle = SnapshotCache._settle

    def counting(self: SnapshotCache) -> object:
        settled.append(1)
        return settle(self)

    monkeypatch.setattr(SnapshotCache, "_settle", counting)
    assert cache_at(path, key).load() is not None and settled == []  # a small file: no settling
    monkeypatch.setattr(snapshot_cache, "SETTLE_BYTES", 0)
    c = cache_at(path, key)
    snap = c.load()
    assert settled == [1] and snap is c.current and snap is not None and snap.version == 1
    assert snap.index.credential(REF).status is CredentialStatus.ACTIVE
    assert snap.index.credential("bb" * 16).status is CredentialStatus.REVOKED
    # The kept documents came back too: the next delta merges onto them.
    c.apply(signed(payload(version=2, since=1, issued_at=NOW, credentials=[cred(REF, "revoked")]),
                   key))
    again = cache_at(path, key).load()
    assert again is not None and again.version == 2
    assert again.index.credential(REF).status is CredentialStatus.REVOKED
    assert again.index.credential("bb" * 16).status is CredentialStatus.REVOKED
