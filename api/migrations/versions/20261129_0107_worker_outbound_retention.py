"""worker job table, heartbeat alarms, retention summaries, webhook endpoints and the
outbound delivery queue (issue 12 items 5, 6, 9)

Revision ID: 0107
Revises: 0199
Create Date: 2026-11-29 17:53:29.405649
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.models.base

revision: str = '0107'
down_revision: str | Sequence[str] | None = '0199'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('webhook_endpoint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('event_types', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=True),
    sa.Column('created_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoint'))
    )
    op.create_table('worker_job',
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('next_run_at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_started_at', api.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_finished_at', api.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_worker', sa.String(length=100), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('kind', name=op.f('pk_worker_job'))
    )
    with op.batch_alter_table('worker_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_worker_job_next_run_at'), ['next_run_at'], unique=False)

    op.create_table('outbound_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=60), nullable=False),
    sa.Column('target', sa.String(length=10), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=True),
    sa.Column('event_type', sa.String(length=40), nullable=False),
    sa.Column('topic', sa.String(length=300), nullable=True),
    sa.Column('retain', sa.Boolean(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', api.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoint.id'], name=op.f('fk_outbound_delivery_endpoint_id_webhook_endpoint'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_delivery'))
    )
    with op.batch_alter_table('outbound_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_outbound_delivery_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_delivery_endpoint_id'), ['endpoint_id'], unique=False)

    op.create_table('heartbeat_alarm',
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('heartbeat_at', api.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('raised_at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_heartbeat_alarm_device_id_device'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_id', name=op.f('pk_heartbeat_alarm'))
    )
    op.create_table('retention_summary',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('chain', sa.String(length=20), nullable=False),
    sa.Column('device_id', sa.Uuid(), nullable=True),
    sa.Column('removed', sa.BigInteger(), nullable=False),
    sa.Column('first_seq', sa.BigInteger(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('first_hash', sa.String(length=64), nullable=True),
    sa.Column('last_hash', sa.String(length=64), nullable=True),
    sa.Column('first_at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cutoff', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('pruned_at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('previous_summary_id', sa.Integer(), nullable=True),
    sa.Column('signature', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_retention_summary_device_id_device'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_summary'))
    )
    with op.batch_alter_table('retention_summary', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_summary_device_id'), ['device_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('retention_summary', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retention_summary_device_id'))

    op.drop_table('retention_summary')
    op.drop_table('heartbeat_alarm')
    with op.batch_alter_table('outbound_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbound_delivery_endpoint_id'))
        batch_op.drop_index('ix_outbound_delivery_due')

    op.drop_table('outbound_delivery')
    with op.batch_alter_table('worker_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_worker_job_next_run_at'))

    op.drop_table('worker_job')
    op.drop_table('webhook_endpoint')
