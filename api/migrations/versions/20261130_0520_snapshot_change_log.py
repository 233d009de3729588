"""The snapshot change log (snapshot_change): PostgreSQL triggers on staff, credential and
access_group_member record which staff members' snapshot rows each transaction changed, so the
shared snapshot table re-reads just those after a change instead of hashing every row.

Revision ID: 0520
Revises: 0501
Create Date: 2026-11-30 08:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.models.base

revision: str = "0520"
down_revision: str | Sequence[str] | None = "0501"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The argument names the column holding the staff id; an update logs the old and the new one.
LOG_FUNCTION = """
CREATE FUNCTION snapshot_change_log() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  xid bigint := pg_current_xact_id()::text::bigint;
  was int;
  now_id int;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    INSERT INTO snapshot_change (xid, staff_id, at) VALUES (xid, -1, now());
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    was := (to_jsonb(OLD) ->> TG_ARGV[0])::int;
    INSERT INTO snapshot_change (xid, staff_id, at) VALUES (xid, was, now());
  END IF;
  IF TG_OP <> 'DELETE' THEN
    now_id := (to_jsonb(NEW) ->> TG_ARGV[0])::int;
    IF was IS DISTINCT FROM now_id THEN
      INSERT INTO snapshot_change (xid, staff_id, at) VALUES (xid, now_id, now());
    END IF;
  END IF;
  RETURN NULL;
END $$;
"""
# table → (staff id column, the columns the snapshot table reads)
LOGGED = {
    "staff": ("id", "name, active_from, active_until"),
    "credential": ("staff_id",
                   "credential_ref, kind, staff_id, status, public_key, not_after"),
    "access_group_member": ("staff_id", "group_id, staff_id"),
}


def upgrade() -> None:
    op.create_table(
        "snapshot_change",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("xid", sa.BigInteger(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("at", api.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshot_change")))
    op.create_index(op.f("ix_snapshot_change_xid"), "snapshot_change", ["xid"])
    op.create_index(op.f("ix_snapshot_change_at"), "snapshot_change", ["at"])
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(LOG_FUNCTION)
    for table, (column, watched) in LOGGED.items():
        op.execute(f"CREATE TRIGGER {table}_snapshot_change AFTER INSERT OR DELETE OR UPDATE "
                   f"OF {watched} ON {table} FOR EACH ROW "
                   f"EXECUTE FUNCTION snapshot_change_log('{column}')")
        op.execute(f"CREATE TRIGGER {table}_snapshot_truncate AFTER TRUNCATE ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION snapshot_change_log('{column}')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in LOGGED:
            op.execute(f"DROP TRIGGER {table}_snapshot_truncate ON {table}")
            op.execute(f"DROP TRIGGER {table}_snapshot_change ON {table}")
        op.execute("DROP FUNCTION snapshot_change_log()")
    op.drop_index(op.f("ix_snapshot_change_at"), table_name="snapshot_change")
    op.drop_index(op.f("ix_snapshot_change_xid"), table_name="snapshot_change")
    op.drop_table("snapshot_change")
