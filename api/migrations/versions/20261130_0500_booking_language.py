"""A booking keeps the language of its emails: Japanese (the default) or English.

Revision ID: 0500
Revises: 0499
Create Date: 2026-11-30 05:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0500"
down_revision: str | Sequence[str] | None = "0499"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Bookings made before this wrote their emails in Japanese: they stay 'ja'.
    with op.batch_alter_table("booking") as batch:
        batch.add_column(sa.Column("language", sa.String(2), server_default="ja",
                                   nullable=False))
        batch.create_check_constraint(op.f("ck_booking_language"),
                                      "language IN ('ja', 'en')")


def downgrade() -> None:
    with op.batch_alter_table("booking") as batch:
        batch.drop_constraint(op.f("ck_booking_language"), type_="check")
        batch.drop_column("language")
