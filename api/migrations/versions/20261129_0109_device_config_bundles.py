"""Readers fetch their own configuration: a door's unlock time, and each device's settings
and last signed firmware_config bundle.

Revision ID: 0109
Revises: 0299
Create Date: 2026-11-29 21:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.models.base

revision: str = "0109"
down_revision: str | Sequence[str] | None = "0299"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("door") as batch:
        batch.add_column(sa.Column("unlock_seconds", sa.Float(), nullable=False,
                                   server_default="5.0"))
    op.create_table(
        "device_config",
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("config_version", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("content_digest", sa.String(length=64), nullable=True),
        sa.Column("bundle", sa.JSON(), nullable=True),
        sa.Column("created_at", api.models.base.UTCDateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("updated_at", api.models.base.UTCDateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], ondelete="CASCADE",
                                name=op.f("fk_device_config_device_id_device")),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_config")),
    )


def downgrade() -> None:
    op.drop_table("device_config")
    with op.batch_alter_table("door") as batch:
        batch.drop_column("unlock_seconds")
