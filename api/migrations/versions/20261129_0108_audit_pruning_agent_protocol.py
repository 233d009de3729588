"""The audit log's append-only trigger lets retention delete the rows a retention summary
covers (issue 12 item 9); UPDATE and any other DELETE are still refused. And
``device.agent_protocol``, the protocol version each agent last spoke (item 3's console notice).

Retention writes the signed summary first, then deletes the prefix it covers, in one
transaction (api.worker.retention.prune_audit).

Revision ID: 0108
Revises: 0299
Create Date: 2026-11-29 21:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0108"
down_revision: str | Sequence[str] | None = "0299"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRUNABLE = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND EXISTS (
      SELECT 1 FROM retention_summary s
      WHERE s.chain = 'audit' AND s.device_id IS NULL
        AND OLD.seq BETWEEN s.first_seq AND s.last_seq) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only';
END $$;
"""
APPEND_ONLY = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END $$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PRUNABLE)
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_protocol", sa.String(length=7), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_column("agent_protocol")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY)
