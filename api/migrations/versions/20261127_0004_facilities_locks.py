"""facilities, locks, bookings, issued PIN records, lock logs, telemetry and alerts

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-27 06:10:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.models.base

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('facility',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('contact', sa.String(length=200), nullable=False),
    sa.Column('instructions', sa.Text(), nullable=False),
    sa.Column('created_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_facility')),
    sa.UniqueConstraint('code', name=op.f('uq_facility_code'))
    )
    op.create_table('pin_master',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.LargeBinary(length=12), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(length=64), nullable=False),
    sa.Column('created_at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pin_master'))
    )
    op.create_table('webhook_receipt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signature', sa.String(length=64), nullable=False),
    sa.Column('received_at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_receipt')),
    sa.UniqueConstraint('signature', name=op.f('uq_webhook_receipt_signature'))
    )
    op.create_table('booking',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('start_at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('booker_name', sa.String(length=100), nullable=False),
    sa.Column('booker_email', sa.String(length=254), nullable=False),
    sa.Column('payment_status', sa.String(length=10), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('external_ref', sa.String(length=64), nullable=True),
    sa.Column('paid_at', api.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', api.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('emailed_at', api.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], name=op.f('fk_booking_facility_id_facility')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking')),
    sa.UniqueConstraint('external_ref', name=op.f('uq_booking_external_ref'))
    )
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_facility_id'), ['facility_id'], unique=False)

    op.create_table('smart_lock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('lock_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('generation', sa.BigInteger(), nullable=False),
    sa.Column('slot_limit', sa.Integer(), nullable=False),
    sa.Column('grace_early', sa.Integer(), nullable=False),
    sa.Column('grace_late', sa.Integer(), nullable=False),
    sa.Column('battery_percent', sa.Float(), nullable=True),
    sa.Column('battery_at', api.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_contact_at', api.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('clock_offset_s', sa.Float(), nullable=True),
    sa.Column('drift_ppm', sa.Float(), nullable=True),
    sa.Column('log_seq', sa.BigInteger(), nullable=False),
    sa.Column('log_hash', sa.String(length=64), nullable=True),
    sa.Column('slots_full', sa.Boolean(), nullable=False),
    sa.Column('created_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', api.models.base.UTCDateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], name=op.f('fk_smart_lock_facility_id_facility'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_smart_lock')),
    sa.UniqueConstraint('lock_id', name=op.f('uq_smart_lock_lock_id'))
    )
    with op.batch_alter_table('smart_lock', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_smart_lock_facility_id'), ['facility_id'], unique=False)

    op.create_table('issued_pin',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('lock_id', sa.Integer(), nullable=False),
    sa.Column('generation', sa.BigInteger(), nullable=False),
    sa.Column('start_slot', sa.BigInteger(), nullable=False),
    sa.Column('duration_slots', sa.Integer(), nullable=False),
    sa.Column('variant', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('issued_at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', api.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revocation_state', sa.String(length=10), nullable=False),
    sa.Column('revocation_confirmed_at', api.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['booking_id'], ['booking.id'], name=op.f('fk_issued_pin_booking_id_booking'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lock_id'], ['smart_lock.id'], name=op.f('fk_issued_pin_lock_id_smart_lock'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issued_pin')),
    sa.UniqueConstraint('lock_id', 'generation', 'start_slot', 'duration_slots', 'variant', name=op.f('uq_issued_pin_lock_id_generation_start_slot_duration_slots_variant'))
    )
    with op.batch_alter_table('issued_pin', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issued_pin_booking_id'), ['booking_id'], unique=False)
        batch_op.create_index('ix_issued_pin_lock_window', ['lock_id', 'start_slot'], unique=False)

    op.create_table('lock_alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lock_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.String(length=200), nullable=False),
    sa.Column('dedupe_key', sa.String(length=120), nullable=False),
    sa.Column('created_at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lock_id'], ['smart_lock.id'], name=op.f('fk_lock_alert_lock_id_smart_lock'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lock_alert')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_lock_alert_dedupe_key'))
    )
    with op.batch_alter_table('lock_alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lock_alert_lock_id'), ['lock_id'], unique=False)

    op.create_table('lock_command',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lock_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('issue_slot', sa.BigInteger(), nullable=True),
    sa.Column('counter', sa.Integer(), nullable=True),
    sa.Column('created_at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', api.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['lock_id'], ['smart_lock.id'], name=op.f('fk_lock_command_lock_id_smart_lock'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lock_command'))
    )
    with op.batch_alter_table('lock_command', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lock_command_lock_id'), ['lock_id'], unique=False)

    op.create_table('lock_log_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lock_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lock_clock_at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('received_at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lock_id'], ['smart_lock.id'], name=op.f('fk_lock_log_entry_lock_id_smart_lock'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lock_log_entry')),
    sa.UniqueConstraint('lock_id', 'seq', name=op.f('uq_lock_log_entry_lock_id_seq'))
    )
    op.create_table('lock_telemetry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lock_id', sa.Integer(), nullable=False),
    sa.Column('at', api.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('battery_percent', sa.Float(), nullable=False),
    sa.Column('openings', sa.Integer(), nullable=False),
    sa.Column('clock_offset_s', sa.Float(), nullable=True),
    sa.Column('clock_set', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['lock_id'], ['smart_lock.id'], name=op.f('fk_lock_telemetry_lock_id_smart_lock'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lock_telemetry'))
    )
    with op.batch_alter_table('lock_telemetry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lock_telemetry_lock_id'), ['lock_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('lock_telemetry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lock_telemetry_lock_id'))

    op.drop_table('lock_telemetry')
    op.drop_table('lock_log_entry')
    with op.batch_alter_table('lock_command', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lock_command_lock_id'))

    op.drop_table('lock_command')
    with op.batch_alter_table('lock_alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lock_alert_lock_id'))

    op.drop_table('lock_alert')
    with op.batch_alter_table('issued_pin', schema=None) as batch_op:
        batch_op.drop_index('ix_issued_pin_lock_window')
        batch_op.drop_index(batch_op.f('ix_issued_pin_booking_id'))

    op.drop_table('issued_pin')
    with op.batch_alter_table('smart_lock', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_smart_lock_facility_id'))

    op.drop_table('smart_lock')
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_booking_facility_id'))

    op.drop_table('booking')
    op.drop_table('webhook_receipt')
    op.drop_table('pin_master')
    op.drop_table('facility')
