"""Merge the branches of 2026-11-29 (mail outbox, lock nonces, …) into one head.

Revision ID: 0199
Revises: 0101, 0102, 0104, 0105
Create Date: 2026-11-29 18:00:00
"""
from collections.abc import Sequence

revision: str = "0199"
down_revision: str | Sequence[str] | None = ("0101", "0102", "0104", "0105")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
