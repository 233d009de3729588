"""A supervisor sees per-person data only for the staff of the 課 they supervise.

Routes listed in ``SUPERVISOR_SCOPE`` name the query parameter that says whose data is asked
for; a supervisor must give it, and it must be inside their departments on the given day."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from api.errors import Forbidden

from . import repository as repo

# route path template → the query parameter naming a staff member or a department
SUPERVISOR_SCOPE: dict[str, str] = {
    "/admin/attendance/daily": "staff_id",
    "/admin/overtime/requests": "staff_id",
    "/admin/overtime/divergences": "department_id",
    "/admin/overtime/caps": "department_id",
}
SCOPED_PREFIXES = ("/admin/attendance/", "/admin/overtime/")


def check_supervisor(session: Session, *, staff_id: int | None, path: str,
                     params: list[tuple[str, str]], day: date) -> None:
    """403 unless the request stays inside the supervisor's own departments."""
    param = SUPERVISOR_SCOPE.get(path)
    if param is None:
        if path.startswith(SCOPED_PREFIXES):  # per-person data not declared above
            raise Forbidden("a supervisor sees this only through their own department")
        return
    departments = repo.supervised_departments(session, staff_id, day) if staff_id else set()
    given = [v for k, v in params if k == param]
    raw = given[0] if len(given) == 1 else ""  # a repeated parameter is refused
    if not raw.isdigit():
        raise Forbidden(f"a supervisor must give {param} within their own department",
                        field=param)
    value = int(raw)
    department = value if param == "department_id" else repo.department_of(session, value)
    if department not in departments:
        raise Forbidden(f"{param} {value} is outside the departments you supervise",
                        field=param)
