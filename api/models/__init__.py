"""ORM models, one module per table or close family. Import them all here for Alembic."""

from .access import AccessGroup, AccessGroupMember, ClosedDay, Permission, Schedule, ScheduleWindow
from .attendance import (
    AttendanceAmendment,
    AttendanceCorrection,
    AttendanceFrozenMonth,
    DayOverride,
    DepartmentSupervisor,
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
from .lock_nonce import LockNonce
from .mail import MailKind, MailOutbox, MailStatus
from .org import Department, Staff
from .overtime import Divergence, OvertimeRequest
from .site import Door, Site
from .user import ApiToken, User, UserSession

__all__ = [
    "AccessGroup",
    "AccessGroupMember",
    "ApiToken",
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
    "Device",
    "DeviceDoor",
    "DeviceNonce",
    "Divergence",
    "Door",
    "Event",
    "IssuedPin",
    "LockAlert",
    "LockCommand",
    "LockNonce",
    "LockLogEntry",
    "LockTelemetry",
    "MailKind",
    "MailOutbox",
    "MailStatus",
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
    "StaffWorkPattern",
    "User",
    "UserSession",
    "WebhookReceipt",
    "WorkPattern",
]
