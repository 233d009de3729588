"""Every router of the service, in one list; each domain adds its own line."""

from __future__ import annotations

import importlib

from fastapi import APIRouter

# Module paths of ``router`` objects. A module listed here must exist.
ROUTER_MODULES: list[str] = [
    "api.health",
    "api.facilities.endpoints",
    "api.bookings.endpoints",
    "api.locks.endpoints",
    "api.bookings.rekey",
    "api.devices.endpoints",
    "api.device_config.endpoints",
    "api.device_config.device_endpoints",
    "api.device_protocol.endpoints",
    "api.staff.endpoints",
    "api.credentials.endpoints",
    "api.doors.endpoints",
    "api.access.endpoints",
    "api.events.endpoints",
    "api.auditlog.endpoints",
    "api.attendance.endpoints",
    "api.overtime.endpoints",
    "api.exports.endpoints",
    "api.enrollment.endpoints",
    "api.mail.endpoints",
    "api.outbound.endpoints",
    "api.users.endpoints",
    "api.console.pages",
    "api.console.self_service",
    "api.console.facility",
    "api.console.attendance",
    "api.console.ops",
    "api.console.staff_admin",
    "api.console.access",
]


def all_routers() -> list[APIRouter]:
    return [importlib.import_module(m).router for m in ROUTER_MODULES]
