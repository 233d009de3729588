"""The door and schedule forms of the access page: form text into the admin API's own payloads
(``DoorCreate``/``DoorUpdate``, ``ScheduleCreate``/``ScheduleUpdate``), saved through the
doors and access services (so checked and audited as the admin API is), with errors named by
field and, for the weekly hours, by line."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.access import repository as access_repo
from api.access import service as access
from api.access.schemas import ScheduleCreate, ScheduleUpdate, WindowIn
from api.doors import repository as doors_repo
from api.doors import service as doors
from api.doors.schemas import DoorCreate, DoorUpdate
from api.errors import BadRequest, Conflict

from .labels import WEEKDAYS
from .rendering import translations

DOOR_FIELDS = ("door", "code", "name", "site", "mode", "assurance", "unlock_seconds",
               "fail_open", "show_overtime")
SCHEDULE_FIELDS = ("schedule", "name", "allow_closed_days", "windows")
# One window a line: weekdays (月、火 or Mon, Tue) then HH:MM-HH:MM.
WINDOW_LINE = re.compile(r"\s*(?P<days>\D+?)\s+(?P<start>\d{1,2}:\d{2})\s*[-–~〜]\s*"
                         r"(?P<end>\d{1,2}:\d{2})\s*")
DAY_SEPARATOR = re.compile(r"\s*[、,・]\s*")
FLAGS = {"1": True, "0": False}  # a yes/no select; "" leaves the default or the stored value


class FormError(Exception):
    """What is wrong, by form field: "invalid", "taken", or the bad line numbers."""

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__(errors)
        self.errors = errors


def _weekdays() -> dict[str, int]:
    """Weekday names as typed: the catalog's labels (Mon … Sun and 月 … 日)."""
    ja = translations("ja").gettext
    return {name: i for i, w in enumerate(WEEKDAYS) for name in (w, ja(w))}


def parse_windows(text: str) -> list[WindowIn]:
    """The weekly windows typed one a line; FormError names every bad line (1-based)."""
    days = _weekdays()
    windows: list[WindowIn] = []
    bad: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        m = WINDOW_LINE.fullmatch(line)
        try:
            if m is None:
                raise ValueError(line)
            windows += [WindowIn.model_validate({"weekday": days[d], "start_minute": m["start"],
                                                 "end_minute": m["end"]})
                        for d in DAY_SEPARATOR.split(m["days"].strip())]
        except (KeyError, ValueError):  # pydantic's ValidationError is a ValueError
            bad.append(number)
    if bad:
        raise FormError({"windows": bad})
    return windows


def _field_errors(err: ValidationError | BadRequest | Conflict) -> dict[str, Any]:
    """A schema's or a service's error as the form field it is about."""
    code = "taken" if isinstance(err, Conflict) else "invalid"
    if isinstance(err, ValidationError):
        names = [str(e["loc"][0]) if e["loc"] else "name" for e in err.errors()]
    else:
        names = [err.field or "name"]
    return {n.removesuffix("_id"): code for n in names}


def _door_payload(session: Session, field: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {k: field[k].strip() for k in ("code", "name", "mode", "assurance",
                                                          "unlock_seconds") if field[k].strip()}
    data |= {k: FLAGS[field[k]] for k in ("fail_open", "show_overtime") if field[k] in FLAGS}
    if field["site"]:
        site = doors_repo.get_site_by_code(session, field["site"])
        if site is None:
            raise FormError({"site": "invalid"})
        data["site_id"] = site.id
    return data


def save_door(session: Session, actor: str, field: dict[str, str]) -> None:
    """Add a door (``door`` empty) or change the one whose code ``door`` names: only the
    fields filled in change."""
    data = _door_payload(session, field)
    try:
        if not field["door"]:
            doors.create_door(session, DoorCreate.model_validate(data), actor=actor)
            return
        door = doors_repo.get_door_by_code(session, field["door"])
        if door is None:
            raise FormError({"door": "invalid"})
        doors.update_door(session, door.id, DoorUpdate.model_validate(data), actor=actor)
    except (ValidationError, BadRequest, Conflict) as err:
        raise FormError(_field_errors(err)) from err


def save_schedule(session: Session, actor: str, field: dict[str, str]) -> None:
    """Add a schedule (``schedule`` empty) or change the one so named: typed lines replace
    all its windows, no lines keep them."""
    data: dict[str, Any] = {"name": field["name"].strip()} if field["name"].strip() else {}
    if field["allow_closed_days"] in FLAGS:
        data["allow_closed_days"] = FLAGS[field["allow_closed_days"]]
    if field["windows"].strip() or not field["schedule"]:
        data["windows"] = parse_windows(field["windows"])
    try:
        if not field["schedule"]:
            access.create_schedule(session, ScheduleCreate.model_validate(data), actor=actor)
            return
        schedule = access_repo.get_schedule_by_name(session, field["schedule"])
        if schedule is None:
            raise FormError({"schedule": "invalid"})
        access.update_schedule(session, schedule.id, ScheduleUpdate.model_validate(data),
                               actor=actor)
    except (ValidationError, BadRequest, Conflict) as err:
        raise FormError(_field_errors(err)) from err
