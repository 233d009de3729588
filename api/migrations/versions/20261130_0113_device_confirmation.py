"""A reader enrolled with its token stays pending until an admin or security confirms it.

Revision ID: 0113
Revises: 0399
Create Date: 2026-11-30 00:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.models.base

revision: str = "0113"
down_revision: str | Sequence[str] | None = "0399"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("device") as batch:
        batch.add_column(sa.Column("confirmed_at", api.models.base.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("confirmed_by", sa.String(100), nullable=True))
    # Readers already active were enrolled before confirmation existed: they stay active.
    op.execute("UPDATE device SET confirmed_at = enrolled_at WHERE status = 'active'")


def downgrade() -> None:
    with op.batch_alter_table("device") as batch:
        batch.drop_column("confirmed_by")
        batch.drop_column("confirmed_at")
