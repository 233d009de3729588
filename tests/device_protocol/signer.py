"""Test-only helpers: a device that signs its requests with a real Ed25519 key, hash-chained
events like the agent makes them, and plain factory functions for decision data."""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.db import Database
from api.models import (
    AccessGroup,
    AccessGroupMember,
    Credential,
    Department,
    Door,
    Permission,
    Schedule,
    ScheduleWindow,
    Site,
    Staff,
)
from gate.events import chain_hash
from gate.signing import canonical_json, public_key_b64, request_signing_string

PREFIX = "/device/v1"
EVENT_FIELDS = ("id", "seq", "kind", "occurred_at", "clock_offset_ms", "door_id",
                "credential_ref", "staff_id", "granted", "reason", "data", "prev_hash")


def iso(dt: datetime) -> str:
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class SignedDevice:
    """A device identity (id + Ed25519 key) that sends signed requests through ``http``.

    ``http`` is any httpx-compatible client (the FastAPI TestClient or an httpx.Client on a
    live server). ``last_headers`` keeps the signed headers of the last request, to replay."""

    def __init__(self, http: Any, device_id: str, key: Ed25519PrivateKey) -> None:
        self.http = http
        self.device_id = device_id
        self.key = key
        self.last: tuple[str, str, bytes, dict[str, str]] | None = None

    def sign(self, method: str, path: str, body: bytes, *, timestamp: int | None = None,
             nonce: str | None = None, key: Ed25519PrivateKey | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or secrets.token_hex(16)
        sig = (key or self.key).sign(request_signing_string(method, path, ts, nonce, body))
        return {"X-Mynagate-Device": self.device_id, "X-Mynagate-Timestamp": ts,
                "X-Mynagate-Nonce": nonce,
                "X-Mynagate-Signature": base64.b64encode(sig).decode()}

    def request(self, method: str, path: str, body: Any = None,
                params: dict[str, Any] | None = None, **sign_kw: Any) -> httpx.Response:
        full = PREFIX + path + (f"?{urlencode(params)}" if params else "")
        content = canonical_json(body) if body is not None else b""
        headers = self.sign(method, full, content, **sign_kw)
        if body is not None:
            headers["Content-Type"] = "application/json"
        self.last = (method, full, content, headers)
        return self.http.request(method, full, content=content, headers=headers)

    def replay(self) -> httpx.Response:
        assert self.last is not None
        method, full, content, headers = self.last
        return self.http.request(method, full, content=content, headers=headers)

    # shortcuts
    def heartbeat(self, *, timestamp: int | None = None, **fields: Any) -> httpx.Response:
        body = {"device_time": iso(datetime.now(UTC)), "config_version": 1,
                "snapshot_version": 0, "outbox_pending": 0, "oldest_pending_at": None,
                "last_seq": 0, **fields}
        return self.request("POST", "/heartbeat", body, timestamp=timestamp)

    def post_events(self, events: list[dict[str, Any]]) -> httpx.Response:
        return self.request("POST", "/events", {"events": events})


def enroll(admin: Any, *, name: str = "reader-1", door_ids: list[int] | None = None,
           http: Any = None, confirm: bool = True) -> tuple[SignedDevice, dict[str, Any]]:
    """Create a device through the admin API and enroll it with a fresh Ed25519 key; unless
    ``confirm`` is False, the admin then confirms it (it stays pending until then)."""
    created = admin.post("/admin/devices", json={"name": name, "door_ids": door_ids or []})
    assert created.status_code == 201, created.text
    key = Ed25519PrivateKey.generate()
    resp = (http or admin).post(f"{PREFIX}/enroll", json={
        "enrollment_token": created.json()["enrollment_token"],
        "public_key": public_key_b64(key.public_key()), "agent_version": "test"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    if confirm:
        done = admin.post(f"/admin/devices/{body['device_id']}/confirm")
        assert done.status_code == 200, done.text
    return SignedDevice(http or admin, body["device_id"], key), body


def make_events(n: int, *, start_seq: int = 1, prev_hash: str | None = None,
                **fields: Any) -> list[dict[str, Any]]:
    """``n`` hash-chained events from ``start_seq``, like the agent's outbox makes them."""
    out: list[dict[str, Any]] = []
    base = datetime.now(UTC)
    for i in range(n):
        ev: dict[str, Any] = {k: None for k in EVENT_FIELDS}
        ev.update({"id": str(uuid.uuid4()), "seq": start_seq + i, "kind": "door_state",
                   "occurred_at": iso(base + timedelta(milliseconds=i)),
                   "clock_offset_ms": 0, "data": {"state": "closed"}})
        ev.update(fields)
        ev["prev_hash"] = prev_hash
        ev["hash"] = chain_hash(ev)
        prev_hash = ev["hash"]
        out.append(ev)
    return out


# --- factories (plain functions) ------------------------------------------------------------

class World:
    """A small town hall: 書庫 (archive, permitted), サーバ室 (server room, not permitted),
    staff 山田 with an active staff_ap credential in group 総務, all-week schedule."""

    def __init__(self, database: Database) -> None:
        with database.session() as s:
            site = Site(code="honcho", name="本庁舎")
            dept = Department(code="somu", name="総務課")
            s.add_all([site, dept])
            s.flush()
            self.archive = Door(site_id=site.id, code="shoko", name="書庫")
            self.server = Door(site_id=site.id, code="server", name="サーバ室")
            self.other = Door(site_id=site.id, code="kyujitsu", name="休日通用口")
            s.add_all([self.archive, self.server, self.other])
            self.yamada = Staff(staff_number="S001", name="山田 太郎", name_kana="ヤマダ タロウ",
                                department_id=dept.id, active_from=date(2020, 4, 1))
            self.sato = Staff(staff_number="S002", name="佐藤 花子", name_kana="サトウ ハナコ",
                              department_id=dept.id, active_from=date(2020, 4, 1))
            s.add_all([self.yamada, self.sato])
            s.flush()
            group = AccessGroup(name="総務")
            other_group = AccessGroup(name="休日")
            sched = Schedule(name="always", allow_closed_days=True,
                             windows=[ScheduleWindow(weekday=d, start_minute=0, end_minute=1440)
                                      for d in range(7)])
            s.add_all([group, other_group, sched])
            s.flush()
            s.add_all([AccessGroupMember(group_id=group.id, staff_id=self.yamada.id),
                       AccessGroupMember(group_id=other_group.id, staff_id=self.sato.id),
                       Permission(group_id=group.id, door_id=self.archive.id,
                                  schedule_id=sched.id),
                       Permission(group_id=other_group.id, door_id=self.other.id,
                                  schedule_id=sched.id)])
            self.cred = Credential(staff_id=self.yamada.id, kind="staff_ap",
                                   credential_ref="ab" * 16,
                                   public_key=base64.b64encode(b"\x04" + b"\x01" * 64).decode(),
                                   status="active", snapshot_version=0)
            self.sato_cred = Credential(staff_id=self.sato.id, kind="staff_ap",
                                        credential_ref="cd" * 16,
                                        public_key=base64.b64encode(b"\x04" + b"\x02" * 64)
                                        .decode(), status="active", snapshot_version=0)
            s.add_all([self.cred, self.sato_cred])
            s.commit()
            self.group_id = group.id
            self.schedule_id = sched.id
