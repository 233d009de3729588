"""ORM models, one module per table or close family. Import them all here for Alembic."""

from .access import AccessGroup, AccessGroupMember, ClosedDay, Permission, Schedule, ScheduleWindow
from .audit import AuditLog, SnapshotCounter
from .base import Base
from .credential import Credential
from .device import Device, DeviceDoor, DeviceNonce, SequenceGap
from .event import Event
from .org import Department, Staff
from .site import Door, Site

__all__ = [
    "AccessGroup",
    "AccessGroupMember",
    "AuditLog",
    "Base",
    "ClosedDay",
    "Credential",
    "Department",
    "Device",
    "DeviceDoor",
    "DeviceNonce",
    "Door",
    "Event",
    "Permission",
    "Schedule",
    "ScheduleWindow",
    "SequenceGap",
    "Site",
    "SnapshotCounter",
    "Staff",
]
