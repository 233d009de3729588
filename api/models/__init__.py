"""ORM models, one module per table or close family. Import them all here for Alembic."""

from .access import AccessGroup, AccessGroupMember, ClosedDay, Permission, Schedule, ScheduleWindow
from .attendance import (
    AttendanceAmendment,
    AttendanceCorrection,
    AttendanceFrozenMonth,
    DayOverride,
    DepartmentSupervisor,
    Leave,
    StaffCharSubstitute,
    StaffWorkPattern,
    WorkPattern,
)
from .audit import AuditLog, SnapshotCounter
from .base import Base
from .credential import Credential
from .device import Device, DeviceDoor, DeviceNonce, SequenceGap
from .enrollment import CardEnrollment
from .event import Event
from .export import ExportProfile, ExportRun
from .facility import (
    Booking,
    Facility,
    IssuedPin,
    LockAlert,
    LockCommand,
    LockLogEntry,
    LockTelemetry,
    PinMaster,
    SmartLock,
    WebhookReceipt,
)
from .org import Department, Staff
from .overtime import Divergence, OvertimeRequest
from .site import Door, Site

__all__ = [
    "AccessGroup",
    "AccessGroupMember",
    "AttendanceAmendment",
    "AttendanceCorrection",
    "AttendanceFrozenMonth",
    "AuditLog",
    "Base",
    "Booking",
    "CardEnrollment",
    "ClosedDay",
    "Credential",
    "DayOverride",
    "Department",
    "DepartmentSupervisor",
    "Leave",
    "Device",
    "DeviceDoor",
    "DeviceNonce",
    "Divergence",
    "Door",
    "Event",
    "IssuedPin",
    "LockAlert",
    "LockCommand",
    "LockLogEntry",
    "LockTelemetry",
    "ExportProfile",
    "ExportRun",
    "Facility",
    "OvertimeRequest",
    "Permission",
    "PinMaster",
    "Schedule",
    "ScheduleWindow",
    "SequenceGap",
    "Site",
    "SmartLock",
    "SnapshotCounter",
    "Staff",
    "StaffCharSubstitute",
    "StaffWorkPattern",
    "WebhookReceipt",
    "WorkPattern",
]
