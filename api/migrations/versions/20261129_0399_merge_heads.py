"""Merge audit pruning and the agent's protocol (0108), reader configuration bundles (0109) and
the clock point's overtime line (0110).

Revision ID: 0399
Revises: 0108, 0109, 0110
Create Date: 2026-11-29 21:10:00
"""
from collections.abc import Sequence

revision: str = "0399"
down_revision: str | Sequence[str] | None = ("0108", "0109", "0110")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
