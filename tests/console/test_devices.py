"""The console's readers page tells the admin, in Japanese, which reader runs an agent too
old for the service (refused) or one version behind (served until the next upgrade): the
version is the one each agent spoke in its own signed requests over HTTP."""

from __future__ import annotations

import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.protocol import PROTOCOL, ProtocolVersion
from reader_agent.client import ProtocolTooOld, ServiceClient
from tests.device_protocol.signer import enroll

pytestmark = pytest.mark.postgres
TOO_OLD = "エージェントが古すぎるため、サービスが接続を拒否しています"
DEPRECATED = "旧版のエージェント"
OLD = ProtocolVersion(PROTOCOL.major - 1, 9)
BEHIND = ProtocolVersion(PROTOCOL.major, PROTOCOL.minor - 1)


def _row(html: str, name: str) -> str:
    """The table row of the reader called ``name``."""
    match = re.search(rf"<tr[^>]*>\s*<td><a [^>]*>{re.escape(name)}</a></td>.*?</tr>", html,
                      re.S)
    assert match is not None, f"no row for {name}"
    return match.group(0)


def _heartbeat(url: str, device, agent: ProtocolVersion) -> None:  # type: ignore[no-untyped-def]
    client = ServiceClient(url, device.device_id, device.key, protocol=agent)
    try:
        client.heartbeat()
    finally:
        client.close()


def test_a_too_old_agent_is_named_in_the_console_and_a_current_one_is_not(
        admin, console, live_server) -> None:  # type: ignore[no-untyped-def]
    old, _ = enroll(admin, name="reader-old")
    current, _ = enroll(admin, name="reader-new")
    behind, _ = enroll(admin, name="reader-behind")
    enroll(admin, name="reader-silent")
    with pytest.raises(ProtocolTooOld):
        _heartbeat(live_server.url, old, OLD)
    _heartbeat(live_server.url, current, PROTOCOL)
    _heartbeat(live_server.url, behind, BEHIND)

    r = console.get("/console/devices")
    assert r.status_code == 200 and '<html lang="ja">' in r.text and "リーダー端末" in r.text
    old_row = _row(r.text, "reader-old")
    assert TOO_OLD in old_row and str(OLD) in old_row and 'class="alarm"' in old_row
    new_row = _row(r.text, "reader-new")
    assert TOO_OLD not in new_row and DEPRECATED not in new_row and "最新" in new_row
    assert str(PROTOCOL) in new_row
    assert DEPRECATED in _row(r.text, "reader-behind") and TOO_OLD not in _row(r.text,
                                                                              "reader-behind")
    assert "未報告" in _row(r.text, "reader-silent")
    assert r.text.count(TOO_OLD) == 1
    dashboard = console.get("/console").text  # and among the dashboard's alarms
    assert "エージェントが古すぎます" in dashboard and "reader-old" in dashboard
    assert "reader-new" not in dashboard and "reader-behind" not in dashboard

    # the agent upgraded: the notice goes
    _heartbeat(live_server.url, old, PROTOCOL)
    assert TOO_OLD not in console.get("/console/devices").text


def test_a_request_that_does_not_verify_marks_no_device(admin, console, live_server
                                                        ) -> None:  # type: ignore[no-untyped-def]
    device, _ = enroll(admin, name="reader-1")
    _heartbeat(live_server.url, device, PROTOCOL)
    forged = ServiceClient(live_server.url, device.device_id, Ed25519PrivateKey.generate(),
                           protocol=OLD)  # someone else claiming the device is too old
    try:
        with pytest.raises(ProtocolTooOld):
            forged.heartbeat()
    finally:
        forged.close()
    row = _row(console.get("/console/devices").text, "reader-1")
    assert TOO_OLD not in row and "最新" in row


def test_an_enrolled_reader_awaiting_confirmation_is_a_dashboard_alarm_until_confirmed(
        admin, console) -> None:  # type: ignore[no-untyped-def]
    admin.post("/admin/devices", json={"name": "reader-not-enrolled", "door_ids": []})
    device, _ = enroll(admin, name="reader-waiting", confirm=False)
    html = console.get("/console").text
    assert "登録済み・確認待ちのリーダー" in html and "reader-waiting" in html
    assert "reader-not-enrolled" not in html  # no key yet: nothing to confirm
    confirmed = admin.post(f"/admin/devices/{device.device_id}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert "登録済み・確認待ちのリーダー" not in console.get("/console").text
