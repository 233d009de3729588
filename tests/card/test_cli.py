"""``mynagate card``: make/list, insert/remove as a real process, enroll at a reader."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.models import Credential, Department, Staff
from mynagate_cli import app
from reader_agent.card_auth import authenticate_staff_ap
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
def test_insert_and_remove_as_a_process(tmp_path):
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
            reader_id="r", now=datetime.now(UTC))
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


def test_enroll_a_jpki_card(live_server, database, jpki_card, admin_token):
    _staff(database)
    get_sim_reader("enroll-jpki").insert(jpki_card)
    r = runner.invoke(app, ["card", "enroll", "--kind", "jpki", "--reader", "sim:enroll-jpki",
                            "--service", live_server.url, "--token", admin_token,
                            "--staff-number", "E2001", "--wait", "2", "--yes"],
                      input="4821\n")
    assert r.exit_code == 0, r.output
    assert jpki_card.credential_ref in r.output and "4821" not in r.output
    with database.session() as s:
        cred = s.query(Credential).filter_by(credential_ref=jpki_card.credential_ref).one()
        assert cred.kind == "jpki_auth" and cred.status == "active"
