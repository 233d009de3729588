"""Backups that restore, on PostgreSQL: a PIN booked, a device enrolled and punches recorded;
``mynagate backup create``; database and data directory destroyed; ``mynagate backup
restore``. Then the key box still opens with the PIN (and with one the restored service
issues), the agent still accepts the service's snapshots and the month's exports are
byte-identical. Also the archive's crypto and a SQLite round trip."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.app import create_app
from api.backup import NotABackup, TargetNotEmpty, ToolMismatch, WrongPassphrase
from api.backup.crypto import CHUNK, decrypt_stream, encrypt_stream
from api.backup.database import check_tool, server_major
from api.backup.service import Paths, create_backup, restore_backup
from api.db import Database
from api.exports.service import export_dataset
from api.keys import load_or_create_signing_key
from api.locks.secrets import lock_key
from api.locks.settings import LockSettings
from api.migrate import upgrade
from api.models import SmartLock, Staff
from api.settings import Settings
from gate.business_day import BusinessDay
from gate.signing import load_public_key, public_key_b64, sign_document
from reader_agent.lock_emulator import DriftingClock, KeyBox
from reader_agent.snapshot_cache import SnapshotCache, SnapshotError
from tests.agent.town import add_credential, seed_town
from tests.attendance.factories import jst
from tests.conftest import WEBHOOK_SECRET, _server_url
from tests.device_protocol.signer import SignedDevice, enroll, iso, make_events
from tests.identities import make_token
from tests.locks.helpers import PIN_RE, SmtpServer, create_site, text_of, wire

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "correct horse battery staple 町役場"
MONTH = "2026-11"
EXPORT_NOW = jst(2026, 12, 3, 12)
CREDENTIAL = "ab" * 16
LATE_CREDENTIAL = "cd" * 16  # enrolled after the backup: lost with the disk


# --- the archive's crypto -----------------------------------------------------------------

@pytest.mark.parametrize("size", [0, 100, CHUNK, 2 * CHUNK + 17])
def test_encryption_round_trip(size: int) -> None:
    data = os.urandom(size)
    sealed = io.BytesIO()
    encrypt_stream(io.BytesIO(data), sealed, "a passphrase of the town")
    assert data[:64] not in sealed.getvalue() or size == 0
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(sealed.getvalue()), out, "a passphrase of the town")
    assert out.getvalue() == data


def test_wrong_passphrase_cut_and_altered_archives_are_refused() -> None:
    sealed = io.BytesIO()
    encrypt_stream(io.BytesIO(os.urandom(2 * CHUNK + 5)), sealed, "a passphrase of the town")
    blob = sealed.getvalue()
    with pytest.raises(WrongPassphrase):
        decrypt_stream(io.BytesIO(blob), io.BytesIO(), "another passphrase")
    cut = blob[:len(blob) - (5 + 16)]  # the last chunk gone: cut exactly at a chunk boundary
    with pytest.raises(NotABackup, match="cut short"):
        decrypt_stream(io.BytesIO(cut), io.BytesIO(), "a passphrase of the town")
    altered = bytearray(blob)
    altered[-100] ^= 1
    with pytest.raises(NotABackup):
        decrypt_stream(io.BytesIO(bytes(altered)), io.BytesIO(), "a passphrase of the town")
    with pytest.raises(NotABackup, match="magic"):
        decrypt_stream(io.BytesIO(b"PK\x03\x04" + blob[4:]), io.BytesIO(), "x")


# --- SQLite: the online backup API ---------------------------------------------------------

def test_sqlite_round_trip_and_refusal_to_overwrite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live' / 'mynagate.db'}"
    (tmp_path / "live").mkdir()
    upgrade(url)
    live = Database(url)
    town = seed_town(live)
    live.dispose()
    key = tmp_path / "live" / "service-signing-key.pem"
    load_or_create_signing_key(key)
    paths = Paths(url, key, LockSettings(data_dir=tmp_path / "live"))
    archive = tmp_path / "b.mnbak"
    create_backup(paths, archive, PASSPHRASE, now=EXPORT_NOW)
    with pytest.raises(TargetNotEmpty):
        restore_backup(paths, archive, PASSPHRASE, now=EXPORT_NOW)

    restored_url = f"sqlite:///{tmp_path / 'new' / 'mynagate.db'}"
    new = Paths(restored_url, tmp_path / "new" / "service-signing-key.pem",
                LockSettings(data_dir=tmp_path / "new"))
    restore_backup(new, archive, PASSPHRASE, now=EXPORT_NOW)
    db = Database(restored_url)
    with db.session() as s:
        assert s.get(Staff, town.staff_id).name == "山田 太郎"  # type: ignore[union-attr]
    db.dispose()
    assert new.signing_key_file.read_bytes() == key.read_bytes()
    assert (tmp_path / "new" / "pin-wrap.key").read_text() == \
        (tmp_path / "live" / "pin-wrap.key").read_text()
    assert oct((tmp_path / "new" / "pin-wrap.key").stat().st_mode & 0o777) == "0o600"


def test_an_archive_with_a_link_among_its_members_is_refused(tmp_path: Path) -> None:
    """Members are extracted as plain files only (Debian 12's Python has no tar data filter):
    a symlink named like the wrap key is refused before anything is restored."""
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w") as tar:
        for name in ("manifest.json", "database.dump", "keys/service-signing-key.pem"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"{}"))
        link = tarfile.TarInfo("keys/pin-wrap.key")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    archive = tmp_path / "hostile.mnbak"
    with archive.open("wb") as out:
        encrypt_stream(io.BytesIO(plain.getvalue()), out, PASSPHRASE)
    data_dir = tmp_path / "new"
    paths = Paths(f"sqlite:///{data_dir / 'mynagate.db'}", data_dir / "service-signing-key.pem",
                  LockSettings(data_dir=data_dir))
    with pytest.raises(NotABackup, match="keys/pin-wrap.key is not a regular file"):
        restore_backup(paths, archive, PASSPHRASE, now=EXPORT_NOW)
    assert not data_dir.exists()


# --- PostgreSQL: the whole round trip through the CLI -------------------------------------

@pytest.fixture
def own_database() -> Iterator[str]:
    """A database of this test's own, migrated: the test destroys and recreates it."""
    server = _server_url()
    assert server and server.startswith("postgresql"), "this test needs PostgreSQL"
    name = f"mng_backup_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def recreate_empty(url: str) -> None:
    """Destroy the database: drop it and create an empty one of the same name."""
    u = make_url(url)
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{u.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{u.database}"'))
    admin.dispose()


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from mynagate_cli import main; main()", *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **env})


def service(url: str, data: Path) -> tuple[Database, Any]:
    settings = Settings(env="test", database_url=url, data_dir=data,
                        signing_key_file=data / "service-signing-key.pem")
    db = Database(url)
    return db, create_app(settings, db=db, lock_settings=LockSettings(
        data_dir=data, booking_webhook_secret=WEBHOOK_SECRET))


def exports(db: Database) -> dict[str, bytes]:
    with db.session() as s:
        return {ds: export_dataset(s, dataset=ds, month=MONTH, allow_provisional=True,
                                   now=EXPORT_NOW, record_run=False).content
                for ds in ("punches", "daily")}


def book_pin(admin: Any, smtp: SmtpServer, fid: int, start: datetime, count: int) -> str:
    r = admin.post("/api/v1/bookings", json={
        "facility_id": fid, "start_at": start.isoformat(),
        "end_at": (start + timedelta(hours=2)).isoformat(), "booker_name": "森",
        "booker_email": "mori@example.jp", "payment_status": "paid"})
    assert r.status_code == 201, r.text
    match = PIN_RE.search(text_of(smtp.inbox.wait(count)[count - 1]))
    assert match is not None
    return match["pin"]


def record_punches(device: SignedDevice, door_id: int, staff_id: int, ref: str) -> None:
    """Punches as a real agent sends them: granted to a verified credential, with the business
    day (the service credits nobody for a staff id alone)."""
    events: list[dict[str, Any]] = []
    for seq, (at, hint) in enumerate([(jst(2026, 11, 2, 8, 27), "in"),
                                      (jst(2026, 11, 2, 17, 32), "out"),
                                      (jst(2026, 11, 4, 8, 40), "in"),
                                      (jst(2026, 11, 4, 19, 5), "out")], start=1):
        events += make_events(1, start_seq=seq, prev_hash=events[-1]["hash"] if events else None,
                              kind="clock_punch", occurred_at=iso(at), door_id=door_id,
                              staff_id=staff_id, credential_ref=ref, granted=True,
                              reason="granted", data={
                                  "punch": hint,
                                  "business_date": BusinessDay().date_of(at).isoformat()})
    r = device.post_events(events)
    assert r.status_code == 200, r.text


@pytest.mark.postgres
@pytest.mark.slow
def test_backup_restore_round_trip_on_postgresql(own_database: str, tmp_path: Path,
                                                 now: datetime) -> None:
    url, data = own_database, tmp_path / "data"
    start = now.replace(second=0, microsecond=0) + timedelta(days=1)
    db, app = service(url, data)
    token = make_token(db, "admin", "admin")  # restored with the database: it still works after
    with TestClient(app) as admin, SmtpServer() as smtp:
        admin.headers["Authorization"] = f"Bearer {token}"
        ls = wire(app, data, smtp.settings())
        town = seed_town(db)
        add_credential(db, town.staff_id, CREDENTIAL, b"\x04" + b"\x01" * 64)
        device, enrolled = enroll(admin, name="clock-1",
                                  door_ids=[town.door_id, town.clock_door_id])
        record_punches(device, town.clock_door_id, town.staff_id, CREDENTIAL)
        fid, lock_pk = create_site(admin)
        pin = book_pin(admin, smtp, fid, start, 1)
    with db.session() as s:  # the key box is provisioned once, from the service's lock key
        box_key = lock_key(s, ls, s.get(SmartLock, lock_pk))  # type: ignore[arg-type]
        s.commit()
    before = exports(db)
    assert all(before.values()) and "08:27" in before["punches"].decode("cp932")
    db.dispose()

    env = {"MYNAGATE_DATABASE_URL": url, "MYNAGATE_DATA_DIR": str(data), "MYNAGATE_ENV": "test",
           "MYNAGATE_SIGNING_KEY_FILE": str(data / "service-signing-key.pem"),
           "MYNAGATE_BACKUP_PASSPHRASE": PASSPHRASE}
    archive = tmp_path / "offsite" / "mynagate-2026-11-30.mnbak"
    archive.parent.mkdir()
    made = cli(env, "backup", "create", "--output", str(archive))
    assert made.returncode == 0, made.stderr
    assert PASSPHRASE not in made.stdout + made.stderr
    sealed = archive.read_bytes()
    assert b"PRIVATE KEY" not in sealed and (data / "pin-wrap.key").read_bytes() not in sealed

    # After the backup, before the disaster: a card enrolled, and the reader takes that version.
    cache = SnapshotCache(tmp_path / "agent" / "snapshot.json",
                          load_public_key(enrolled["service_public_key"]), device.device_id)
    db, app = service(url, data)
    try:
        with db.session() as s:  # a second staff member's card, enrolled as the service would
            person = Staff(staff_number="S0002", name="佐藤 花子", name_kana="サトウ ハナコ",
                           department_id=s.get(Staff, town.staff_id).department_id,  # type: ignore[union-attr]
                           active_from=date(2020, 4, 1))
            s.add(person)
            s.commit()
            late_staff = person.id
        add_credential(db, late_staff, LATE_CREDENTIAL, b"\x04" + b"\x02" * 64)
        with TestClient(app) as client:
            lost = cache.apply(SignedDevice(client, device.device_id, device.key)
                               .request("GET", "/snapshot").json())
        assert lost.public_key_for(LATE_CREDENTIAL) is not None
    finally:
        db.dispose()

    recreate_empty(url)  # the disk died: no database, no data directory
    shutil.rmtree(data)
    wrong = cli({**env, "MYNAGATE_BACKUP_PASSPHRASE": "not the passphrase"}, "backup",
                "restore", str(archive))
    assert wrong.returncode == 1 and "passphrase" in wrong.stderr
    restored = cli(env, "backup", "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    again = cli(env, "backup", "restore", str(archive))
    assert again.returncode == 1 and "--yes" in again.stderr  # never over a live database

    db, app = service(url, data)
    try:
        assert exports(db) == before  # byte-identical month
        with TestClient(app) as admin, SmtpServer() as smtp:
            admin.headers["Authorization"] = f"Bearer {token}"
            wire(app, data, smtp.settings())
            later_pin = book_pin(admin, smtp, fid, start + timedelta(hours=3), 1)
            # The reader, which holds a version the restored service never issued, asks for a
            # delta from it: it gets a full snapshot with a higher version and takes it, and the
            # card enrolled after the backup is gone from it.
            same_device = SignedDevice(admin, device.device_id, device.key)
            r = same_device.request("GET", f"/snapshot?since={lost.version}")
            assert r.status_code == 200, r.text
            assert r.json()["payload"]["full"] and r.json()["payload"]["version"] > lost.version
            snap = cache.apply(r.json())
            assert snap.public_key_for(CREDENTIAL) is not None
            assert snap.public_key_for(LATE_CREDENTIAL) is None
    finally:
        db.dispose()
    t = {"now": (start + timedelta(minutes=5)).timestamp()}
    box = KeyBox("aso-keybox-07", box_key, 0, tmp_path / "box.json",
                 DriftingClock(lambda: t["now"], ppm=0.0))
    assert box.enter(pin).opened
    t["now"] = (start + timedelta(hours=3, minutes=5)).timestamp()
    assert box.enter(later_pin).opened  # the restored service still knows the box's key


def test_a_snapshot_signed_by_another_key_is_refused(tmp_path: Path) -> None:
    """The snapshot check above can fail: a service with a new key is not trusted."""
    device_id = str(uuid.uuid4())
    trusted = load_public_key(public_key_b64(Ed25519PrivateKey.generate().public_key()))
    cache = SnapshotCache(tmp_path / "s.json", trusted, device_id)
    doc = sign_document({"device_id": device_id, "version": 1, "full": True},
                        Ed25519PrivateKey.generate())
    with pytest.raises(SnapshotError):
        cache.apply(doc)


@pytest.mark.postgres
def test_pg_dump_of_another_major_version_is_refused(own_database: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Only one PostgreSQL client is installed here, so an old one is a script on PATH."""

    assert check_tool("pg_dump", own_database) == server_major(own_database)
    old = tmp_path / "bin" / "pg_dump"
    old.parent.mkdir()
    old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 11.22'\n")
    old.chmod(0o755)
    monkeypatch.setenv("PATH", f"{old.parent}:{os.environ['PATH']}")
    load_or_create_signing_key(tmp_path / "k.pem")
    paths = Paths(own_database, tmp_path / "k.pem", LockSettings(data_dir=tmp_path))
    with pytest.raises(ToolMismatch, match=f"postgresql-client-{server_major(own_database)}"):
        create_backup(paths, tmp_path / "x.mnbak", PASSPHRASE, now=EXPORT_NOW)
    assert not (tmp_path / "x.mnbak").exists()
