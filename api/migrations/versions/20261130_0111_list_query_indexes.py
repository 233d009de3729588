"""Indexes for the console and admin list queries (proved by tests/scale/test_list_query_plans.py).

Revision ID: 0111
Revises: 0399
Create Date: 2026-11-30 00:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0111"
down_revision: str | Sequence[str] | None = "0399"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRGM = {"staff_number": "gin_trgm_ops", "name": "gin_trgm_ops", "name_kana": "gin_trgm_ops"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # A trusted extension (PostgreSQL 13+): the database owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index("ix_staff_search", "staff", ["staff_number", "name", "name_kana"],
                    postgresql_using="gin", postgresql_ops=TRGM)
    op.create_index("ix_staff_department_id", "staff", ["department_id"])
    op.create_index("ix_staff_active", "staff", ["active_from", "active_until"])
    op.create_index("ix_credential_status", "credential", ["status"])
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id"])
    op.create_index("ix_event_credential_occurred", "event", ["credential_ref", "occurred_at"])
    op.create_index("ix_event_door_state", "event", ["door_id", "occurred_at"],
                    postgresql_where=sa.text("kind = 'door_state'"),
                    sqlite_where=sa.text("kind = 'door_state'"))


def downgrade() -> None:
    op.drop_index("ix_event_door_state", table_name="event")
    op.drop_index("ix_event_credential_occurred", table_name="event")
    op.drop_index("ix_audit_log_entity", table_name="audit_log")
    op.drop_index("ix_credential_status", table_name="credential")
    op.drop_index("ix_staff_active", table_name="staff")
    op.drop_index("ix_staff_department_id", table_name="staff")
    op.drop_index("ix_staff_search", table_name="staff")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP EXTENSION IF EXISTS pg_trgm")
