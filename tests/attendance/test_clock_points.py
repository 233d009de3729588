"""Issue 10, clock points: every active staff member with an enrolled card can punch at any
clock point without a group; the reader tells an unknown card from one not permitted here."""

from __future__ import annotations

import base64
from datetime import date
from types import SimpleNamespace

from api.models import Credential, DeviceDoor, Door, Site
from api.snapshot.service import build_payload
from gate.business_day import JST
from gate.door import DoorMode
from gate.policy import (
    AccessRequest,
    CredentialInfo,
    CredentialStatus,
    DoorInfo,
    Reason,
    StaffInfo,
    credential_digest,
    decide,
)
from reader_agent.agent import _failure_reason

from . import factories as f

NOW = f.jst(2026, 11, 20, 8, 30)


def _request(mode: DoorMode) -> AccessRequest:
    return AccessRequest(credential=CredentialInfo("ab", 1, "staff_ap", CredentialStatus.ACTIVE),
                         staff=StaffInfo(1, date(2020, 4, 1)),  # in no group at all
                         door=DoorInfo(9, mode), now=NOW)


def test_a_clock_point_needs_no_group_but_a_door_does():
    assert decide(_request(DoorMode.CLOCK)).reason is Reason.GRANTED
    assert decide(_request(DoorMode.ACCESS)).reason is Reason.NO_PERMISSION
    assert decide(_request("both")).reason is Reason.NO_PERMISSION  # it also opens a door
    inactive = AccessRequest(credential=CredentialInfo("ab", 1, "staff_ap",
                                                       CredentialStatus.ACTIVE),
                             staff=StaffInfo(1, date(2027, 4, 1)), door=DoorInfo(9, "clock"),
                             now=NOW)
    assert decide(inactive).reason is Reason.STAFF_INACTIVE


def test_snapshots_carry_every_enrolled_card_or_its_digest(database):
    with database.session() as s:
        dept = f.department(s)
        newcomer = f.staff(s, dept, "N0001", "新人 一郎")  # enrolled, in no group
        ref = "12" * 16
        s.add(Credential(staff_id=newcomer.id, kind="staff_ap", credential_ref=ref,
                         public_key=base64.b64encode(b"\x04" + b"\x03" * 64).decode(),
                         status="active", snapshot_version=0))
        clock_dev, _clock_door = f.device(s, "clock-1")  # its door has mode clock
        site = s.query(Site).first()
        door = Door(site_id=site.id, code="shoko", name="書庫", mode="access")
        s.add(door)
        access_dev, _ = f.device(s, "reader-2")
        s.flush()
        s.add(DeviceDoor(device_id=access_dev.id, door_id=door.id))
        s.add(DeviceDoor(device_id=clock_dev.id, door_id=_clock_door.id))
        s.flush()
        clock = build_payload(s, device_id=clock_dev.id, since=None, now=NOW, tz=JST)
        access = build_payload(s, device_id=access_dev.id, since=None, now=NOW, tz=JST)
    assert [c["ref"] for c in clock["credentials"]] == [ref]
    assert [x["id"] for x in clock["staff"]] == [newcomer.id]
    assert access["credentials"] == [] and access["other_refs"] == [credential_digest(ref)]
    snap = SimpleNamespace(other_refs=frozenset(access["other_refs"]))
    enrolled = SimpleNamespace(failure=Reason.UNKNOWN_CREDENTIAL, credential_ref=ref)
    stranger = SimpleNamespace(failure=Reason.UNKNOWN_CREDENTIAL, credential_ref="99" * 16)
    assert _failure_reason(enrolled, snap) is Reason.NO_PERMISSION  # 「ここでは使えません」
    assert _failure_reason(stranger, snap) is Reason.UNKNOWN_CREDENTIAL
