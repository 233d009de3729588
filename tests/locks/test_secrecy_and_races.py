"""PIN secrecy (never logged, master encrypted at rest), concurrent issuing on one lock,
rekey, and the key box's own throttle end to end."""

from __future__ import annotations

import logging
import stat
import threading
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.bookings import service as bookings
from api.locks.secrets import load_master
from api.models import IssuedPin, PinMaster, SmartLock
from gate.pin import PinWindow, derive_lock_key, issue_pin, verify_pin
from reader_agent.lock_emulator import DriftingClock, KeyBox
from reader_agent.lock_emulator.firmware import firmware_verify

from .helpers import PIN_RE, SmtpServer, create_site, text_of, wire


@pytest.fixture
def slot(now: datetime) -> datetime:
    """A booking slot four days after the test's ``now``, on the hour."""
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(days=4)


def test_pins_never_logged_and_master_encrypted_at_rest(admin, app, database, tmp_path,
                                                        caplog, slot):
    caplog.set_level(logging.DEBUG)
    with SmtpServer() as smtp:
        ls = wire(app, tmp_path, smtp.settings())
        fid, lock_pk = create_site(admin)
        r = admin.post("/api/v1/bookings", json={
            "facility_id": fid, "start_at": slot.isoformat(),
            "end_at": (slot + timedelta(hours=1)).isoformat(), "booker_name": "木村",
            "booker_email": "kimura@example.jp", "payment_status": "paid"})
        bid = r.json()["id"]
        [msg] = smtp.inbox.wait(1)
        pin = PIN_RE.search(text_of(msg))["pin"]  # type: ignore[index]
        code = admin.get(f"/api/v1/locks/{lock_pk}/pending-revocations").json()["codes"]
        admin.post(f"/api/v1/bookings/{bid}/cancel")
        rev = admin.get(f"/api/v1/locks/{lock_pk}/pending-revocations").json()["codes"]
    assert code == [] and len(rev) == 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert pin not in logged and rev[0] not in logged
    with database.session() as s:
        row = s.get(PinMaster, 1)
        master = load_master(s, ls)
        assert master not in row.ciphertext and len(master) == 32
        assert pin not in str([(p.start_slot, p.variant) for p in s.query(IssuedPin)])
    key_file = tmp_path / "pin-wrap.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # another wrapping key cannot read the master
    from cryptography.exceptions import InvalidTag

    from api.locks.settings import LockSettings

    with database.session() as s, pytest.raises(InvalidTag):
        load_master(s, LockSettings(data_dir=tmp_path / "other"))


def test_concurrent_issues_on_one_lock_get_distinct_variants(admin, app, database, tmp_path,
                                                             slot):
    """Six payments of the same slot at once: three get variants 0, 1, 2; the rest are refused
    (409), never a duplicate (the lock row is locked while a variant is chosen)."""
    ls = wire(app, tmp_path)
    fid, _ = create_site(admin)
    ids = []
    for i in range(6):
        r = admin.post("/api/v1/bookings", json={
            "facility_id": fid, "start_at": slot.isoformat(),
            "end_at": (slot + timedelta(hours=1)).isoformat(), "booker_name": f"利用者{i}",
            "booker_email": f"u{i}@example.jp"})
        ids.append(r.json()["id"])
    with database.session() as s:  # create the master before the race
        load_master(s, ls)
        s.commit()
    barrier = threading.Barrier(len(ids))
    outcome: list[str] = []

    def pay(bid: int) -> None:
        with database.session() as s:
            barrier.wait()
            try:
                bookings.mark_paid(s, ls, bid, actor="race")
                s.commit()
                outcome.append("ok")
            except Exception as err:  # noqa: BLE001 - Conflict or a unique violation
                s.rollback()
                outcome.append(type(err).__name__)

    threads = [threading.Thread(target=pay, args=(b,)) for b in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    with database.session() as s:
        variants = sorted(p.variant for p in s.query(IssuedPin))
    assert variants == [0, 1, 2]
    assert outcome.count("ok") == 3


def test_rekey_kills_old_codes_and_reissues(admin, app, database, tmp_path, now):
    with SmtpServer() as smtp:
        ls = wire(app, tmp_path, smtp.settings())
        fid, lock_pk = create_site(admin)
        admin.post("/api/v1/bookings", json={
            "facility_id": fid, "start_at": (now + timedelta(hours=2)).isoformat(),
            "end_at": (now + timedelta(hours=3)).isoformat(),
            "booker_name": "林", "booker_email": "hayashi@example.jp", "payment_status": "paid"})
        [m1] = smtp.inbox.wait(1)
        r = admin.post(f"/api/v1/locks/{lock_pk}/rekey")
        assert r.status_code == 200 and r.json()["generation"] == 1
        [_, m2] = smtp.inbox.wait(2)
    old = PIN_RE.search(text_of(m1))["pin"]  # type: ignore[index]
    new = PIN_RE.search(text_of(m2))["pin"]  # type: ignore[index]
    with database.session() as s:
        master = load_master(s, ls)
        lock = s.get(SmartLock, lock_pk)
        p = s.query(IssuedPin).filter_by(generation=1).one()
        n = p.start_slot
    k1 = derive_lock_key(master, lock.lock_id, 1)
    assert verify_pin(k1, lock.lock_id, 1, new, n) is not None
    assert verify_pin(k1, lock.lock_id, 1, old, n) is None


@settings(max_examples=200, deadline=None)
@given(start=st.integers(1_990_000, 2_000_000), dur=st.integers(1, 96), c=st.integers(0, 2),
       off=st.integers(-200, 200), flip=st.integers(0, 10))
def test_firmware_and_issuer_verifiers_agree(start, dur, c, off, flip):
    key = derive_lock_key(b"z" * 32, "aso-hall-02", 5)
    pin = issue_pin(key, "aso-hall-02", 5, PinWindow(start, dur, c))
    if flip < 10:  # sometimes a mistyped digit
        pin = pin[:flip] + str((int(pin[flip]) + 1) % 10) + pin[flip + 1:] if flip % 3 == 0 \
            else pin
    ours = verify_pin(key, "aso-hall-02", 5, pin, start + off)
    theirs = firmware_verify(key, "aso-hall-02", 5, pin, start + off)
    assert (None if ours is None else (ours.start_slot, ours.duration_slots, ours.variant)) \
        == theirs


def test_keybox_throttle_end_to_end_allows_34_checks_a_day(tmp_path):
    key = derive_lock_key(b"q" * 32, "aso-keybox-09", 0)
    t = {"now": 1_800_000_000.0}
    box = KeyBox("aso-keybox-09", key, 0, tmp_path / "b.json", DriftingClock(lambda: t["now"]))
    checked = refused = 0
    end = t["now"] + 86400
    while t["now"] < end:
        r = box.enter("1234567890")
        if r.reason == "wait":
            refused += 1
            t["now"] += r.wait_s
        else:
            checked += 1
    assert checked == 34 and refused > 0
