"""Nonces of online-lock polls (issue 9: a replayed poll is refused).

Revision ID: 0102
Revises: 0099
Create Date: 2026-11-29 18:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.models.base

revision: str = "0102"
down_revision: str | Sequence[str] | None = "0099"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lock_nonce",
        sa.Column("lock_id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_at", api.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["lock_id"], ["smart_lock.id"],
                                name=op.f("fk_lock_nonce_lock_id_smart_lock"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("lock_id", "nonce", name=op.f("pk_lock_nonce")),
    )
    with op.batch_alter_table("lock_nonce", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lock_nonce_expires_at"), ["expires_at"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lock_nonce", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lock_nonce_expires_at"))
    op.drop_table("lock_nonce")
