"""Retention of the audit log: the oldest entries pruned in bulk, a summary signed with the
service key left in their place, and `mynagate audit verify` (service, admin endpoint, CLI)
checking that summary and the rest of the chain from its anchor."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from api.audit.service import record, verify
from api.db import Database
from api.keys import load_or_create_signing_key
from api.models import AuditLog, ChainName, RetentionSummary
from api.retention.summary import verify_summary
from api.worker.retention import AuditChainBroken, prune_all, prune_audit
from api.worker.settings import RetentionSettings
from mynagate_cli import app as cli

RULES = RetentionSettings(audit_days=1827)


def _append(db: Database, now: datetime, *days_ago: float) -> list[AuditLog]:
    """One audit entry per age, oldest first, as the services write them."""
    with db.session() as s:
        rows = [record(s, actor="admin", action="staff.update", entity="staff", entity_id=i,
                       before={"name": f"旧 {i}"}, after={"name": f"新 {i}"},
                       now=now - timedelta(days=d)) for i, d in enumerate(days_ago)]
        s.commit()
        for r in rows:
            s.expunge(r)
    return rows


def _prune(db: Database, key: Ed25519PrivateKey, now: datetime,
           rules: RetentionSettings = RULES) -> RetentionSummary | None:
    with db.session() as s:
        summary = prune_audit(s, rules, key, now)
        s.commit()
        if summary is not None:
            s.expunge(summary)
    return summary


def _seqs(db: Database) -> list[int]:
    with db.session() as s:
        return list(s.execute(select(AuditLog.seq).order_by(AuditLog.seq)).scalars())


def _sql(db: Database, sql: str, *, bypass_trigger: bool = False, **params: object) -> None:
    """Change a table behind the service's back, as someone with database access could."""
    with db.engine.begin() as conn:
        if bypass_trigger:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        conn.execute(text(sql), params)
        if bypass_trigger:
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))


@pytest.fixture
def key(settings) -> Ed25519PrivateKey:  # type: ignore[no-untyped-def]
    """The service's signing key (the file the app and the CLI read)."""
    return load_or_create_signing_key(settings.signing_key_path)


def _cli_verify(db_url: str, key_file: object | None) -> tuple[int, str]:
    args = ["audit", "verify", "--url", db_url]
    if key_file is not None:
        args += ["--signing-key", str(key_file)]
    out = CliRunner().invoke(cli, args)
    return out.exit_code, out.output


def test_prune_leaves_a_signed_summary_and_the_rest_verifies(
        database, admin, settings, key, db_url, now):  # type: ignore[no-untyped-def]
    rows = _append(database, now, 2000, 1900, 1850, 1000, 10)
    summary = _prune(database, key, now)
    assert summary is not None
    assert (summary.chain, summary.device_id, summary.removed) == (ChainName.AUDIT, None, 3)
    assert (summary.first_seq, summary.last_seq) == (1, 3)
    assert (summary.first_hash, summary.last_hash) == (rows[0].hash, rows[2].hash)
    assert (summary.first_at, summary.last_at) == (rows[0].at, rows[2].at)
    assert summary.cutoff == now - timedelta(days=1827)
    assert verify_summary(summary, key.public_key())
    assert _seqs(database) == [4, 5]

    with database.session() as s:
        result = verify(s, key.public_key())
        assert (result.ok, result.checked, result.start_seq, result.summaries) == (True, 2, 4, 1)
        # another key did not sign it; without a key it cannot be checked
        assert not verify(s, Ed25519PrivateKey.generate().public_key()).ok
        assert "service key" in (verify(s).reason or "")
    body = admin.get("/admin/audit/verify").json()
    assert (body["ok"], body["checked"], body["start_seq"], body["summaries"]) == (True, 2, 4, 1)
    assert _cli_verify(db_url, settings.signing_key_path)[0] == 0
    assert _cli_verify(db_url, None)[0] == 1

    # appending goes on from the head; nothing more is due today
    [later] = _append(database, now, 0)
    assert (later.seq, later.prev_hash) == (6, rows[4].hash)
    assert _prune(database, key, now) is None
    with database.session() as s:
        assert verify(s, key.public_key()).checked == 3


def test_an_edited_summary_fails_verification(database, admin, settings, key, db_url, now
                                               ):  # type: ignore[no-untyped-def]
    _append(database, now, 2000, 1900, 10)
    summary = _prune(database, key, now)
    assert summary is not None
    _sql(database, "UPDATE retention_summary SET removed = 1, first_seq = 2 WHERE id = :id",
         id=summary.id)
    with database.session() as s:
        result = verify(s, key.public_key())
    assert not result.ok and "signature" in (result.reason or "")
    assert admin.get("/admin/audit/verify").json()["ok"] is False
    code, output = _cli_verify(db_url, settings.signing_key_path)
    assert code == 1 and f"retention summary {summary.id}" in output


def test_a_moved_anchor_fails_verification(database, key, now):  # type: ignore[no-untyped-def]
    _append(database, now, 2000, 1900, 10)
    summary = _prune(database, key, now)
    assert summary is not None
    _sql(database, "UPDATE retention_summary SET last_hash = :h WHERE id = :id",
         h="f" * 64, id=summary.id)
    with database.session() as s:
        assert not verify(s, key.public_key()).ok


def test_a_deleted_summary_fails_at_the_first_row_kept(database, key, now
                                                       ):  # type: ignore[no-untyped-def]
    _append(database, now, 2000, 1900, 10)
    summary = _prune(database, key, now)
    assert summary is not None
    _sql(database, "DELETE FROM retention_summary WHERE id = :id", id=summary.id)
    with database.session() as s:
        result = verify(s, key.public_key())
    assert not result.ok and result.first_bad_seq == 3 and "missing" in (result.reason or "")


def test_an_edited_entry_after_the_summary_fails(database, settings, key, db_url, now
                                                 ):  # type: ignore[no-untyped-def]
    rows = _append(database, now, 2000, 1900, 100, 10)
    _prune(database, key, now)
    _sql(database, "UPDATE audit_log SET actor = 'someone' WHERE id = :id",
         bypass_trigger=True, id=rows[3].id)
    with database.session() as s:
        result = verify(s, key.public_key())
    assert not result.ok and result.first_bad_id == rows[3].id and result.checked == 1
    assert "content" in (result.reason or "")
    code, output = _cli_verify(db_url, settings.signing_key_path)
    assert code == 1 and f"id {rows[3].id}" in output


def test_pruning_twice_chains_the_summaries(database, key, now):  # type: ignore[no-untyped-def]
    rows = _append(database, now, 2000, 1900, 1700, 1600, 10)
    first = _prune(database, key, now)
    second = _prune(database, key, now + timedelta(days=250))  # 1700 and 1600 now due
    assert first is not None and second is not None
    assert (second.first_seq, second.last_seq, second.removed) == (3, 4, 2)
    assert second.previous_summary_id == first.id
    assert (second.first_hash, second.last_hash) == (rows[2].hash, rows[3].hash)
    assert _seqs(database) == [5]
    with database.session() as s:
        result = verify(s, key.public_key())
        assert (result.ok, result.start_seq, result.summaries, result.checked) == (True, 5, 2, 1)
    # the older summary gone: the newer one no longer follows anything
    _sql(database, "DELETE FROM retention_summary WHERE id = :id", id=first.id)
    with database.session() as s:
        result = verify(s, key.public_key())
    assert not result.ok and "does not follow" in (result.reason or "")


def test_bulk_pruning_in_batches_and_of_every_entry(database, key, now
                                                    ):  # type: ignore[no-untyped-def]
    rows = _append(database, now, *([1900.0] * 130))
    rules = RetentionSettings(audit_days=1827, batch=100)
    with database.session() as s:  # the worker's whole retention run prunes the audit log too
        [first] = [r for r in prune_all(s, rules, key, now) if r.chain == ChainName.AUDIT]
        s.commit()
        assert (first.first_seq, first.last_seq) == (1, 100)
    second = _prune(database, key, now, rules)
    assert second is not None and (second.first_seq, second.last_seq) == (101, 130)
    assert _seqs(database) == []
    with database.session() as s:
        assert verify(s, key.public_key()).ok
    # every entry pruned: the next one still follows the chain, never restarts it
    [new] = _append(database, now, 0)
    assert (new.seq, new.prev_hash) == (131, rows[-1].hash)
    with database.session() as s:
        result = verify(s, key.public_key())
    assert (result.ok, result.checked, result.start_seq) == (True, 1, 131)


def test_pruning_refuses_to_sign_over_a_break(database, key, now
                                              ):  # type: ignore[no-untyped-def]
    rows = _append(database, now, 2000, 1900, 10)
    _sql(database, "UPDATE audit_log SET after = NULL WHERE id = :id", bypass_trigger=True,
         id=rows[1].id)
    with pytest.raises(AuditChainBroken, match="seq 2"):
        _prune(database, key, now)
    assert _seqs(database) == [1, 2, 3]  # nothing removed, no summary hiding the edit
    with database.session() as s:
        assert s.execute(select(RetentionSummary)).first() is None


def test_the_database_still_refuses_deleting_entries_no_summary_covers(
        database, key, now):  # type: ignore[no-untyped-def]
    rows = _append(database, now, 2000, 1900, 10)
    _prune(database, key, now)
    if database.engine.dialect.name != "postgresql":
        pytest.fail("the test database must be PostgreSQL")
    for sql in ("DELETE FROM audit_log WHERE id = :id",
                "UPDATE audit_log SET actor = 'x' WHERE id = :id"):
        with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as conn:
            conn.execute(text(sql), {"id": rows[2].id})
    assert _seqs(database) == [3]
