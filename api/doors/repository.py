"""Queries for sites and doors."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.audit.admin import paginate
from api.models import Door, Site
from gate.door import DoorMode


def get_site(session: Session, site_id: int) -> Site | None:
    return session.get(Site, site_id)


def get_site_by_code(session: Session, code: str) -> Site | None:
    return session.execute(select(Site).where(Site.code == code)).scalar_one_or_none()


def list_sites(session: Session, *, limit: int, offset: int) -> tuple[list[Site], int]:
    return paginate(session, select(Site).order_by(Site.code), limit=limit, offset=offset)


def site_has_doors(session: Session, site_id: int) -> bool:
    return session.execute(select(Door.id).where(Door.site_id == site_id).limit(1)
                           ).first() is not None


def get_door(session: Session, door_id: int, *, lock: bool = False) -> Door | None:
    stmt = select(Door).where(Door.id == door_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def get_door_by_code(session: Session, code: str) -> Door | None:
    return session.execute(select(Door).where(Door.code == code)).scalar_one_or_none()


def list_doors(session: Session, *, site_id: int | None, mode: DoorMode | None, limit: int,
               offset: int) -> tuple[list[Door], int]:
    stmt = select(Door).order_by(Door.code)
    if site_id is not None:
        stmt = stmt.where(Door.site_id == site_id)
    if mode is not None:
        stmt = stmt.where(Door.mode == mode)
    return paginate(session, stmt, limit=limit, offset=offset)
