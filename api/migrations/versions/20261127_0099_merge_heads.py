"""Merge the domain branches (device protocol foundation, attendance, facilities and locks,
card enrollment) into one head.

Revision ID: 0099
Revises: 0003, 0004, 0005
Create Date: 2026-11-27 07:30:00
"""
from collections.abc import Sequence

revision: str = "0099"
down_revision: str | Sequence[str] | None = ("0003", "0004", "0005")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
