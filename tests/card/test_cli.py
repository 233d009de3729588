"""``mynagate card``: make/list, insert/remove as a real process, enroll at a reader."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from api.models import Credential, Department, Staff
from mynagate_cli import app
from reader_agent.card_auth import authenticate_staff_ap
from reader_agent.cards.jpki import VirtualJpkiCard, issue_auth_certificate, make_test_ca
from reader_agent.cards.staff_ap import VirtualStaffCard
from reader_agent.cards.store import list_cards, load_card
from reader_agent.drivers import open_reader
from reader_agent.drivers.sim import get_sim_reader

from .test_nfc import free_udp_port

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def test_make_and_list(tmp_path):
    d = str(tmp_path / "cards")
    r = runner.invoke(app, ["card", "make", "alice", "--issuer", "372153", "--dir", d])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["card", "make", "bob", "--kind", "jpki", "--pin", "4821", "--dir", d])
    assert r.exit_code == 0, r.output
    assert runner.invoke(app, ["card", "make", "alice", "--dir", d]).exit_code == 1
    assert runner.invoke(app, ["card", "make", "x", "--issuer", "12", "--dir", d]).exit_code == 1
    assert runner.invoke(app, ["card", "make", "y", "--kind", "jpki", "--dir", d]).exit_code == 1
    r = runner.invoke(app, ["card", "list", "--dir", d])
    assert r.exit_code == 0
    infos = {i.name: i for i in list_cards(Path(d))}
    assert infos["alice"].kind == "staff_ap" and infos["alice"].credential_ref in r.output
    assert infos["bob"].kind == "jpki" and len(infos["bob"].credential_ref) == 64
    card = load_card(Path(d), "alice")
    assert isinstance(card, VirtualStaffCard) and card.issuer_code == "372153"
    assert (Path(d) / "alice.json").stat().st_mode & 0o077 == 0
    assert "PRIVATE KEY" not in r.output


@pytest.mark.nfc
def test_insert_and_remove_as_a_process(tmp_path, now):
    d = tmp_path / "cards"
    assert runner.invoke(app, ["card", "make", "alice", "--dir", str(d)]).exit_code == 0
    card = load_card(d, "alice")
    port = free_udp_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "mynagate"), "card", "insert", "alice", "--reader",
         f"nfc:udp:127.0.0.1:{port}", "--dir", str(d)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    reader = open_reader(f"nfc:udp:127.0.0.1:{port}")
    try:
        channel = reader.wait_for_card(20.0)
        assert channel is not None, proc.poll() is not None and proc.communicate()[0]
        result = authenticate_staff_ap(
            channel, lookup_public_key={card.credential_ref: card.public_key}.get,
            reader_id="r", now=now)
        assert result.ok, result.detail
        r = runner.invoke(app, ["card", "remove", "alice", "--dir", str(d)])
        assert r.exit_code == 0, r.output
        out, _ = proc.communicate(timeout=10)
        assert proc.returncode == 0 and "removed" in out
    finally:
        reader.close()
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def _staff(database) -> int:
    with database.session() as s:
        dept = Department(code="KIKAKU", name="企画課")
        s.add(dept)
        s.flush()
        member = Staff(staff_number="E2001", name="土庄 一郎", name_kana="トノショウ イチロウ",
                       department_id=dept.id, active_from=date(2021, 4, 1))
        s.add(member)
        s.commit()
        return member.id


def test_enroll_at_a_sim_reader(live_server, database, tmp_path, admin_token):
    staff_id = _staff(database)
    card = VirtualStaffCard.generate("372153")
    reader = get_sim_reader("enroll-cli")
    reader.insert(card)
    r = runner.invoke(app, ["card", "enroll", "--reader", "sim:enroll-cli", "--service",
                            live_server.url, "--token", admin_token, "--staff-number",
                            "E2001", "--wait", "2", "--yes"])
    assert r.exit_code == 0, r.output
    assert card.credential_ref in r.output
    with database.session() as s:
        cred = s.query(Credential).filter_by(credential_ref=card.credential_ref).one()
        assert cred.staff_id == staff_id and cred.status == "active"
    # without --yes and answering "n", the enrollment stays pending
    reader.remove()
    other = VirtualStaffCard.generate("372153")
    reader.insert(other)
    r = runner.invoke(app, ["card", "enroll", "--reader", "sim:enroll-cli", "--service",
                            live_server.url, "--token", admin_token, "--staff-id",
                            str(staff_id), "--wait", "2"], input="n\n")
    assert r.exit_code == 0 and "pending" in r.output
    with database.session() as s:
        assert s.query(Credential).filter_by(credential_ref=other.credential_ref).count() == 0


def test_enroll_reports_a_card_error(live_server, database, admin_token):
    _staff(database)

    class Mute:
        def process(self, apdu):
            return None

    get_sim_reader("enroll-mute").insert(Mute())
    r = runner.invoke(app, ["card", "enroll", "--reader", "sim:enroll-mute", "--service",
                            live_server.url, "--token", admin_token, "--staff-number",
                            "E2001", "--wait", "1", "--yes"])
    assert r.exit_code == 1 and "card error" in r.output


def jpki_enroll(live_server, tmp_path, card, reader: str, token: str, pin: str = "4821"):  # type: ignore[no-untyped-def]
    ca = tmp_path / "jpki-ca.pem"
    ca.write_bytes(card.ca_certificate.public_bytes(serialization.Encoding.PEM))
    get_sim_reader(reader).insert(card)
    return runner.invoke(app, ["card", "enroll", "--kind", "jpki", "--reader", f"sim:{reader}",
                               "--service", live_server.url, "--token", token,
                               "--staff-number", "E2001", "--wait", "2", "--yes",
                               "--jpki-ca", str(ca)], input=f"{pin}\n")


def verify_with_data(reader: str) -> list[bytes]:
    """VERIFY commands that carried data (a PIN) in the reader's trace."""
    return [a for a in get_sim_reader(reader).sent if a[:2] == b"\x00\x20" and len(a) > 5]


def test_enroll_a_jpki_card(live_server, database, jpki_card, tmp_path, admin_token):
    _staff(database)
    r = jpki_enroll(live_server, tmp_path, jpki_card, "enroll-jpki", admin_token)
    assert r.exit_code == 0, r.output
    assert jpki_card.credential_ref in r.output and "4821" not in r.output
    with database.session() as s:
        cred = s.query(Credential).filter_by(credential_ref=jpki_card.credential_ref).one()
        assert cred.kind == "jpki_auth" and cred.status == "active"


def test_enrolling_an_expired_jpki_card_costs_no_pin_try(live_server, database, test_ca,
                                                          other_rsa_key, tmp_path, now, admin_token):
    _staff(database)
    ca_key, ca_cert = test_ca
    expired = VirtualJpkiCard(other_rsa_key, issue_auth_certificate(
        ca_key, ca_cert, other_rsa_key.public_key(), not_before=now - timedelta(days=11 * 365)),
        ca_cert, "4821")
    r = jpki_enroll(live_server, tmp_path, expired, "enroll-expired", admin_token, pin="0000")
    assert r.exit_code == 1
    assert "stopped before the PIN, no try spent" in r.output and "expired" in r.output
    assert "暗証番号を入力" not in r.output  # the holder was never asked
    assert verify_with_data("enroll-expired") == []
    assert expired.verify_attempts == 0 and expired.tries_left == 3
    with database.session() as s:
        assert s.query(Credential).filter_by(credential_ref=expired.credential_ref).count() == 0


def test_enroll_refuses_before_the_pin_an_untrusted_or_registered_card(
        live_server, database, jpki_card, tmp_path, admin_token):
    _staff(database)
    rogue_key, rogue_ca = make_test_ca("rogue CA")
    rogue = VirtualJpkiCard(jpki_card.private_key, issue_auth_certificate(
        rogue_key, rogue_ca, jpki_card.private_key.public_key()), rogue_ca, "4821")
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    (trusted / "jpki-ca.pem").write_bytes(jpki_card.ca_certificate.public_bytes(
        serialization.Encoding.PEM))
    get_sim_reader("enroll-rogue").insert(rogue)
    r = runner.invoke(app, ["card", "enroll", "--kind", "jpki", "--reader", "sim:enroll-rogue",
                            "--service", live_server.url, "--token", admin_token,
                            "--staff-number", "E2001", "--wait", "2", "--yes",
                            "--jpki-ca", str(trusted / "jpki-ca.pem")], input="4821\n")
    assert r.exit_code == 1 and "not issued by a configured JPKI" in r.output
    assert rogue.verify_attempts == 0 and verify_with_data("enroll-rogue") == []

    assert jpki_enroll(live_server, tmp_path, jpki_card, "enroll-first", admin_token).exit_code == 0
    get_sim_reader("enroll-first").remove()
    attempts = jpki_card.verify_attempts
    r = jpki_enroll(live_server, tmp_path, jpki_card, "enroll-again", admin_token)
    assert r.exit_code == 1 and "already registered" in r.output
    assert jpki_card.verify_attempts == attempts and verify_with_data("enroll-again") == []

    r = runner.invoke(app, ["card", "enroll", "--kind", "jpki", "--reader", "sim:enroll-again",
                            "--service", live_server.url, "--token", admin_token,
                            "--staff-number", "E2001", "--wait", "2", "--yes"])
    assert r.exit_code == 1 and "--jpki-ca" in r.output


@pytest.mark.parametrize(("tries", "text"), [
    (0, "暗証番号がロックされています。市区町村の窓口で暗証番号の再設定をしてください"),
    (1, "暗証番号の残り回数が1回のため照合しません。市区町村の窓口で確認してください"),
])
def test_enroll_says_blocked_or_one_try_left_without_a_verify(live_server, database, test_ca,
                                                              other_rsa_key, tmp_path, tries,
                                                              text, admin_token):
    _staff(database)
    card = VirtualJpkiCard(other_rsa_key, issue_auth_certificate(
        test_ca[0], test_ca[1], other_rsa_key.public_key()), test_ca[1], "4821",
        tries_left=tries)
    r = jpki_enroll(live_server, tmp_path, card, f"enroll-tries-{tries}", admin_token)
    assert r.exit_code == 1 and "stopped at the PIN" in r.output
    assert text in r.output and r.output.count(text) == 1
    assert verify_with_data(f"enroll-tries-{tries}") == [] and card.tries_left == tries
