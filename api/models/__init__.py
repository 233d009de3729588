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
from .audit import AuditLog, SnapshotChange, SnapshotCounter
from .base import Base
from .credential import Credential
from .device import Device, DeviceConfig, DeviceDoor, DeviceNonce, DeviceStatus, SequenceGap
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
from .outbound import (
    OutboundDelivery,
    OutboundEvent,
    OutboundStatus,
    OutboundTarget,
    WebhookEndpoint,
)
from .overtime import Divergence, OvertimeRequest
from .site import Door, Site
from .user import ApiToken, User, UserSession
from .worker import ChainName, HeartbeatAlarm, JobKind, RetentionSummary, WorkerJob

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
    "ChainName",
    "CardEnrollment",
    "ClosedDay",
    "Credential",
    "DayOverride",
    "Department",
    "DepartmentSupervisor",
    "Leave",
    "Device",
    "DeviceConfig",
    "DeviceDoor",
    "DeviceNonce",
    "DeviceStatus",
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
    "HeartbeatAlarm",
    "JobKind",
    "OutboundDelivery",
    "OutboundEvent",
    "OutboundStatus",
    "OutboundTarget",
    "RetentionSummary",
    "WebhookEndpoint",
    "WorkerJob",
    "OvertimeRequest",
    "Permission",
    "PinMaster",
    "Schedule",
    "ScheduleWindow",
    "SequenceGap",
    "Site",
    "SmartLock",
    "SnapshotChange",
    "SnapshotCounter",
    "Staff",
    "StaffCharSubstitute",
    "StaffWorkPattern",
    "User",
    "UserSession",
    "WebhookReceipt",
    "WorkPattern",
]
