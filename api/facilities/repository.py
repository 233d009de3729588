from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Facility


def get(session: Session, facility_id: int) -> Facility | None:
    return session.get(Facility, facility_id)


def get_by_code(session: Session, code: str) -> Facility | None:
    return session.scalar(select(Facility).where(Facility.code == code))


def list_all(session: Session) -> Sequence[Facility]:
    return session.scalars(select(Facility).order_by(Facility.code)).all()
