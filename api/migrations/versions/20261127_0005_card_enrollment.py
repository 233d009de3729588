"""card enrollment: challenge, proven credential file, admin confirmation

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-27 06:20:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.models.base

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "card_enrollment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("challenge", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("expires_at", api.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("credential_ref", sa.String(length=64), nullable=True),
        sa.Column("issuer_code", sa.String(length=6), nullable=True),
        sa.Column("public_key", sa.Text(), nullable=True),
        sa.Column("not_after", api.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("responded_at", api.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", api.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("confirmed_by", sa.String(length=100), nullable=True),
        sa.Column("credential_id", sa.Integer(), nullable=True),
        sa.Column("replaced_credential_id", sa.Integer(), nullable=True),
        sa.Column("created_at", api.models.base.UTCDateTime(timezone=True),
                  server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", api.models.base.UTCDateTime(timezone=True),
                  server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["credential_id"], ["credential.id"],
                                name=op.f("fk_card_enrollment_credential_id_credential")),
        sa.ForeignKeyConstraint(["replaced_credential_id"], ["credential.id"],
                                name=op.f("fk_card_enrollment_replaced_credential_id_credential")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"],
                                name=op.f("fk_card_enrollment_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_enrollment")),
    )
    with op.batch_alter_table("card_enrollment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_card_enrollment_staff_id"), ["staff_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("card_enrollment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_enrollment_staff_id"))
    op.drop_table("card_enrollment")
