"""Two supervisors' sessions deciding the same application: the row lock serialises them and
the second sees the first's decision (polar TestConcurrentActivation style)."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from api.errors import Conflict
from api.models import DepartmentSupervisor, OvertimeRequest, Staff
from api.overtime import service

from . import factories as f


def test_concurrent_decisions_on_one_application(database):
    if database.engine.dialect.name != "postgresql":
        pytest.fail("row locks need PostgreSQL; the tests run on PostgreSQL")
    with database.session() as s:
        dept = f.department(s)
        applicant = f.staff(s, dept, "A0001")
        boss1 = f.staff(s, dept, "B0001", "課長 一郎")
        boss2 = f.staff(s, dept, "B0002", "課長補佐 二郎")
        for b in (boss1, boss2):
            s.add(DepartmentSupervisor(department_id=dept.id, staff_id=b.id,
                                       effective_from=date(2020, 4, 1)))
        req = service.apply(s, staff=applicant, work_date=date(2026, 11, 26),
                            start_at=f.jst(2026, 11, 26, 17, 15),
                            end_at=f.jst(2026, 11, 26, 19), reason="議会対応")
        s.commit()
        rid, b1, b2 = req.id, boss1.id, boss2.id

    first = database.session()
    service.decide(first, rid, approver=first.get(Staff, b1), approve=True)  # holds the lock
    outcome: list[object] = []

    def second() -> None:
        with database.session() as s2:
            try:
                service.decide(s2, rid, approver=s2.get(Staff, b2), approve=False)
                s2.commit()
                outcome.append("decided")
            except Conflict as err:
                outcome.append(err)

    t = threading.Thread(target=second)
    t.start()
    t.join(timeout=1)
    assert t.is_alive()  # blocked on the row lock
    first.commit()
    first.close()
    t.join(timeout=10)
    assert len(outcome) == 1 and isinstance(outcome[0], Conflict)
    with database.session() as s:
        row = s.get(OvertimeRequest, rid)
        assert row is not None and row.status == "approved" and row.decided_by == "B0001"
