"""Queries for exports: profiles and runs."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.models import ExportProfile, ExportRun


def profile(session: Session, name: str, dataset: str,
            version: int | None = None) -> ExportProfile | None:
    """The named profile of a dataset: the given version, or the newest."""
    q = select(ExportProfile).where(ExportProfile.name == name, ExportProfile.dataset == dataset)
    if version is not None:
        q = q.where(ExportProfile.version == version)
    return session.execute(q.order_by(ExportProfile.version.desc()).limit(1)).scalar_one_or_none()


def latest_profile_version(session: Session, name: str) -> int | None:
    return session.execute(select(func.max(ExportProfile.version))
                           .where(ExportProfile.name == name)).scalar()


def profiles(session: Session) -> list[ExportProfile]:
    q = select(ExportProfile).order_by(ExportProfile.name, ExportProfile.version)
    return list(session.execute(q).scalars())


def runs(session: Session, limit: int = 200) -> list[ExportRun]:
    q = select(ExportRun).order_by(ExportRun.id.desc()).limit(limit)
    return list(session.execute(q).scalars())


def last_final_punch_export_after(session: Session, month_start: date) -> datetime | None:
    """When a final punches export of a month after ``month_start`` last ran."""
    return session.execute(select(func.max(ExportRun.created_at)).where(
        ExportRun.dataset == "punches", ExportRun.provisional.is_(False),
        ExportRun.period_start > month_start)).scalar()
