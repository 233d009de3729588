"""Clock points show the month's overtime against the cap on 退勤, unless a town turns it off.

Revision ID: 0110
Revises: 0299
Create Date: 2026-11-29 21:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0110"
down_revision: str | Sequence[str] | None = "0299"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("door") as batch:
        batch.add_column(sa.Column("show_overtime", sa.Boolean(), nullable=False,
                                   server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("door") as batch:
        batch.drop_column("show_overtime")
