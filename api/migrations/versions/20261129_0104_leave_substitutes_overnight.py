"""attendance: leave (休暇), per-staff 代替文字 for exports, overnight work patterns

Revision ID: 0104
Revises: 0099
Create Date: 2026-11-29 17:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.models.base

revision: str = "0104"
down_revision: str | Sequence[str] | None = "0099"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column]:
    return [sa.Column("created_at", api.models.base.UTCDateTime(timezone=True),
                      server_default=sa.text("now()"), nullable=False),
            sa.Column("updated_at", api.models.base.UTCDateTime(timezone=True),
                      server_default=sa.text("now()"), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "attendance_leave",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("unit", sa.String(length=10), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=True),
        sa.Column("end_time", sa.Time(), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("external_ref", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"],
                                name=op.f("fk_attendance_leave_staff_id_staff"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance_leave")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_attendance_leave_external_ref")),
    )
    op.create_index("ix_attendance_leave_staff_day", "attendance_leave", ["staff_id", "day"])
    op.create_table(
        "staff_char_substitute",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("original", sa.String(length=16), nullable=False),
        sa.Column("substitute", sa.String(length=16), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"],
                                name=op.f("fk_staff_char_substitute_staff_id_staff"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_char_substitute")),
        sa.UniqueConstraint("staff_id", "original",
                            name=op.f("uq_staff_char_substitute_staff_id_original")),
    )
    op.add_column("work_pattern", sa.Column("overnight", sa.Boolean(),
                                            server_default=sa.false(), nullable=False))


def downgrade() -> None:
    op.drop_column("work_pattern", "overnight")
    op.drop_table("staff_char_substitute")
    op.drop_index("ix_attendance_leave_staff_day", table_name="attendance_leave")
    op.drop_table("attendance_leave")
