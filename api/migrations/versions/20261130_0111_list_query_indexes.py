"""Indexes for the console and admin list queries (proved by tests/scale/test_list_query_plans.py);
``event`` partitioned by month of ``occurred_at`` on PostgreSQL (api/events/partitions.py).

A partitioned table's unique constraints must hold the partition key: the primary key becomes
(id, occurred_at) and the device's sequence key (device_id, seq, occurred_at). A resent event
carries its original occurred_at, so ``ON CONFLICT DO NOTHING`` still drops it; a seq re-sent
with another time is caught by the ingest, which looks the batch's seqs up under the device
row lock before inserting. SQLite keeps a plain table with the same keys.

The rebuild copies every event in this migration's transaction, holding ``event`` exclusively
meanwhile and needing the table's size again on disk: on a large installation, run it in a
maintenance window.

Revision ID: 0111
Revises: 0399
Create Date: 2026-11-30 00:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0111"
down_revision: str | Sequence[str] | None = "0399"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRGM = {"staff_number": "gin_trgm_ops", "name": "gin_trgm_ops", "name_kana": "gin_trgm_ops"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # A trusted extension (PostgreSQL 13+): the database owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index("ix_staff_search", "staff", ["staff_number", "name", "name_kana"],
                    postgresql_using="gin", postgresql_ops=TRGM)
    op.create_index("ix_staff_department_id", "staff", ["department_id"])
    op.create_index("ix_staff_active", "staff", ["active_from", "active_until"])
    op.create_index("ix_credential_status", "credential", ["status"])
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id"])
    if op.get_bind().dialect.name == "postgresql":
        _partition_event()
    else:
        with op.batch_alter_table("event") as batch:
            batch.drop_constraint("uq_event_device_id_seq", type_="unique")
            batch.create_unique_constraint("uq_event_device_id_seq_occurred_at",
                                           ["device_id", "seq", "occurred_at"])
        _event_indexes(("credential", "door_state"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _unpartition_event()
    else:
        op.drop_index("ix_event_door_state", table_name="event")
        op.drop_index("ix_event_credential_occurred", table_name="event")
        with op.batch_alter_table("event") as batch:
            batch.drop_constraint("uq_event_device_id_seq_occurred_at", type_="unique")
            batch.create_unique_constraint("uq_event_device_id_seq", ["device_id", "seq"])
    op.drop_index("ix_audit_log_entity", table_name="audit_log")
    op.drop_index("ix_credential_status", table_name="credential")
    op.drop_index("ix_staff_active", table_name="staff")
    op.drop_index("ix_staff_department_id", table_name="staff")
    op.drop_index("ix_staff_search", table_name="staff")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP EXTENSION IF EXISTS pg_trgm")


def _event_indexes(which: Sequence[str]) -> None:
    made = {
        "occurred": lambda: op.create_index("ix_event_occurred_at", "event", ["occurred_at"]),
        "staff": lambda: op.create_index("ix_event_staff_occurred", "event",
                                         ["staff_id", "occurred_at"]),
        "credential": lambda: op.create_index("ix_event_credential_occurred", "event",
                                              ["credential_ref", "occurred_at"]),
        "door_state": lambda: op.create_index(
            "ix_event_door_state", "event", ["door_id", "occurred_at"],
            postgresql_where=sa.text("kind = 'door_state'"),
            sqlite_where=sa.text("kind = 'door_state'")),
    }
    for name in which:
        made[name]()


def _event_keys(pk: list[str], uq: list[str]) -> None:
    op.create_primary_key("pk_event", "event", pk)
    op.create_unique_constraint(f"uq_event_{'_'.join(uq)}", "event", uq)
    for column, table in (("device_id", "device"), ("door_id", "door"), ("staff_id", "staff")):
        op.create_foreign_key(f"fk_event_{column}_{table}", "event", table, [column], ["id"])


def _partition_event() -> None:
    """Rebuild ``event`` as a partitioned table: a default partition and one per month that
    holds rows (the worker makes the current and coming months)."""
    op.execute("CREATE TABLE event_partitioned (LIKE event INCLUDING DEFAULTS) "
               "PARTITION BY RANGE (occurred_at)")
    op.execute("CREATE TABLE event_default PARTITION OF event_partitioned DEFAULT")
    months = list(op.get_bind().execute(sa.text(
        "SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date "
        "FROM event")).scalars())
    for m in months:
        nxt = f"{m.year + m.month // 12}-{m.month % 12 + 1:02d}-01"
        op.execute(f"CREATE TABLE event_p{m:%Y%m} PARTITION OF event_partitioned FOR VALUES "
                   f"FROM ('{m:%Y-%m-%d} 00:00:00+00') TO ('{nxt} 00:00:00+00')")
    op.execute("INSERT INTO event_partitioned SELECT * FROM event")
    op.execute("DROP TABLE event")
    op.execute("ALTER TABLE event_partitioned RENAME TO event")
    _event_keys(["id", "occurred_at"], ["device_id", "seq", "occurred_at"])
    _event_indexes(("occurred", "staff", "credential", "door_state"))


def _unpartition_event() -> None:
    op.execute("CREATE TABLE event_plain (LIKE event INCLUDING DEFAULTS)")
    op.execute("INSERT INTO event_plain SELECT * FROM event")
    op.execute("DROP TABLE event")  # and its partitions
    op.execute("ALTER TABLE event_plain RENAME TO event")
    _event_keys(["id"], ["device_id", "seq"])
    _event_indexes(("occurred", "staff"))
