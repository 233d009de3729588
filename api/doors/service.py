"""Sites and doors. Doors are decision data: every door change bumps the snapshot version."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.audit.admin import row_view
from api.audit.service import record
from api.errors import BadRequest, Conflict, NotFound
from api.models import Door, Site
from api.snapshot.versioning import bump

from . import repository
from .schemas import DoorCreate, DoorUpdate, SiteCreate, SiteUpdate


def _no_nulls(changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if value is None:
            raise BadRequest(f"{key} cannot be null", field=key)


def get_site_or_raise(session: Session, site_id: int) -> Site:
    site = repository.get_site(session, site_id)
    if site is None:
        raise NotFound(f"site {site_id} not found", field="id")
    return site


def create_site(session: Session, data: SiteCreate, *, actor: str) -> Site:
    if repository.get_site_by_code(session, data.code) is not None:
        raise Conflict(f"a site with code {data.code!r} already exists", field="code")
    site = Site(code=data.code, name=data.name)
    session.add(site)
    session.flush()
    record(session, actor=actor, action="site.create", entity="site", entity_id=site.id,
           after=row_view(site))
    return site


def update_site(session: Session, site_id: int, data: SiteUpdate, *, actor: str) -> Site:
    site = get_site_or_raise(session, site_id)
    changes = data.model_dump(exclude_unset=True)
    _no_nulls(changes)
    if "code" in changes and changes["code"] != site.code \
            and repository.get_site_by_code(session, changes["code"]) is not None:
        raise Conflict(f"a site with code {changes['code']!r} already exists", field="code")
    before = row_view(site)
    for key, value in changes.items():
        setattr(site, key, value)
    session.flush()
    if row_view(site) != before:
        record(session, actor=actor, action="site.update", entity="site", entity_id=site.id,
               before=before, after=row_view(site))
    return site


def delete_site(session: Session, site_id: int, *, actor: str) -> None:
    site = get_site_or_raise(session, site_id)
    if repository.site_has_doors(session, site_id):
        raise Conflict("the site still has doors; delete or move them first", field="id")
    before = row_view(site)
    try:
        with session.begin_nested():
            session.delete(site)
            session.flush()
    except IntegrityError as err:
        raise Conflict("the site is still referenced (devices, …)", field="id") from err
    record(session, actor=actor, action="site.delete", entity="site", entity_id=site_id,
           before=before)


def get_door_or_raise(session: Session, door_id: int, *, lock: bool = False) -> Door:
    door = repository.get_door(session, door_id, lock=lock)
    if door is None:
        raise NotFound(f"door {door_id} not found", field="id")
    return door


def create_door(session: Session, data: DoorCreate, *, actor: str) -> Door:
    if repository.get_site(session, data.site_id) is None:
        raise BadRequest(f"site {data.site_id} does not exist", field="site_id")
    if repository.get_door_by_code(session, data.code) is not None:
        raise Conflict(f"a door with code {data.code!r} already exists", field="code")
    door = Door(**data.model_dump())
    session.add(door)
    session.flush()
    bump(session)
    record(session, actor=actor, action="door.create", entity="door", entity_id=door.id,
           after=row_view(door))
    return door


def update_door(session: Session, door_id: int, data: DoorUpdate, *, actor: str,
                action: str = "door.update", reason: str | None = None) -> Door:
    door = get_door_or_raise(session, door_id, lock=True)
    changes = data.model_dump(exclude_unset=True)
    _no_nulls(changes)
    if "site_id" in changes and repository.get_site(session, changes["site_id"]) is None:
        raise BadRequest(f"site {changes['site_id']} does not exist", field="site_id")
    if "code" in changes and changes["code"] != door.code \
            and repository.get_door_by_code(session, changes["code"]) is not None:
        raise Conflict(f"a door with code {changes['code']!r} already exists", field="code")
    before = row_view(door)
    for key, value in changes.items():
        setattr(door, key, value)
    session.flush()
    after = row_view(door)
    if after == before:
        return door
    bump(session)
    record(session, actor=actor, action=action, entity="door", entity_id=door.id,
           before=before, after=after if reason is None else {**after, "reason": reason})
    return door


def set_lockdown(session: Session, door_id: int, *, lockdown: bool, reason: str,
                 actor: str) -> Door:
    """Put a door in lockdown (every tap denied) or lift it."""
    return update_door(session, door_id, DoorUpdate(lockdown=lockdown), actor=actor,
                       action="door.lockdown" if lockdown else "door.lockdown_lift",
                       reason=reason)


def delete_door(session: Session, door_id: int, *, actor: str) -> None:
    """Delete a door with no events (its permissions and device links go with it)."""
    door = get_door_or_raise(session, door_id, lock=True)
    before = row_view(door)
    try:
        with session.begin_nested():
            session.delete(door)
            session.flush()
    except IntegrityError as err:
        raise Conflict("the door has events; it cannot be deleted (put it in lockdown "
                       "instead)", field="id") from err
    bump(session)
    record(session, actor=actor, action="door.delete", entity="door", entity_id=door_id,
           before=before)
