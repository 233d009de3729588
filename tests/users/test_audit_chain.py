"""The audit log is an append-only hash chain: editing, deleting or reordering a row is
found by ``verify`` (service, admin endpoint and ``mynagate audit verify``)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from api.audit.chain import GENESIS, Verification, canonical, link_hash
from api.audit.service import record, verify
from api.db import Database
from api.migrate import upgrade
from mynagate_cli import app as cli

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _append(database, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    ids = []
    with database.session() as s:
        for i in range(n):
            row = record(s, actor=f"user{i % 3}", action="staff.update", entity="staff",
                         entity_id=i, before={"name": f"旧 {i}"}, after={"name": f"新 {i}"},
                         now=NOW + timedelta(seconds=i))
            ids.append(row.id)
        s.commit()
    return ids


def _tamper(database, sql: str, **params: object) -> None:  # type: ignore[no-untyped-def]
    """Change the table behind the service's back, as someone with database access could."""
    with database.engine.begin() as conn:
        pg = conn.dialect.name == "postgresql"
        if pg:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        conn.execute(text(sql), params)
        if pg:
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))


def test_an_intact_chain_verifies(database):
    _append(database, 5)
    with database.session() as s:
        result = verify(s)
    assert result.ok and result.checked == 5 and result.first_bad_id is None


def test_editing_one_row_fails_verification_at_that_row(admin, database, db_url):
    ids = _append(database, 6)
    _tamper(database, "UPDATE audit_log SET actor = 'someone' WHERE id = :id", id=ids[3])
    with database.session() as s:
        result = verify(s)
    assert not result.ok and result.first_bad_id == ids[3] and result.checked == 3
    assert "content" in (result.reason or "")
    r = admin.get("/admin/audit/verify")
    assert r.status_code == 200 and r.json()["ok"] is False
    assert r.json()["first_bad_id"] == ids[3]
    out = CliRunner().invoke(cli, ["audit", "verify", "--url", db_url])
    assert out.exit_code == 1 and f"id {ids[3]}" in out.output


def test_deleting_a_row_fails_at_the_next_one(database, db_url):
    ids = _append(database, 4)
    _tamper(database, "DELETE FROM audit_log WHERE id = :id", id=ids[1])
    with database.session() as s:
        result = verify(s)
    assert not result.ok and result.first_bad_id == ids[2] and "missing" in (result.reason or "")
    ok = CliRunner().invoke(cli, ["audit", "verify", "--url", db_url])
    assert ok.exit_code == 1


def test_the_verify_command_passes_an_intact_chain(database, db_url):
    _append(database, 3)
    out = CliRunner().invoke(cli, ["audit", "verify", "--url", db_url])
    assert out.exit_code == 0 and "3" in out.output


def test_postgresql_refuses_updates_and_deletes(database):
    ids = _append(database, 1)
    if database.engine.dialect.name != "postgresql":
        pytest.fail("the test database must be PostgreSQL")
    for sql in ("UPDATE audit_log SET actor = 'x' WHERE id = :id",
                "DELETE FROM audit_log WHERE id = :id"):
        with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as conn:
            conn.execute(text(sql), {"id": ids[0]})


def test_concurrent_appends_never_fork_the_chain(database):
    """Eight writers at once: every row lands, in one unbroken chain."""
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(5):
                with database.session() as s:
                    record(s, actor=f"w{n}", action="test.append", entity="t",
                           entity_id=f"{n}-{i}", now=NOW)
                    s.commit()
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with database.session() as s:
        result = verify(s)
    assert result.ok and result.checked == 40


json_value = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                          lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                          max_leaves=10)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actor=st.text(max_size=30), after=st.dictionaries(st.text(max_size=8), json_value,
                                                         max_size=4),
       other=st.text(max_size=30))
def test_any_change_of_content_changes_the_hash(actor, after, other):
    def h(a: str, aft: dict) -> str:  # type: ignore[type-arg]
        return link_hash(GENESIS, canonical(seq=1, at=NOW, actor=a, action="x", entity="e",
                                            entity_id="1", before=None, after=aft))

    assert h(actor, after) == h(actor, dict(reversed(list(after.items()))))  # canonical
    if other != actor:
        assert h(actor, after) != h(other, after)
    assert link_hash("1" * 64, b"c") != link_hash(GENESIS, b"c")


def test_an_export_and_a_login_are_chained_under_the_authenticated_user(admin, app, database):
    r = admin.get("/admin/exports/punches", params={"month": "2026-11"})
    assert r.status_code == 200, r.text
    made = admin.post("/admin/users", json={"username": "sato", "role": "staff"}).json()
    browser = TestClient(app, base_url="https://testserver")
    browser.post("/auth/login", json={"username": "sato", "password": "wrong"})
    browser.post("/auth/login", json={"username": "sato", "password": made["password"]})
    rows = admin.get("/admin/audit").json()["items"][::-1]
    assert [(x["action"], x["actor"]) for x in rows] == [
        ("exports.run", "admin"), ("user.create", "admin"), ("auth.login_failed", "sato"),
        ("auth.login", "sato")]
    assert [x["seq"] for x in rows] == [1, 2, 3, 4]
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(rows, rows[1:], strict=False))
    assert admin.get("/admin/audit/verify").json() == {
        "ok": True, "checked": 4, "first_bad_id": None, "first_bad_seq": None, "reason": None,
        "start_seq": 1, "summaries": 0}


def test_the_migration_chains_the_rows_that_were_there(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0199")
    engine = create_engine(url)
    with engine.begin() as conn:
        for i in range(3):
            conn.execute(text("INSERT INTO audit_log (at, actor, action, entity, entity_id, "
                              "before, after) VALUES (:at, 'old', 'staff.update', 'staff', "
                              ":i, NULL, :after)"),
                         {"at": (NOW + timedelta(minutes=i)).isoformat(), "i": str(i),
                          "after": json.dumps({"name": f"名前 {i}"})})
    engine.dispose()
    upgrade(url)
    db = Database(url)
    try:
        with db.session() as s:
            assert verify(s) == Verification(ok=True, checked=3)
            record(s, actor="new", action="x", entity="e", entity_id=1, now=NOW)
            s.commit()
            assert verify(s).ok and verify(s).checked == 4
    finally:
        db.dispose()
