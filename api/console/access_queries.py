"""Read-only queries behind the console's access pages: the who-can-enter-what matrix, the
decision preview (through ``api.access.decisions`` and so ``gate.policy``) and one reader's
details, with internal ids turned into 職員番号, names and door names."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from api.access import decisions
from api.devices import repository as device_repo
from api.devices import service as devices
from api.devices.schemas import DeviceRead
from api.models import (
    AccessGroup,
    AccessGroupMember,
    Credential,
    DeviceConfig,
    Door,
    Permission,
    Schedule,
    Site,
    Staff,
)
from api.snapshot.versioning import current
from gate.door import DoorMode
from gate.policy import CredentialStatus, Decision
from gate.protocol import ProtocolStanding, ProtocolVersion, standing

PREVIEW_STEPS = (0, 15, 30, 45, 60)  # minutes from the chosen moment: the next hour
MAX_MATRIX_STAFF = 200


@dataclass(frozen=True)
class DoorColumn:
    id: int  # never shown: the key of the cells
    code: str  # what the permission form sends
    name: str
    site: str
    clock: bool  # a clock point admits every active card holder (gate.policy)


@dataclass(frozen=True)
class Matrix:
    doors: list[DoorColumn]
    groups: list[tuple[str, int, list[list[str]]]]  # name, members, schedules per door
    staff: list[tuple[str, str, list[str], list[list[str]]]]  # number, name, groups, cells
    schedules: list[Schedule]


def door_columns(session: Session) -> list[DoorColumn]:
    rows = session.execute(select(Door.id, Door.code, Door.name, Site.name, Door.mode)
                           .join(Site, Site.id == Door.site_id).order_by(Site.name, Door.name))
    return [DoorColumn(i, c, n, s, DoorMode(m) is DoorMode.CLOCK) for i, c, n, s, m in rows]


def sites(session: Session) -> list[tuple[str, str]]:
    """Every site's code and name, for the door form."""
    return [(c, n) for c, n in session.execute(select(Site.code, Site.name).order_by(Site.name))]


def _staff(session: Session, q: str, on: date) -> list[Staff]:
    stmt = select(Staff).where(Staff.active_from <= on, or_(Staff.active_until.is_(None),
                                                             Staff.active_until >= on))
    if q:  # % and _ typed in the search are characters, not patterns
        stmt = stmt.where(or_(Staff.staff_number == q, Staff.name.contains(q, autoescape=True),
                              Staff.name_kana.contains(q, autoescape=True)))
    return list(session.execute(stmt.order_by(Staff.staff_number)
                                .limit(MAX_MATRIX_STAFF)).scalars())


def matrix(session: Session, q: str, *, on: date) -> Matrix:
    """Groups × doors and staff × doors: the schedules under which each may enter each door
    (a staff member through every group they belong to)."""
    doors = door_columns(session)
    names = {s.id: s.name for s in session.execute(select(Schedule)).scalars()}
    granted: dict[tuple[int, int], set[str]] = defaultdict(set)
    for p in session.execute(select(Permission)).scalars():
        granted[(p.group_id, p.door_id)].add(names[p.schedule_id])
    members: dict[int, set[int]] = defaultdict(set)
    for gid, sid in session.execute(select(AccessGroupMember.group_id,
                                           AccessGroupMember.staff_id)):
        members[sid].add(gid)
    groups = list(session.execute(select(AccessGroup).order_by(AccessGroup.name)).scalars())
    group_names = {g.id: g.name for g in groups}
    group_rows = [(g.name, sum(g.id in m for m in members.values()),
                   [sorted(granted[(g.id, d.id)]) for d in doors]) for g in groups]
    staff_rows = []
    for person in _staff(session, q, on):
        mine = members.get(person.id, set())
        cells = [sorted(set().union(*(granted[(g, d.id)] for g in mine))) for d in doors]
        staff_rows.append((person.staff_number, person.name,
                           sorted(group_names[g] for g in mine), cells))
    schedules = list(session.execute(select(Schedule).options(selectinload(Schedule.windows))
                                     .order_by(Schedule.name)).scalars())
    return Matrix(doors, group_rows, staff_rows, schedules)


def find_staff(session: Session, q: str, *, on: date) -> list[Staff]:
    """Whom a preview search means: the 職員番号 itself, or everyone whose name matches."""
    exact = session.execute(select(Staff).where(Staff.staff_number == q)).scalar_one_or_none()
    return [exact] if exact is not None else _staff(session, q, on)[:20]


def card_of(session: Session, staff_id: int) -> Credential | None:
    """The card a preview taps: the person's card in use, else their latest one (so a lost or
    suspended card shows why it is refused)."""
    cards = list(session.execute(select(Credential).where(Credential.staff_id == staff_id)
                                 .order_by(Credential.id.desc())).scalars())
    return next((c for c in cards if c.status == CredentialStatus.ACTIVE), cards[0] if cards else None)


@dataclass(frozen=True)
class Preview:
    card: Credential | None  # the card decided for (None: they have none)
    moments: list[datetime]
    rows: list[tuple[DoorColumn, list[Decision]]]


def preview(session: Session, staff: Staff, *, now: datetime, tz: ZoneInfo,
            day_change: time) -> Preview:
    """Each door's decision for the person's card at ``now`` and every quarter hour of the
    next hour, by ``gate.policy`` (a door asking for a PIN is decided as if it was typed)."""
    columns = door_columns(session)
    doors = list(session.execute(select(Door).where(Door.id.in_([c.id for c in columns])))
                 .scalars())
    moments = [now + timedelta(minutes=m) for m in PREVIEW_STEPS]
    card = card_of(session, staff.id)
    data = decisions.load(session, doors, card, start=moments[0], end=moments[-1], tz=tz,
                          day_change=day_change)
    return Preview(card, moments, [(c, [data.decide(c.id, t, pin_verified=True)
                                        for t in moments]) for c in columns])


@dataclass(frozen=True)
class DeviceDetail:
    device: DeviceRead
    site: str
    doors: list[str]
    standing: ProtocolStanding | None
    agent_protocol: str
    service_config_version: int | None  # the bundle the service holds for it
    service_snapshot_version: int


def device_detail(session: Session, name: str, service: ProtocolVersion) -> DeviceDetail | None:
    row = device_repo.get_by_name(session, name)
    if row is None:
        return None
    read = devices.get(session, row.id)
    site = session.get(Site, row.site_id) if row.site_id is not None else None
    door_names = list(session.execute(select(Door.name).where(Door.id.in_(read.door_ids))
                                      .order_by(Door.name)).scalars())
    config = session.get(DeviceConfig, row.id)
    spoken = row.agent_protocol
    return DeviceDetail(
        device=read, site=site.name if site else "", doors=door_names,
        standing=standing(service, ProtocolVersion.parse(spoken)) if spoken else None,
        agent_protocol=spoken or "",
        service_config_version=config.config_version if config else None,
        service_snapshot_version=current(session))
