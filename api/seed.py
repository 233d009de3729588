"""The demo town hall (土庄町-like), created through the admin services so every row is
validated and audited (actor ``seed``). No credentials and no devices: the demo enrols cards
and creates readers itself. No individual number anywhere.

What it makes:
- departments 総務課 (somu), 税務課 (zeimu), 住民課 (jumin), 情報政策室 (joho);
- 10 staff, 職員番号 1001–1010 (made-up names);
- site 本庁舎 (honcho) with doors 書庫 (shoko, access), サーバ室 (server, access, card+pin),
  休日通用口 (kyujitsu, access, fail_open), and clock points 1階打刻 (clock-1f) and
  2階打刻 (clock-2f);
- schedules 平日 (weekday: Mon–Fri 8:00–20:00, not on closed days) and 常時 (always: all
  week, closed days included);
- groups 全職員 (all_staff), 書庫利用者 (archive_users: 1001–1004), 情報政策 (info_policy:
  1007, 1008), and permissions:
  全職員 × both clock points × 常時, 全職員 × 休日通用口 × 常時, 書庫利用者 × 書庫 × 平日,
  情報政策 × サーバ室 × 常時, 情報政策 × 書庫 × 平日.

So 1001 at 書庫 on a weekday 8:00–20:00 is granted (outside it: ``outside_schedule``), and
anyone but 1007/1008 at サーバ室 is denied (with a card alone ``pin_required`` comes first,
since the door wants card+PIN; after a correct PIN, ``no_permission``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from api.access import repository as access_repository
from api.access import service as access_service
from api.access.schemas import GroupCreate, PermissionCreate, ScheduleCreate, WindowIn
from api.doors import repository as doors_repository
from api.doors import service as doors_service
from api.doors.schemas import DoorCreate, SiteCreate
from api.staff import repository as staff_repository
from api.staff import service as staff_service
from api.staff.schemas import DepartmentCreate, StaffCreate
from gate.door import Assurance, DoorMode

ACTOR = "seed"

DEPARTMENTS = {"somu": "総務課", "zeimu": "税務課", "jumin": "住民課", "joho": "情報政策室"}
# 職員番号, 氏名, カナ, department, employment type
STAFF = [
    ("1001", "山田 太郎", "ヤマダ タロウ", "somu", "regular"),
    ("1002", "佐藤 花子", "サトウ ハナコ", "somu", "regular"),
    ("1003", "鈴木 一郎", "スズキ イチロウ", "zeimu", "regular"),
    ("1004", "高橋 美咲", "タカハシ ミサキ", "zeimu", "fiscal_year"),
    ("1005", "田中 健", "タナカ ケン", "jumin", "regular"),
    ("1006", "伊藤 さくら", "イトウ サクラ", "jumin", "fiscal_year"),
    ("1007", "渡辺 誠", "ワタナベ マコト", "joho", "regular"),
    ("1008", "中村 由美", "ナカムラ ユミ", "joho", "regular"),
    ("1009", "小林 翔太", "コバヤシ ショウタ", "somu", "temporary"),
    ("1010", "加藤 恵", "カトウ メグミ", "jumin", "regular"),
]
SITE = ("honcho", "本庁舎")
# code, name, mode, assurance, fail_open
DOORS = [
    ("shoko", "書庫", DoorMode.ACCESS, Assurance.CARD, False),
    ("server", "サーバ室", DoorMode.ACCESS, Assurance.CARD_PIN, False),
    ("kyujitsu", "休日通用口", DoorMode.ACCESS, Assurance.CARD, True),
    ("clock-1f", "1階打刻", DoorMode.CLOCK, Assurance.CARD, False),
    ("clock-2f", "2階打刻", DoorMode.CLOCK, Assurance.CARD, False),
]
SCHEDULES = {
    "weekday": ("平日", False, [(d, 8 * 60, 20 * 60) for d in range(5)]),
    "always": ("常時", True, [(d, 0, 1440) for d in range(7)]),
}
GROUPS = {
    "all_staff": ("全職員", [s[0] for s in STAFF]),
    "archive_users": ("書庫利用者", ["1001", "1002", "1003", "1004"]),
    "info_policy": ("情報政策", ["1007", "1008"]),
}
PERMISSIONS = [  # group, door, schedule
    ("all_staff", "clock-1f", "always"),
    ("all_staff", "clock-2f", "always"),
    ("all_staff", "kyujitsu", "always"),
    ("archive_users", "shoko", "weekday"),
    ("info_policy", "server", "always"),
    ("info_policy", "shoko", "weekday"),
]


def _existing(session: Session) -> dict[str, Any] | None:
    site = doors_repository.get_site_by_code(session, SITE[0])
    if site is None:
        return None
    out: dict[str, Any] = {"site": {SITE[0]: site.id}, "departments": {}, "doors": {},
                           "staff": {}, "groups": {}, "schedules": {}}
    for code in DEPARTMENTS:
        dept = staff_repository.get_department_by_code(session, code)
        if dept is not None:
            out["departments"][code] = dept.id
    for number, *_ in STAFF:
        staff = staff_repository.get_staff_by_number(session, number)
        if staff is not None:
            out["staff"][number] = staff.id
    for code, *_ in DOORS:
        door = doors_repository.get_door_by_code(session, code)
        if door is not None:
            out["doors"][code] = door.id
    for code, (name, _) in GROUPS.items():
        group = access_repository.get_group_by_name(session, name)
        if group is not None:
            out["groups"][code] = group.id
    for code, (name, *_) in SCHEDULES.items():
        sched = access_repository.get_schedule_by_name(session, name)
        if sched is not None:
            out["schedules"][code] = sched.id
    return out


def seed_demo_town(session: Session, *, active_from: date = date(2020, 4, 1)) -> dict[str, Any]:
    """Create the demo town hall (once; a second call returns the existing ids).

    Returns ids by code: ``{"site": {code: id}, "departments": {code: id}, "doors": {code: id},
    "staff": {職員番号: id}, "groups": {code: id}, "schedules": {code: id}}``. Only flushes:
    the caller commits."""
    existing = _existing(session)
    if existing is not None:
        return existing
    out: dict[str, Any] = {"departments": {}, "doors": {}, "staff": {}, "groups": {},
                           "schedules": {}}
    for code, name in DEPARTMENTS.items():
        dept = staff_service.create_department(session, DepartmentCreate(code=code, name=name),
                                               actor=ACTOR)
        out["departments"][code] = dept.id
    for number, name, kana, dept_code, employment in STAFF:
        staff = staff_service.create_staff(session, StaffCreate(
            staff_number=number, name=name, name_kana=kana,
            department_id=out["departments"][dept_code], employment_type=employment,
            active_from=active_from), actor=ACTOR)
        out["staff"][number] = staff.id
    site = doors_service.create_site(session, SiteCreate(code=SITE[0], name=SITE[1]),
                                     actor=ACTOR)
    out["site"] = {SITE[0]: site.id}
    for code, name, mode, assurance, fail_open in DOORS:
        door = doors_service.create_door(session, DoorCreate(
            site_id=site.id, code=code, name=name, mode=mode, assurance=assurance,
            fail_open=fail_open), actor=ACTOR)
        out["doors"][code] = door.id
    for code, (name, allow_closed, windows) in SCHEDULES.items():
        sched = access_service.create_schedule(session, ScheduleCreate(
            name=name, allow_closed_days=allow_closed,
            windows=[WindowIn(weekday=d, start_minute=s, end_minute=e) for d, s, e in windows]),
            actor=ACTOR)
        out["schedules"][code] = sched.id
    for code, (name, members) in GROUPS.items():
        group = access_service.create_group(session, GroupCreate(name=name), actor=ACTOR)
        access_service.set_members(session, group.id, [out["staff"][n] for n in members],
                                   actor=ACTOR)
        out["groups"][code] = group.id
    for group_code, door_code, sched_code in PERMISSIONS:
        access_service.create_permission(session, PermissionCreate(
            group_id=out["groups"][group_code], door_id=out["doors"][door_code],
            schedule_id=out["schedules"][sched_code]), actor=ACTOR)
    return out
