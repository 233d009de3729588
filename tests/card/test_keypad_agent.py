"""``mynagate agent run --keypad …`` through the real pcscd + vpcd and real keypads.

- a serial keypad on a pseudo-terminal pair (os.openpty): the PIN is typed into the pty and a
  JPKI card on vpcd opens a card+PIN door of the real service;
- ``pcsc-pinpad:`` on vpcd, which has no secure PIN entry: the agent says so and refuses.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from api.models import Credential
from api.models import Door as DoorRow
from api.snapshot.versioning import bump
from reader_agent.cards.jpki import VirtualJpkiCard, make_test_ca
from reader_agent.cards.vpcd import VpcdCard
from reader_agent.drivers.pcsc import PcscReader
from reader_agent.keypad import KeypadUnavailable
from reader_agent.keypad.pcsc_pinpad import PcscPinpad
from tests.agent.town import confirm_device, device_token, seed_town, stored_events

pytestmark = pytest.mark.pcsc

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from mynagate_cli import main; main()"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
PROMPT = "○ 暗証番号を入力してください"


def wait_for(pred, timeout: float = 30, what: str = "", log: Path | None = None) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}: " + (
            log.read_text()[-3000:] if log is not None else "")
        time.sleep(0.05)


def take_away(vcard: VpcdCard, reader: str, out: Path, taps: int) -> None:
    """Remove the card once the agent has finished tap number ``taps`` and released the card,
    and wait until pcscd has seen the reader empty, so the next insert is a new presentation.

    (pcscd + vpcd miss the next insertion when a card leaves while a handle to it is still
    connected; the agent disconnects right after the tap, so the holder waits for the
    message, as at a real door.)
    """
    wait_for(lambda: out.read_text().count("agent.tap.") >= taps, what=f"tap {taps} logged")
    time.sleep(0.5)
    vcard.remove()
    watcher = PcscReader(reader)
    try:
        assert watcher.wait_for_removal(10.0), "pcscd did not see the card leave"
    finally:
        watcher.close()


def jpki_door(database, card: VirtualJpkiCard):  # type: ignore[no-untyped-def]
    """The town's 書庫 made a card+PIN door, and the card's JPKI credential enrolled."""
    town = seed_town(database)
    spki = card.certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    with database.session() as s:
        v = bump(s)
        s.get(DoorRow, town.door_id).assurance = "card+pin"
        s.add(Credential(staff_id=town.staff_id, kind="jpki_auth",
                         credential_ref=card.credential_ref,
                         public_key=base64.b64encode(spki).decode(),
                         not_after=card.certificate.not_valid_after_utc, status="active",
                         snapshot_version=v))
        s.commit()
    return town


def test_serial_keypad_on_a_pty_opens_a_card_pin_door(pcscd, live_server, admin, database,
                                                       tmp_path: Path) -> None:
    ca_key, ca_cert = make_test_ca()
    card = VirtualJpkiCard.generate(ca_key, ca_cert, "4821")
    town = jpki_door(database, card)
    ca_file = tmp_path / "jpki-ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    data = tmp_path / "agent"
    r = subprocess.run([*CLI, "agent", "enroll", "--service", live_server.url, "--token",
                        device_token(admin, [town.door_id]), "--data-dir", str(data)],
                       capture_output=True, text=True, timeout=60, cwd=ROOT, env=ENV)
    assert r.returncode == 0, r.stderr
    device_id = (data / "identity.json").read_text().split('"device_id": "')[1].split('"')[0]
    confirm_device(admin, device_id)

    master, slave = os.openpty()  # the keypad's end is the slave, the test types on master
    out = tmp_path / "agent.out"
    with out.open("wb") as f:
        proc = subprocess.Popen(
            [*CLI, "agent", "run", "--data-dir", str(data), "--reader",
             f"pcsc:{pcscd.reader}", "--door", str(town.door_id), "--keypad",
             f"serial:{os.ttyname(slave)}", "--jpki-ca", str(ca_file), "--heartbeat-s", "1"],
            stdout=f, stderr=subprocess.STDOUT, cwd=ROOT, env=ENV)
    vcard = VpcdCard(card, "127.0.0.1", pcscd.port)
    text = out.read_text
    try:
        wait_for(lambda: "agent.run.started" in text() and (data / "snapshot.json").exists(),
                 what="the agent and its snapshot")
        assert f"keypad: serial:{os.ttyname(slave)}" in text()

        vcard.insert()
        wait_for(lambda: PROMPT in text(), what="the PIN prompt")
        os.write(master, b"4821#")
        wait_for(lambda: "どうぞお入りください" in text(), what="the door to open")
        take_away(vcard, pcscd.reader, out, 1)
        assert card.tries_left == 3

        vcard.insert()  # a wrong PIN: denied once, one try spent
        wait_for(lambda: text().count(PROMPT) == 2, what="the second prompt", log=out)
        os.write(master, b"1234#")
        wait_for(lambda: "暗証番号が違います" in text(), what="the wrong-PIN message")
        take_away(vcard, pcscd.reader, out, 2)
        assert card.tries_left == 2

        os.close(master)  # the keypad is unplugged: an alarm, no crash
        master = -1
        vcard.insert()
        wait_for(lambda: "暗証番号の入力装置が使用できません" in text(), what="the keypad fault", log=out)
        take_away(vcard, pcscd.reader, out, 3)
        assert proc.poll() is None and card.tries_left == 2
        wait_for(lambda: any(e.kind == "alarm" and e.data.get("alarm") == "keypad_unavailable"
                             for e in stored_events(database, device_id)),
                 what="the keypad alarm at the service")
    finally:
        vcard.remove()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(30)
        for fd in (master, slave):
            if fd >= 0:
                os.close(fd)
    assert rc == 0, text()
    shown = [line for line in text().splitlines() if line.startswith(("○", "×"))]
    assert shown == [PROMPT, "○ どうぞお入りください", PROMPT, "× 暗証番号が違います", PROMPT,
                     "× 暗証番号の入力装置が使用できません。管理者に連絡してください"]
    events = [e for e in stored_events(database, device_id) if e.kind in ("tap", "alarm")]
    taps = [(e.granted, e.reason) for e in events if e.kind == "tap"]
    assert taps == [(True, "granted"), (False, "pin_wrong"), (False, "keypad_error")]
    granted = next(e for e in events if e.kind == "tap").data
    print(f"\ncard+PIN tap through pcscd+vpcd with a pty keypad: {granted['apdus']} APDUs, "
          f"{granted['transport_ms']} ms in the transport, {granted['card_ms']} ms for the "
          "card exchange including the wait for the typed PIN")
    # The device's own alarm (the wrong PIN also gets the service's credential_auth_failed).
    [alarm] = [e for e in events if e.kind == "alarm" and e.seq > 0]
    assert alarm.data["alarm"] == "keypad_unavailable" and alarm.data["active"] is True
    assert "4821" not in text() and all("4821" not in str(e.data) for e in events)

    # The same host with the reader's own PIN pad: vpcd has no secure PIN entry, so the agent
    # says so at start and refuses to run.
    r = subprocess.run([*CLI, "agent", "run", "--data-dir", str(data), "--reader",
                        f"pcsc:{pcscd.reader}", "--door", str(town.door_id), "--keypad",
                        "pcsc-pinpad:Test PCD"],
                       capture_output=True, text=True, timeout=60, cwd=ROOT, env=ENV)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "FEATURE_VERIFY_PIN_DIRECT" in r.stderr
    assert "refusing to run a card+PIN door" in r.stderr


def test_vpcd_reports_no_secure_pin_entry(pcscd) -> None:
    pad = PcscPinpad("Test PCD")
    faults: list[tuple[str, bool]] = []
    pad.on_fault = lambda err, active: faults.append((err.code, active))
    with pytest.raises(KeypadUnavailable, match="FEATURE_VERIFY_PIN_DIRECT") as info:
        pad.check()
    assert pcscd.reader in str(info.value)
    assert faults == [("keypad_unavailable", True)]
    with pytest.raises(KeypadUnavailable, match="no PC/SC reader"):
        PcscPinpad("No Such Reader").check()
