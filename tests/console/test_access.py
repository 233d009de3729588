"""The security officer's console pages over HTTP: a reader confirmed on its page, the
who-can-enter-what matrix, the next hour's decisions for a person (as gate.policy decides
them) and the audit log with the verification of its hash chain."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select, text

from api.models import (
    AccessGroup,
    AccessGroupMember,
    AuditLog,
    Credential,
    Device,
    Door,
    Permission,
    Schedule,
    ScheduleWindow,
)
from api.users.auth import CSRF_COOKIE
from gate import policy
from gate.business_day import JST
from tests.console.conftest import DOOR_IDS, STAFF_IDS, assert_no_internal_ids, log_in
from tests.device_protocol.signer import enroll

pytestmark = pytest.mark.postgres


def _seed_access(database, day) -> None:  # type: ignore[no-untyped-def]
    """庁舎職員 (山田太郎) may enter 正面玄関 on ``day``'s weekday 10:00–10:30, closed days too."""
    with database.session() as s:
        group = AccessGroup(name="庁舎職員")
        sched = Schedule(name="午前の点検", allow_closed_days=True)
        s.add_all([group, sched])
        s.flush()
        s.add(ScheduleWindow(schedule_id=sched.id, weekday=day.weekday(), start_minute=600,
                             end_minute=630))
        s.add(AccessGroupMember(group_id=group.id, staff_id=STAFF_IDS[0]))
        s.add(Permission(group_id=group.id, door_id=DOOR_IDS[0], schedule_id=sched.id))
        s.commit()


def _cells(html: str, door: str) -> list[str]:
    """The decision reasons (data-reason) in the preview row of ``door``."""
    row = re.search(rf"<tr><th scope=\"row\">{re.escape(door)}</th>.*?</tr>", html, re.S)
    assert row is not None, door
    return re.findall(r'data-reason="(\w+)"', row.group(0))


def test_the_matrix_shows_who_may_enter_which_door(console, world, database) -> None:  # type: ignore[no-untyped-def]
    _seed_access(database, world.now.astimezone(JST).date())
    r = console.get("/console/access")
    assert r.status_code == 200 and "入室権限一覧" in r.text
    assert "庁舎職員" in r.text and "午前の点検" in r.text and "正面玄関" in r.text
    yamada = re.search(r"<tr><td>1001</td>.*?</tr>", r.text, re.S)
    sato = re.search(r"<tr><td>1002</td>.*?</tr>", r.text, re.S)
    assert yamada is not None and sato is not None
    assert "山田太郎" in yamada.group(0) and "午前の点検" in yamada.group(0)
    assert "佐藤花子" in sato.group(0) and "午前の点検" not in sato.group(0)
    assert "10:00–10:30" in r.text
    assert_no_internal_ids(r.text)
    only = console.get("/console/access", params={"staff": "佐藤"}).text
    assert "佐藤花子" in only and "山田太郎" not in only.split("職員と扉")[1]
    assert "山田太郎" not in console.get("/console/access", params={"staff": "%"}).text


def _policy(database, at: datetime, door_id: int) -> str:  # type: ignore[no-untyped-def]
    """gate.policy's own decision for 山田太郎's card, from the rows as they are."""
    with database.session() as s:
        cred = s.execute(select(Credential).where(Credential.staff_id == STAFF_IDS[0])).scalar_one()
        sched = s.execute(select(Schedule)).scalar_one()
        group = s.execute(select(AccessGroup)).scalar_one()
        windows = tuple(policy.TimeWindow(w.weekday, w.start_minute, w.end_minute)
                        for w in s.execute(select(ScheduleWindow)).scalars())
        req = policy.AccessRequest(
            credential=policy.CredentialInfo(ref=cred.credential_ref, staff_id=STAFF_IDS[0],
                                             kind=cred.kind,
                                             status=policy.CredentialStatus.ACTIVE),
            staff=policy.StaffInfo(id=STAFF_IDS[0], active_from=at.date().replace(year=2020),
                                   group_ids=frozenset({group.id})),
            door=policy.DoorInfo(id=door_id), now=at,
            permissions=(policy.Permission(group.id, DOOR_IDS[0], sched.id),),
            schedules={sched.id: policy.Schedule(sched.id, windows, allow_closed_days=True)})
    return policy.decide(req).reason.value


def test_the_preview_shows_the_next_hours_decisions_as_gate_policy_decides(
        console, world, card, database) -> None:  # type: ignore[no-untyped-def]
    day = world.now.astimezone(JST).date()
    _seed_access(database, day)
    at = datetime.combine(day, time(10, 0), tzinfo=JST)
    r = console.get("/console/access/preview", params={"staff": "1001",
                                                         "at": at.strftime("%Y-%m-%dT%H:%M")})
    assert r.status_code == 200 and "判定プレビュー" in r.text and "1001 山田太郎" in r.text
    moments = [at + timedelta(minutes=m) for m in (0, 15, 30, 45, 60)]
    front, side = _cells(r.text, "正面玄関"), _cells(r.text, "通用口")
    assert front == ["granted", "granted", "outside_schedule", "outside_schedule",
                     "outside_schedule"]
    assert side == ["no_permission"] * 5
    assert front == [_policy(database, t, DOOR_IDS[0]) for t in moments]
    assert side == [_policy(database, t, DOOR_IDS[1]) for t in moments]
    assert "どうぞお入りください" in r.text and "この扉の権限がありません" in r.text
    assert_no_internal_ids(r.text)
    # by name; several matches are listed to choose from
    assert "1001 山田太郎" in console.get("/console/access/preview",
                                          params={"staff": "山田"}).text
    several = console.get("/console/access/preview", params={"staff": "ウ"}).text
    assert "複数" in several and "山田太郎" in several and "佐藤花子" in several
    nocard = console.get("/console/access/preview", params={"staff": "1002"}).text
    assert "カードが登録されていない" in nocard
    assert _cells(nocard, "正面玄関") == ["unknown_credential"] * 5
    # a lost card is refused everywhere, and the page says why
    with database.session() as s:
        s.execute(text("UPDATE credential SET status = 'lost' WHERE id = :id"), {"id": card})
        s.commit()
    lost = console.get("/console/access/preview", params={"staff": "1001",
                                                            "at": at.strftime("%Y-%m-%dT%H:%M")})
    assert _cells(lost.text, "正面玄関") == ["credential_lost"] * 5


def _device(database, name: str) -> Device:  # type: ignore[no-untyped-def]
    with database.session() as s:
        return s.execute(select(Device).where(Device.name == name)).scalar_one()


def test_a_pending_reader_is_confirmed_on_its_page(app, admin, console, world, database
                                                   ) -> None:  # type: ignore[no-untyped-def]
    dev, _ = enroll(admin, name="reader-new", door_ids=[DOOR_IDS[0]], confirm=False)
    assert dev.heartbeat(outbox_pending=4).status_code == 200
    assert dev.request("GET", "/snapshot").status_code == 401
    listed = console.get("/console/devices").text
    assert re.search(r'<a href="/console/devices/reader-new">reader-new</a>.*?承認待ち', listed,
                     re.S)
    page = console.get("/console/devices/reader-new")
    assert page.status_code == 200 and "承認待ち" in page.text and dev.device_id in page.text
    assert "4 件が送信待ち" in page.text and "正面玄関" in page.text and "時計のずれ" in page.text

    auditor = log_in(app, admin, "kansa", "auditor")
    seen = auditor.get("/console/devices/reader-new")
    assert seen.status_code == 200 and "リーダーを承認する" not in seen.text
    assert auditor.post("/console/devices/reader-new/confirm",
                        data={"confirm": "1"}).status_code == 403
    csrf = console.cookies[CSRF_COOKIE]
    assert console.post("/console/devices/reader-new/confirm",
                        data={"csrf_token": csrf}).status_code == 422  # box not ticked
    assert console.post("/console/devices/reader-new/confirm",
                        data={"csrf_token": "forged", "confirm": "1"}).status_code == 403
    assert _device(database, "reader-new").status == "pending"

    done = console.post("/console/devices/reader-new/confirm",
                        data={"csrf_token": csrf, "confirm": "1"}, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == "/console/devices/reader-new?done=confirmed"
    row = _device(database, "reader-new")
    assert row.status == "active" and row.confirmed_by == "console-admin"
    assert dev.request("GET", "/snapshot").status_code == 200
    after = console.get(done.headers["location"]).text
    assert "承認しました" in after and "リーダーを承認する" not in after
    with database.session() as s:
        assert s.execute(select(AuditLog.actor).where(
            AuditLog.action == "device.confirm")).scalar_one() == "console-admin"
    again = console.post("/console/devices/reader-new/confirm",
                         data={"csrf_token": csrf, "confirm": "1"})
    assert again.status_code == 409
    assert console.get("/console/devices/no-such-reader").status_code == 404


def _tamper(database, sql: str, **params: object) -> None:  # type: ignore[no-untyped-def]
    """Change the audit table behind the service's back (its append-only trigger off)."""
    with database.engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        conn.execute(text(sql), params)
        conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))


def test_the_audit_page_searches_and_shows_where_the_chain_breaks(
        app, admin, console, world, database) -> None:  # type: ignore[no-untyped-def]
    r = console.get("/console/audit")
    assert r.status_code == 200 and "監査ログ" in r.text and "正常" in r.text
    assert "user.create" in r.text
    mine = console.get("/console/audit", params={"actor": "nobody-at-all"}).text
    assert "該当する記録はありません" in mine
    today = world.now.astimezone(JST).date()
    dated = console.get("/console/audit", params={"from": today.isoformat(),
                                                  "to": today.isoformat()}).text
    assert "user.create" in dated
    before = console.get("/console/audit", params={
        "to": (today - timedelta(days=1)).isoformat()}).text
    assert "user.create" not in before

    with database.session() as s:
        rows = list(s.execute(select(AuditLog.id, AuditLog.seq).order_by(AuditLog.seq)))
    assert len(rows) >= 2
    bad_id, bad_seq = rows[1]
    _tamper(database, "UPDATE audit_log SET actor = 'someone' WHERE id = :id", id=bad_id)
    broken = console.get("/console/audit").text
    assert f"{bad_seq} 番で検証に失敗しました" in broken and "正常:" not in broken
    marked = re.search(r'<tr class="alarm">\s*<td class="num">(\d+) <strong', broken)
    assert marked is not None and int(marked.group(1)) == bad_seq
    auditor = log_in(app, admin, "kansa", "auditor")
    assert "検証に失敗" in auditor.get("/console/audit").text
    clerk = log_in(app, admin, "shisetsu", "facility")  # not a reader of the audit log
    assert clerk.get("/console/audit").status_code == 403


def _sato_row(console) -> str:  # type: ignore[no-untyped-def]
    page = console.get("/console/access").text
    row = re.search(r"<tr><td>1002</td>.*?</tr>", page, re.S)
    assert row is not None
    return row.group(0)


def test_security_changes_groups_and_door_permissions_on_the_matrix_page(
        app, admin, console, world, database) -> None:  # type: ignore[no-untyped-def]
    _seed_access(database, world.now.astimezone(JST).date())
    csrf = console.cookies[CSRF_COOKIE]

    def post(**form: str):  # type: ignore[no-untyped-def]
        return console.post("/console/access", data={"csrf_token": csrf, **form},
                            follow_redirects=False)

    r = post(op="create_group", group="夜間点検")
    assert r.status_code == 303 and r.headers["location"] == "/console/access?done=create_group"
    assert post(op="create_group", group="夜間点検").status_code == 409
    assert post(op="add", group="夜間点検", staff="1002").status_code == 303
    assert post(op="add", group="夜間点検", staff="9999").status_code == 422
    assert "午前の点検" not in _sato_row(console) and "夜間点検" in _sato_row(console)
    assert post(op="grant", group="夜間点検", door="front", schedule="午前の点検"
                ).status_code == 303
    assert "午前の点検" in _sato_row(console)
    assert post(op="grant", group="夜間点検", door="front", schedule="午前の点検"
                ).status_code == 409
    assert post(op="grant", group="夜間点検", door="nowhere", schedule="午前の点検"
                ).status_code == 422
    assert "保存しました" in console.get("/console/access?done=grant").text

    auditor = log_in(app, admin, "kansa", "auditor")
    assert "権限の変更" not in auditor.get("/console/access").text
    with database.session() as s:
        before = s.execute(select(Permission.id)).all()
    refused = auditor.post("/console/access", data={"op": "revoke", "group": "夜間点検",
                                                    "door": "front", "schedule": "午前の点検"})
    assert refused.status_code == 403
    with database.session() as s:
        assert s.execute(select(Permission.id)).all() == before
    assert post(op="revoke", group="夜間点検", door="front", schedule="午前の点検",
                csrf_token="forged").status_code == 403

    assert post(op="revoke", group="夜間点検", door="front", schedule="午前の点検"
                ).status_code == 303
    assert "午前の点検" not in _sato_row(console)
    assert post(op="remove", group="夜間点検", staff="1002").status_code == 303
    assert "夜間点検" not in _sato_row(console)
    with database.session() as s:
        actions = set(s.execute(select(AuditLog.action).where(
            AuditLog.actor == "console-admin")).scalars())
    assert {"group.create", "group.add_members", "permission.create", "permission.delete",
            "group.remove_member"} <= actions


def _count(database, model) -> int:  # type: ignore[no-untyped-def]
    with database.session() as s:
        return len(s.execute(select(model.id)).all())


def test_security_adds_and_changes_doors_and_schedules_on_the_matrix_page(
        app, admin, console, world, database) -> None:  # type: ignore[no-untyped-def]
    csrf = console.cookies[CSRF_COOKIE]

    def post(**form: str):  # type: ignore[no-untyped-def]
        return console.post("/console/access", data={"csrf_token": csrf, **form},
                            follow_redirects=False)

    page = console.get("/console/access").text
    assert "扉の追加・変更" in page and "時間帯の追加・変更" in page
    r = post(op="door", code="back", name="裏口", site="honcho", mode="both",
             assurance="card+pin", unlock_seconds="8", fail_open="1")
    assert r.status_code == 303 and r.headers["location"] == "/console/access?done=door"
    with database.session() as s:
        door = s.execute(select(Door).where(Door.code == "back")).scalar_one()
        assert (door.name, door.site_id, door.mode, door.assurance, door.unlock_seconds,
                door.fail_open, door.show_overtime) == ("裏口", 77, "both", "card+pin", 8.0,
                                                        True, True)
    assert re.search(r"<th scope=\"col\">裏口", console.get("/console/access").text)
    # a change touches only the fields filled in
    assert post(op="door", door="back", name="裏口（夜間）", mode="clock").status_code == 303
    with database.session() as s:
        door = s.execute(select(Door).where(Door.code == "back")).scalar_one()
        assert (door.name, door.mode, door.unlock_seconds) == ("裏口（夜間）", "clock", 8.0)

    r = post(op="schedule", name="平日日中", allow_closed_days="0",
             windows="月、火、水、木、金 08:30-17:15\nSat 09:00-12:00\n")
    assert r.status_code == 303 and r.headers["location"] == "/console/access?done=schedule"
    matrix = console.get("/console/access").text
    assert "平日日中" in matrix and "月 08:30–17:15" in matrix and "土 09:00–12:00" in matrix
    assert post(op="schedule", schedule="平日日中", windows="日 00:00-24:00").status_code == 303
    with database.session() as s:
        sched = s.execute(select(Schedule).where(Schedule.name == "平日日中")).scalar_one()
        assert s.execute(select(ScheduleWindow.weekday, ScheduleWindow.start_minute,
                                ScheduleWindow.end_minute).where(
            ScheduleWindow.schedule_id == sched.id)).all() == [(6, 0, 1440)]
        assert sched.allow_closed_days is False
    with database.session() as s:
        actions = set(s.execute(select(AuditLog.action).where(
            AuditLog.actor == "console-admin")).scalars())
    assert {"door.create", "door.update", "schedule.create", "schedule.update"} <= actions

    # bad input: 422, nothing saved, the message beside the field (by line for the hours)
    doors, schedules = _count(database, Door), _count(database, Schedule)
    bad = post(op="schedule", name="夜間", windows="月 08:30-17:15\n火 18:00-09:00\n木曜 9時")
    assert bad.status_code == 422
    assert "2、3 行目" in bad.text and 'id="schedule-windows-error"' in bad.text
    assert 'aria-describedby="schedule-windows-error"' in bad.text and "木曜 9時" in bad.text
    taken = post(op="door", code="back", name="別の扉", site="honcho")
    assert taken.status_code == 422 and "既に使われています" in taken.text
    slow = post(op="door", code="gate2", name="門", site="honcho", unlock_seconds="600")
    assert slow.status_code == 422 and "1〜60 の秒数" in slow.text
    assert 'id="door-unlock_seconds-error"' in slow.text
    nosite = post(op="door", code="gate3", name="門", site="nowhere")
    assert nosite.status_code == 422 and 'id="door-site-error"' in nosite.text
    assert post(op="door", code="gate4", name="門", site="honcho",
                mode="open_sesame").status_code == 422
    assert (_count(database, Door), _count(database, Schedule)) == (doors, schedules)

    # an auditor sees no forms and is refused; a forged CSRF token is refused
    auditor = log_in(app, admin, "kansa", "auditor")
    assert "扉の追加・変更" not in auditor.get("/console/access").text
    assert auditor.post("/console/access", data={
        "op": "door", "code": "gate5", "name": "門", "site": "honcho"}).status_code == 403
    assert auditor.post("/console/access", data={
        "op": "schedule", "name": "監査", "windows": "月 08:00-09:00"}).status_code == 403
    assert post(op="door", code="gate6", name="門", site="honcho",
                csrf_token="forged").status_code == 403
    assert post(op="schedule", name="偽造", windows="月 08:00-09:00",
                csrf_token="forged").status_code == 403
    assert (_count(database, Door), _count(database, Schedule)) == (doors, schedules)
