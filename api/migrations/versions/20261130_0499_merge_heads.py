"""Merge the list-query indexes and monthly event partitions (0111) and reader confirmation
(0113).

Revision ID: 0499
Revises: 0111, 0113
Create Date: 2026-11-30 01:10:00
"""
from collections.abc import Sequence

revision: str = "0499"
down_revision: str | Sequence[str] | None = ("0111", "0113")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
