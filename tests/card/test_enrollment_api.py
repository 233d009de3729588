"""Enrollment API: challenge → card answer (possession proven) → admin confirmation."""

from __future__ import annotations

import base64
import os
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from api.models import AuditLog, CardEnrollment, Credential, Department, Staff
from api.models.audit import SnapshotCounter
from reader_agent.card_auth import read_for_enrollment
from reader_agent.cards.staff_ap import VirtualStaffCard
from reader_agent.drivers.sim import get_sim_reader

pytestmark = pytest.mark.postgres


@pytest.fixture
def staff_member(database):
    with database.session() as s:
        dept = Department(code="SOUMU", name="総務課")
        s.add(dept)
        s.flush()
        member = Staff(staff_number="E1042", name="山田 花子", name_kana="ヤマダ ハナコ",
                       department_id=dept.id, active_from=date(2020, 4, 1))
        s.add(member)
        s.commit()
        return member.id


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def tap_for_enrollment(card: VirtualStaffCard, challenge_b64: str):
    reader = get_sim_reader("enroll-desk")
    reader.remove()
    reader.insert(card)
    channel = reader.wait_for_card(1.0)
    reading = read_for_enrollment(channel, base64.b64decode(challenge_b64))
    reader.remove()
    return {"credential_record": b64(reading.record), "signature": b64(reading.signature)}


def enroll(admin, card, **who):
    started = admin.post("/admin/enrollments", json=who)
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["status"] == "awaiting_response"
    assert len(base64.b64decode(body["challenge"])) == 32
    answered = admin.post(f"/admin/enrollments/{body['id']}/response",
                          json=tap_for_enrollment(card, body["challenge"]))
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "pending_confirmation"
    assert answered.json()["credential_ref"] == card.credential_ref
    confirmed = admin.post(f"/admin/enrollments/{body['id']}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    return confirmed.json()


def test_enroll_then_replace(admin, database, staff_member):
    first = VirtualStaffCard.generate("372153")
    done = enroll(admin, first, staff_number="E1042")
    assert done["status"] == "confirmed" and done["replaced_credential_id"] is None
    with database.session() as s:
        cred = s.get(Credential, done["credential_id"])
        assert cred.kind == "staff_ap" and cred.status == "active"
        assert cred.credential_ref == first.credential_ref
        assert base64.b64decode(cred.public_key) == first.public_key
        assert cred.issuer_code == "372153"
        v1 = cred.snapshot_version
        assert v1 == s.execute(select(SnapshotCounter.version)).scalar_one()

    second = VirtualStaffCard.generate("372153")
    done2 = enroll(admin, second, staff_id=staff_member)
    assert done2["replaced_credential_id"] == done["credential_id"]
    with database.session() as s:
        old = s.get(Credential, done["credential_id"])
        new = s.get(Credential, done2["credential_id"])
        assert old.status == "revoked" and old.status_reason == "replaced"
        assert new.status == "active"
        assert old.snapshot_version == new.snapshot_version > v1
        actions = [a.action for a in s.execute(select(AuditLog).order_by(AuditLog.id)).scalars()]
        assert actions.count("credential.enroll") == 2
        assert "credential.revoke" in actions


def test_signature_must_be_over_this_challenge(admin, staff_member):
    card = VirtualStaffCard.generate("372153")
    body = admin.post("/admin/enrollments", json={"staff_id": staff_member}).json()
    other = b64(os.urandom(32))
    answer = tap_for_enrollment(card, other)  # signed some other challenge
    r = admin.post(f"/admin/enrollments/{body['id']}/response", json=answer)
    assert r.status_code == 400 and r.json()["field"] == "signature"
    assert admin.post(f"/admin/enrollments/{body['id']}/confirm").status_code == 409


def test_bad_record_is_named(admin, staff_member):
    body = admin.post("/admin/enrollments", json={"staff_id": staff_member}).json()
    r = admin.post(f"/admin/enrollments/{body['id']}/response",
                   json={"credential_record": b64(b"\x01" * 88), "signature": b64(b"x")})
    assert r.status_code == 400 and r.json()["field"] == "credential_record"
    r = admin.post(f"/admin/enrollments/{body['id']}/response",
                   json={"credential_record": "not base64!", "signature": b64(b"x")})
    assert r.status_code == 400 and r.json()["field"] == "credential_record"


def test_same_card_cannot_be_enrolled_twice(admin, database, staff_member):
    card = VirtualStaffCard.generate("372153")
    enroll(admin, card, staff_id=staff_member)
    body = admin.post("/admin/enrollments", json={"staff_id": staff_member}).json()
    r = admin.post(f"/admin/enrollments/{body['id']}/response",
                   json=tap_for_enrollment(card, body["challenge"]))
    assert r.status_code == 409


def test_a_lost_card_that_turns_up_is_re_enrolled_with_proof_of_possession(admin, database,
                                                                          staff_member):
    """Lost, replaced, then found: enrolling the found card again proves it is in hand; it
    becomes active (the same credential row, audited as credential.recover) and replaces the
    stand-in card. A revoked card, or someone else's lost card, stays refused."""
    found = VirtualStaffCard.generate("372153")
    first = enroll(admin, found, staff_id=staff_member)
    r = admin.post(f"/admin/credentials/{first['credential_id']}/lost",
                   json={"reason": "窓口で紛失の届出"})
    assert r.status_code == 200, r.text
    stand_in = enroll(admin, VirtualStaffCard.generate("372153"), staff_id=staff_member)
    again = enroll(admin, found, staff_id=staff_member)
    assert again["credential_id"] == first["credential_id"]
    assert again["replaced_credential_id"] == stand_in["credential_id"]
    with database.session() as s:
        back = s.get(Credential, first["credential_id"])
        assert back.status == "active" and back.status_reason.startswith("found")
        assert s.get(Credential, stand_in["credential_id"]).status == "revoked"
        row = s.execute(select(AuditLog).where(AuditLog.action == "credential.recover")
                        ).scalar_one()
        assert row.before["status"] == "lost" and row.after["status"] == "active"
    r = admin.post(f"/admin/credentials/{first['credential_id']}/revoke",
                   json={"reason": "退職"})
    assert r.status_code == 200, r.text
    body = admin.post("/admin/enrollments", json={"staff_id": staff_member}).json()
    r = admin.post(f"/admin/enrollments/{body['id']}/response",
                   json=tap_for_enrollment(found, body["challenge"]))
    assert r.status_code == 409  # revoked is final


def test_someone_elses_lost_card_is_not_theirs_to_re_enroll(admin, database, staff_member):
    card = VirtualStaffCard.generate("372153")
    done = enroll(admin, card, staff_id=staff_member)
    admin.post(f"/admin/credentials/{done['credential_id']}/lost", json={"reason": "紛失"})
    with database.session() as s:
        other = Staff(staff_number="E2000", name="別 人", name_kana="ベツ ヒト",
                      department_id=s.get(Staff, staff_member).department_id,
                      active_from=date(2020, 4, 1))
        s.add(other)
        s.commit()
    body = admin.post("/admin/enrollments", json={"staff_number": "E2000"}).json()
    r = admin.post(f"/admin/enrollments/{body['id']}/response",
                   json=tap_for_enrollment(card, body["challenge"]))
    assert r.status_code == 409


def test_unknown_staff_and_admin_only(admin, client, staff_member):
    r = admin.post("/admin/enrollments", json={"staff_number": "NOPE"})
    assert r.status_code == 404 and r.json()["field"] == "staff_number"
    assert admin.post("/admin/enrollments", json={}).status_code == 422
    del client.headers["Authorization"]
    assert client.post("/admin/enrollments", json={"staff_id": staff_member}).status_code == 401


def test_expired_challenge(admin, database, staff_member, now):
    from datetime import timedelta

    card = VirtualStaffCard.generate("372153")
    body = admin.post("/admin/enrollments", json={"staff_id": staff_member}).json()
    with database.session() as s:
        e = s.get(CardEnrollment, body["id"])
        e.expires_at = now - timedelta(seconds=1)
        s.commit()
    r = admin.post(f"/admin/enrollments/{body['id']}/response",
                   json=tap_for_enrollment(card, body["challenge"]))
    assert r.status_code == 409 and "expired" in r.json()["detail"]


def jpki_answer(card, challenge_b64: str, pin: str):
    from reader_agent.card_auth import read_jpki_for_enrollment

    reader = get_sim_reader("enroll-desk")
    reader.remove()
    reader.insert(card)
    now = card.certificate.not_valid_before_utc + timedelta(hours=1)
    reading = read_jpki_for_enrollment(reader.wait_for_card(1.0),
                                       base64.b64decode(challenge_b64), read_pin=lambda: pin,
                                       now=now, ca_certs=[card.ca_certificate])
    reader.remove()
    return {"certificate": b64(reading.record), "signature": b64(reading.signature)}


def test_jpki_enrollment_and_certificate_renewal(admin, database, staff_member, jpki_card,
                                                 test_ca, other_rsa_key):
    from reader_agent.cards.jpki import VirtualJpkiCard, issue_auth_certificate

    body = admin.post("/admin/enrollments", json={"staff_id": staff_member,
                                                  "kind": "jpki_auth"}).json()
    assert body["kind"] == "jpki_auth"
    r = admin.post(f"/admin/enrollments/{body['id']}/response",
                   json=jpki_answer(jpki_card, body["challenge"], "4821"))
    assert r.status_code == 200, r.text
    assert r.json()["credential_ref"] == jpki_card.credential_ref
    first = admin.post(f"/admin/enrollments/{body['id']}/confirm").json()
    with database.session() as s:
        cred = s.get(Credential, first["credential_id"])
        assert cred.kind == "jpki_auth" and cred.not_after is not None
        from cryptography.hazmat.primitives import serialization
        assert base64.b64decode(cred.public_key) == jpki_card.certificate.public_key(
            ).public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)

    # The certificate is renewed (new key, new certificate): re-enrolling replaces it.
    renewed = VirtualJpkiCard(other_rsa_key, issue_auth_certificate(
        test_ca[0], test_ca[1], other_rsa_key.public_key()), test_ca[1], "4821")
    body = admin.post("/admin/enrollments", json={"staff_id": staff_member,
                                                  "kind": "jpki_auth"}).json()
    admin.post(f"/admin/enrollments/{body['id']}/response",
               json=jpki_answer(renewed, body["challenge"], "4821"))
    second = admin.post(f"/admin/enrollments/{body['id']}/confirm").json()
    assert second["replaced_credential_id"] == first["credential_id"]
    with database.session() as s:
        assert s.get(Credential, first["credential_id"]).status == "revoked"


def test_jpki_enrollment_needs_the_certificate(admin, staff_member):
    body = admin.post("/admin/enrollments", json={"staff_id": staff_member,
                                                  "kind": "jpki_auth"}).json()
    r = admin.post(f"/admin/enrollments/{body['id']}/response",
                   json={"credential_record": b64(b"\x01" * 89), "signature": b64(b"x")})
    assert r.status_code == 400 and r.json()["field"] == "certificate"
    r = admin.post(f"/admin/enrollments/{body['id']}/response",
                   json={"certificate": b64(b"junk"), "signature": b64(b"x")})
    assert r.status_code == 400 and r.json()["field"] == "certificate"


def test_jpki_enrollment_refuses_with_one_try_left(jpki_card):
    from reader_agent.card_auth import PinRefused

    jpki_card.tries_left = 1
    with pytest.raises(PinRefused):
        jpki_answer(jpki_card, b64(os.urandom(32)), "4821")
    assert jpki_card.verify_attempts == 0


def test_jpki_certificate_is_checked_before_the_pin(admin, staff_member, jpki_card, test_ca,
                                                    other_rsa_key):
    """The service's pre-PIN check: expired, malformed, wrong kind, already registered."""
    from cryptography.hazmat.primitives import serialization

    from reader_agent.cards.jpki import issue_auth_certificate

    body = admin.post("/admin/enrollments", json={"staff_id": staff_member,
                                                  "kind": "jpki_auth"}).json()
    url = f"/admin/enrollments/{body['id']}/certificate"
    der = jpki_card.certificate.public_bytes(serialization.Encoding.DER)
    r = admin.post(url, json={"certificate": b64(der)})
    assert r.status_code == 200, r.text
    assert r.json()["credential_ref"] == jpki_card.credential_ref

    expired = issue_auth_certificate(test_ca[0], test_ca[1], other_rsa_key.public_key(),
                                     not_before=datetime(2015, 1, 1, tzinfo=UTC))
    r = admin.post(url, json={"certificate": b64(expired.public_bytes(
        serialization.Encoding.DER))})
    assert r.status_code == 400 and r.json()["field"] == "certificate"
    assert "expired on 2019-12-31" in r.json()["detail"] and "renew" in r.json()["detail"]
    r = admin.post(url, json={"certificate": b64(b"junk")})
    assert r.status_code == 400

    # once enrolled, the same certificate is refused before anyone types a PIN
    admin.post(f"/admin/enrollments/{body['id']}/response",
               json=jpki_answer(jpki_card, body["challenge"], "4821"))
    admin.post(f"/admin/enrollments/{body['id']}/confirm")
    again = admin.post("/admin/enrollments", json={"staff_id": staff_member,
                                                   "kind": "jpki_auth"}).json()
    r = admin.post(f"/admin/enrollments/{again['id']}/certificate",
                   json={"certificate": b64(der)})
    assert r.status_code == 409 and "already registered" in r.json()["detail"]
    staff = admin.post("/admin/enrollments", json={"staff_id": staff_member}).json()
    r = admin.post(f"/admin/enrollments/{staff['id']}/certificate",
                   json={"certificate": b64(der)})
    assert r.status_code == 409 and r.json()["field"] == "kind"
