"""Migrations go up and down on PostgreSQL (and on the embedded SQLite default)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from api.events.partitions import include_name
from api.migrate import downgrade, upgrade
from api.models import Base

from .conftest import IN_CI, _server_url


def _roundtrip(url: str) -> None:
    upgrade(url)
    engine = create_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    downgrade(url, "base")
    engine = create_engine(url)
    left = set(inspect(engine).get_table_names()) - {"alembic_version"}
    engine.dispose()
    assert left == set()
    upgrade(url)  # and up again: the downgrade left nothing behind that blocks it


def test_migrations_up_down_postgresql():
    server = _server_url()
    if server is None or not server.startswith("postgresql"):
        if IN_CI:
            pytest.fail("CI must test migrations on PostgreSQL")
        pytest.skip("no PostgreSQL server here")
    name = f"mng_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        _roundtrip(make_url(server).set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_migrations_up_down_sqlite(tmp_path):
    _roundtrip(f"sqlite:///{tmp_path / 'm.db'}")


def test_model_matches_migrations(db_url):
    """Autogenerate against the migrated database finds nothing to add: models and migrations
    agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": include_name})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_single_head():
    """Domain branches are merged: `alembic upgrade head` (singular) works."""
    from alembic.script import ScriptDirectory

    from api.migrate import alembic_config

    assert len(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()) == 1
