"""Read-only queries behind the console's attendance pages: departments, pending corrections
and leave, with internal ids turned into 職員番号 and names before a template sees them."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.attendance import repository as attendance_repo
from api.models import AttendanceCorrection, Department, Staff


@dataclass(frozen=True)
class DepartmentRow:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class CorrectionRow:
    id: int
    number: str  # 職員番号
    name: str
    business_date: date
    kind: str  # in | out
    corrected_at: datetime
    reason: str
    author: str
    status: str
    approver: str | None


def departments(session: Session, only: Collection[int] | None = None) -> list[DepartmentRow]:
    """Every department by code (only those in ``only`` when given)."""
    q = select(Department.id, Department.code, Department.name).order_by(Department.code)
    if only is not None:
        q = q.where(Department.id.in_(list(only)))
    return [DepartmentRow(*r) for r in session.execute(q)]


def corrections(session: Session, *, pending: bool, limit: int = 100) -> list[CorrectionRow]:
    """Corrections awaiting a decision (oldest first) or the latest decided ones."""
    c = AttendanceCorrection
    q = (select(c, Staff.staff_number, Staff.name).join(Staff, Staff.id == c.staff_id)
         .where((c.status == "pending") if pending else (c.status != "pending"))
         .order_by(c.id if pending else c.id.desc()).limit(limit))
    return [CorrectionRow(r.id, number, name, r.business_date, r.kind, r.corrected_at,
                          r.reason, r.author, r.status, r.approver)
            for r, number, name in session.execute(q)]


def leave_kinds(session: Session, day: date, staff_ids: list[int]) -> dict[int, list[str]]:
    """The kinds of leave (年次休暇, 特別休暇, 病気休暇) each person has on the day."""
    out: dict[int, list[str]] = {}
    for row in attendance_repo.leaves(session, day, day, staff_ids):
        out.setdefault(row.staff_id, []).append(row.kind)
    return out
