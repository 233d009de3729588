"""Queries for overtime requests and 乖離 reasons."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from api.attendance.rules import HIGH_EXTERNAL
from api.models import Department, DepartmentSupervisor, Divergence, OvertimeRequest, Staff


def get_for_update(session: Session, request_id: int) -> OvertimeRequest | None:
    return session.get(OvertimeRequest, request_id, with_for_update=True)


def by_external_ref(session: Session, ref: str) -> OvertimeRequest | None:
    q = select(OvertimeRequest).where(OvertimeRequest.external_ref == ref)
    return session.execute(q).scalar_one_or_none()


def overlapping(session: Session, staff_id: int, start_at: datetime,
                end_at: datetime) -> OvertimeRequest | None:
    """A pending or approved request of the staff member overlapping [start_at, end_at)."""
    q = select(OvertimeRequest).where(
        OvertimeRequest.staff_id == staff_id, OvertimeRequest.status.in_(("pending", "approved")),
        OvertimeRequest.start_at < end_at, OvertimeRequest.end_at > start_at).limit(1)
    return session.execute(q).scalars().first()


def list_requests(session: Session, *, staff_id: int | None = None,
                  department_ids: list[int] | None = None, status: str | None = None,
                  start: date | None = None, end: date | None = None,
                  limit: int = 500) -> list[OvertimeRequest]:
    q = select(OvertimeRequest)
    if staff_id is not None:
        q = q.where(OvertimeRequest.staff_id == staff_id)
    if department_ids is not None:
        q = q.where(OvertimeRequest.department_id.in_(department_ids))
    if status is not None:
        q = q.where(OvertimeRequest.status == status)
    if start is not None:
        q = q.where(OvertimeRequest.work_date >= start)
    if end is not None:
        q = q.where(OvertimeRequest.work_date <= end)
    q = q.order_by(OvertimeRequest.work_date, OvertimeRequest.id).limit(limit)
    return list(session.execute(q).scalars())


def staff_ids_of_department(session: Session, department_id: int) -> list[int]:
    q = select(Staff.id).where(Staff.department_id == department_id)
    return [r[0] for r in session.execute(q)]


def high_external_staff(session: Session, staff_ids: Sequence[int]) -> set[int]:
    """Those of ``staff_ids`` in a 他律的業務 department (the 100 h monthly cap)."""
    q = select(Staff.id).join(Department, Department.id == Staff.department_id).where(
        Department.overtime_class == HIGH_EXTERNAL, Staff.id.in_(list(staff_ids)))
    return {r[0] for r in session.execute(q)}


def divergences(session: Session, start: date, end: date,
                staff_ids: list[int]) -> list[Divergence]:
    q = select(Divergence).where(Divergence.business_date >= start,
                                 Divergence.business_date <= end,
                                 Divergence.staff_id.in_(staff_ids))
    return list(session.execute(q).scalars())


def divergence_for(session: Session, staff_id: int, day: date) -> Divergence | None:
    q = select(Divergence).where(Divergence.staff_id == staff_id,
                                 Divergence.business_date == day)
    return session.execute(q).scalar_one_or_none()


def divergence_get(session: Session, divergence_id: int) -> Divergence | None:
    return session.get(Divergence, divergence_id, with_for_update=True)


def special_months(session: Session, start: date, end: date
                   ) -> dict[int, frozenset[tuple[int, int]]]:
    """Per staff member, the months (year, month) with an approved 特例業務 overtime order
    between ``start`` and ``end``: an order marks only its own month."""
    q = select(OvertimeRequest.staff_id, OvertimeRequest.work_date).where(
        OvertimeRequest.special.is_(True), OvertimeRequest.status == "approved",
        OvertimeRequest.work_date >= start, OvertimeRequest.work_date <= end).distinct()
    out: dict[int, set[tuple[int, int]]] = defaultdict(set)
    for sid, d in session.execute(q):
        out[sid].add((d.year, d.month))
    return {sid: frozenset(v) for sid, v in out.items()}


def pending_for_supervisor(session: Session, supervisor_id: int,
                           limit: int = 500) -> list[OvertimeRequest]:
    """Pending requests in a department that ``supervisor_id`` supervises on the request's own
    work date, their own excepted: the same test as the decision itself, so no "today" is
    involved."""
    sup = DepartmentSupervisor
    q = (select(OvertimeRequest).join(sup, sup.department_id == OvertimeRequest.department_id)
         .where(sup.staff_id == supervisor_id, OvertimeRequest.status == "pending",
                OvertimeRequest.staff_id != supervisor_id,
                sup.effective_from <= OvertimeRequest.work_date,
                or_(sup.effective_until.is_(None), sup.effective_until >= OvertimeRequest.work_date))
         .order_by(OvertimeRequest.work_date, OvertimeRequest.id).distinct().limit(limit))
    return list(session.execute(q).scalars())
