"""foundation

Revision ID: 0001
Revises:
Create Date: 2026-11-27 05:35:26.063607

Staff, credentials, sites and doors, devices, access groups and schedules, events, audit.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.models.base

revision: str = '0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('access_group',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_group')),
    sa.UniqueConstraint('name', name=op.f('uq_access_group_name'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)

    op.create_table('closed_day',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_closed_day'))
    )
    op.create_table('department',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('overtime_class', sa.String(length=20), nullable=False),
    sa.Column('created_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_department')),
    sa.UniqueConstraint('code', name=op.f('uq_department_code'))
    )
    op.create_table('schedule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('allow_closed_days', sa.Boolean(), nullable=False),
    sa.Column('created_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule')),
    sa.UniqueConstraint('name', name=op.f('uq_schedule_name'))
    )
    op.create_table('site',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site')),
    sa.UniqueConstraint('code', name=op.f('uq_site_code'))
    )
    op.create_table('snapshot_counter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('changed_at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_snapshot_counter'))
    )
    # The single counter row that versions the decision snapshot.
    op.execute("INSERT INTO snapshot_counter (id, version, changed_at) VALUES (1, 0, CURRENT_TIMESTAMP)")
    op.create_table('device',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('public_key', sa.Text(), nullable=True),
    sa.Column('enrollment_token_hash', sa.String(length=64), nullable=True),
    sa.Column('enrollment_expires_at', api.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('enrolled_at', api.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', api.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_heartbeat_at', api.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('clock_offset_ms', sa.Integer(), nullable=True),
    sa.Column('config_version', sa.Integer(), nullable=True),
    sa.Column('snapshot_version', sa.Integer(), nullable=True),
    sa.Column('max_seq', sa.BigInteger(), nullable=False),
    sa.Column('contiguous_seq', sa.BigInteger(), nullable=False),
    sa.Column('last_event_hash', sa.String(length=64), nullable=True),
    sa.Column('delivered_through', api.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_device_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device')),
    sa.UniqueConstraint('name', name=op.f('uq_device_name'))
    )
    op.create_table('door',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('assurance', sa.String(length=10), nullable=False),
    sa.Column('lockdown', sa.Boolean(), nullable=False),
    sa.Column('fail_open', sa.Boolean(), nullable=False),
    sa.Column('created_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_door_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_door')),
    sa.UniqueConstraint('code', name=op.f('uq_door_code'))
    )
    op.create_table('schedule_window',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('start_minute', sa.Integer(), nullable=False),
    sa.Column('end_minute', sa.Integer(), nullable=False),
    sa.CheckConstraint('start_minute >= 0 AND start_minute < end_minute AND end_minute <= 1440', name=op.f('ck_schedule_window_minute_range')),
    sa.CheckConstraint('weekday >= 0 AND weekday <= 6', name=op.f('ck_schedule_window_weekday_range')),
    sa.ForeignKeyConstraint(['schedule_id'], ['schedule.id'], name=op.f('fk_schedule_window_schedule_id_schedule'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_window'))
    )
    op.create_table('staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_number', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('name_kana', sa.String(length=100), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('employment_type', sa.String(length=20), nullable=False),
    sa.Column('work_pattern', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('active_from', sa.Date(), nullable=False),
    sa.Column('active_until', sa.Date(), nullable=True),
    sa.Column('created_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_staff_department_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff')),
    sa.UniqueConstraint('staff_number', name=op.f('uq_staff_staff_number'))
    )
    op.create_table('access_group_member',
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['access_group.id'], name=op.f('fk_access_group_member_group_id_access_group'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_access_group_member_staff_id_staff')),
    sa.PrimaryKeyConstraint('group_id', 'staff_id', name=op.f('pk_access_group_member'))
    )
    op.create_table('credential',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('credential_ref', sa.String(length=64), nullable=False),
    sa.Column('public_key', sa.Text(), nullable=False),
    sa.Column('issuer_code', sa.String(length=6), nullable=True),
    sa.Column('not_after', api.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('status_changed_at', api.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('snapshot_version', sa.Integer(), nullable=False),
    sa.Column('created_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_credential_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credential')),
    sa.UniqueConstraint('credential_ref', name=op.f('uq_credential_credential_ref'))
    )
    with op.batch_alter_table('credential', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credential_snapshot_version'), ['snapshot_version'], unique=False)
        batch_op.create_index(batch_op.f('ix_credential_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index('uq_credential_one_active_per_kind', ['staff_id', 'kind'], unique=True, postgresql_where=sa.text("status = 'active'"), sqlite_where=sa.text("status = 'active'"))

    op.create_table('device_door',
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('door_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_device_door_device_id_device'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['door_id'], ['door.id'], name=op.f('fk_device_door_door_id_door'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_id', 'door_id', name=op.f('pk_device_door'))
    )
    op.create_table('device_nonce',
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('expires_at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_device_nonce_device_id_device'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_id', 'nonce', name=op.f('pk_device_nonce'))
    )
    with op.batch_alter_table('device_nonce', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_nonce_expires_at'), ['expires_at'], unique=False)

    op.create_table('event',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('occurred_at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('device_clock_offset_ms', sa.Integer(), nullable=True),
    sa.Column('received_at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('door_id', sa.Integer(), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('credential_ref', sa.String(length=64), nullable=True),
    sa.Column('granted', sa.Boolean(), nullable=True),
    sa.Column('reason', sa.String(length=40), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=True),
    sa.Column('hash', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_event_device_id_device')),
    sa.ForeignKeyConstraint(['door_id'], ['door.id'], name=op.f('fk_event_door_id_door')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_event_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event')),
    sa.UniqueConstraint('device_id', 'seq', name=op.f('uq_event_device_id_seq'))
    )
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.create_index('ix_event_occurred_at', ['occurred_at'], unique=False)
        batch_op.create_index('ix_event_staff_occurred', ['staff_id', 'occurred_at'], unique=False)

    op.create_table('permission',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('door_id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('created_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['door_id'], ['door.id'], name=op.f('fk_permission_door_id_door'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['group_id'], ['access_group.id'], name=op.f('fk_permission_group_id_access_group'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['schedule_id'], ['schedule.id'], name=op.f('fk_permission_schedule_id_schedule')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_permission')),
    sa.UniqueConstraint('group_id', 'door_id', 'schedule_id', name=op.f('uq_permission_group_id_door_id_schedule_id'))
    )
    op.create_table('sequence_gap',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('first_seq', sa.BigInteger(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('detected_at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', api.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_sequence_gap_device_id_device'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sequence_gap'))
    )
    with op.batch_alter_table('sequence_gap', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sequence_gap_device_id'), ['device_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sequence_gap', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sequence_gap_device_id'))

    op.drop_table('sequence_gap')
    op.drop_table('permission')
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_index('ix_event_staff_occurred')
        batch_op.drop_index('ix_event_occurred_at')

    op.drop_table('event')
    with op.batch_alter_table('device_nonce', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_nonce_expires_at'))

    op.drop_table('device_nonce')
    op.drop_table('device_door')
    with op.batch_alter_table('credential', schema=None) as batch_op:
        batch_op.drop_index('uq_credential_one_active_per_kind', postgresql_where=sa.text("status = 'active'"), sqlite_where=sa.text("status = 'active'"))
        batch_op.drop_index(batch_op.f('ix_credential_staff_id'))
        batch_op.drop_index(batch_op.f('ix_credential_snapshot_version'))

    op.drop_table('credential')
    op.drop_table('access_group_member')
    op.drop_table('staff')
    op.drop_table('schedule_window')
    op.drop_table('door')
    op.drop_table('device')
    op.drop_table('snapshot_counter')
    op.drop_table('site')
    op.drop_table('schedule')
    op.drop_table('department')
    op.drop_table('closed_day')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
    op.drop_table('access_group')
