"""Merge users and the audit chain (0106) with the worker, outbound and retention (0107).

Revision ID: 0299
Revises: 0106, 0107
Create Date: 2026-11-29 19:00:00
"""
from collections.abc import Sequence

revision: str = "0299"
down_revision: str | Sequence[str] | None = ("0106", "0107")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
