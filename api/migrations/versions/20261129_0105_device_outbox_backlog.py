"""The outbox backlog each device reports in its heartbeat, kept for /metrics.

Revision ID: 0105
Revises: 0099
Create Date: 2026-11-29 18:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0105"
down_revision: str | Sequence[str] | None = "0099"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("device") as batch:
        batch.add_column(sa.Column("outbox_pending", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("oldest_pending_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device") as batch:
        batch.drop_column("oldest_pending_at")
        batch.drop_column("outbox_pending")
