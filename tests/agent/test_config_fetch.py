"""Readers fetch their own configuration (issue 12 item 4): the real service over loopback
HTTP signs each device's firmware_config bundle; a real agent pulls it on its next poll,
verifies it, installs it (last good kept) and puts it in force. No file is copied."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from firmware_config.bundle import read_last_good
from gate.door import Alarm, DoorTiming
from mynagate_cli import app as cli_app
from reader_agent.agent import AgentConfig, ReaderAgent
from reader_agent.client import ServiceRejected
from reader_agent.config_updater import CONFIG_FILE
from reader_agent.door_io import DoorController, SimDoorIO

from .sim_cards import Presenter, new_card
from .town import add_credential, enroll_confirmed, seed_town


class FakeClock:
    """Monotonic seconds for the door controller (its thread is not started)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Rewrite(httpx.BaseTransport):
    """Real HTTP to the service, with the answers of ``GET /device/v1/config`` rewritten
    (an attacker on the path, or a replayed old answer)."""

    def __init__(self, rewrite: Callable[[Any], dict[str, Any]]) -> None:
        self.inner = httpx.HTTPTransport()
        self.rewrite = rewrite
        self.rewritten = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        resp = self.inner.handle_request(request)
        if request.url.path != "/device/v1/config" or resp.status_code not in (200, 204):
            return resp
        resp.read()
        self.rewritten += 1
        original = resp.json() if resp.content else None  # 204: nothing newer
        return httpx.Response(200, json=self.rewrite(original), request=request)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def admin_http(live_server, admin_token: str) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    """The admin API over real HTTP on loopback."""
    with httpx.Client(base_url=live_server.url,
                      headers={"Authorization": f"Bearer {admin_token}"}) as http:
        yield http


def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> float:
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.01)
    return time.monotonic() - t0


def config_alarms(agent: ReaderAgent) -> list[dict[str, Any]]:
    return [e["data"] for e in agent.outbox.all_events()
            if e["kind"] == "alarm" and e["data"].get("alarm") == Alarm.CONFIG_REFUSED.value]


def setup_reader(live_server, admin, admin_http: httpx.Client, database,  # type: ignore[no-untyped-def]
                 data_dir: Path) -> tuple[int, str, Any]:
    town = seed_town(database)
    card = new_card()
    add_credential(database, town.staff_id, card.credential_ref, card.public_key)
    identity = enroll_confirmed(admin, data_dir, live_server.url, [town.door_id])
    resp = admin_http.put(f"/admin/devices/{identity.device_id}/config",
                          json={"driver": "sim:cfg", "service_url": live_server.url,
                                "language": "ja"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["config_version"] == 1
    return town.door_id, identity.device_id, card


def start_agent(data_dir: Path, door_id: int, clock: FakeClock) -> tuple[ReaderAgent,
                                                                         DoorController]:
    # As `mynagate agent run` builds it from its flags (no bundle yet): the default timing.
    controller = DoorController(SimDoorIO([door_id]), {door_id: DoorTiming()}, clock=clock)
    agent = ReaderAgent(data_dir, AgentConfig("sim:cfg", door_id), door_io=controller,
                        wait_s=2, upload_idle_s=0.05)
    return agent, controller


def granted_window(agent: ReaderAgent, controller: DoorController, door_id: int,
                   card: Any, clock: FakeClock) -> float:
    """Tap the card; how long the controller releases the strike for."""
    clock.t += 100  # past any earlier window
    out = agent.tap(Presenter(card, "cfg"))
    assert out.granted, out.reason
    state = controller.state(door_id)
    assert state.relay and state.unlock_until is not None
    return state.unlock_until - clock.t


def test_unlock_time_changed_in_admin_api_reaches_the_reader(  # type: ignore[no-untyped-def]
        live_server, admin, admin_http, database, tmp_path: Path, caplog):
    door_id, device_id, card = setup_reader(live_server, admin, admin_http, database, tmp_path)
    clock = FakeClock()
    agent, controller = start_agent(tmp_path, door_id, clock)
    try:
        agent.start()
        wait_for(lambda: agent.config.version == 1)
        assert agent.taps.config.unlock_seconds == 5.0
        assert granted_window(agent, controller, door_id, card, clock) == 5.0

        resp = admin_http.patch(f"/admin/doors/{door_id}", json={"unlock_seconds": 12})
        assert resp.status_code == 200 and resp.json()["unlock_seconds"] == 12
        took = wait_for(lambda: agent.config.version == 2)
        assert agent.taps.config.unlock_seconds == 12
        assert controller.state(door_id).timing.unlock_seconds == 12
        assert granted_window(agent, controller, door_id, card, clock) == 12
        agent.heartbeat.run_once()
        assert config_alarms(agent) == []
        assert "restart_needed" not in caplog.text  # a timing applies while running
    finally:
        agent.close()
    print(f"\nthe new unlock time reached the running agent in {took * 1000:.0f} ms")
    installed = read_last_good(tmp_path / CONFIG_FILE, agent.identity.service_key(),
                               device=device_id)
    assert installed is not None and installed.config_version == 2
    assert installed.config.doors[0].unlock_seconds == 12
    dev = admin_http.get(f"/admin/devices/{device_id}").json()
    assert dev["config_version"] == 2  # the heartbeat reports the bundle in force


def test_tampered_bundle_refused_and_last_good_kept(  # type: ignore[no-untyped-def]
        live_server, admin, admin_http, database, tmp_path: Path):
    door_id, device_id, _card = setup_reader(live_server, admin, admin_http, database,
                                             tmp_path)
    agent, _controller = start_agent(tmp_path, door_id, FakeClock())
    try:
        agent.watcher.sync()
        assert agent.config.version == 1
        good = (tmp_path / CONFIG_FILE).read_bytes()

        def tamper(doc: dict[str, Any]) -> dict[str, Any]:
            doc["payload"]["config"]["doors"][0]["unlock_seconds"] = 60
            return doc

        rewrite = Rewrite(tamper)
        agent.client.set_transport(rewrite)
        assert admin_http.patch(f"/admin/doors/{door_id}",
                                json={"unlock_seconds": 9}).status_code == 200
        agent.watcher.sync()
        agent.watcher.sync()  # the same tampered document again: one alarm, not two
        assert rewrite.rewritten == 2
        assert agent.config.version == 1 and agent.config.refused == 2
        assert agent.taps.config.unlock_seconds == 5.0
        assert (tmp_path / CONFIG_FILE).read_bytes() == good
        alarms = config_alarms(agent)
        assert len(alarms) == 1
        assert alarms[0]["offered_version"] == 2 and alarms[0]["kept_version"] == 1
        assert "signature refused" in alarms[0]["detail"]

        agent.client.set_transport(None)  # the path is clean again: the real v2 goes in
        agent.watcher.sync()
        assert agent.config.version == 2 and agent.taps.config.unlock_seconds == 9
    finally:
        agent.close()


def test_older_bundle_refused_also_when_its_file_is_put_back(  # type: ignore[no-untyped-def]
        live_server, admin, admin_http, database, tmp_path: Path):
    door_id, device_id, _card = setup_reader(live_server, admin, admin_http, database,
                                             tmp_path)
    agent, _controller = start_agent(tmp_path, door_id, FakeClock())
    try:
        agent.watcher.sync()
        v1_file = (tmp_path / CONFIG_FILE).read_bytes()
        v1 = json.loads(v1_file)
        assert admin_http.patch(f"/admin/doors/{door_id}",
                                json={"unlock_seconds": 20}).status_code == 200
        agent.watcher.sync()
        assert agent.config.version == 2 and agent.taps.config.unlock_seconds == 20

        # A genuinely signed, older bundle replayed on the wire: refused as a rollback.
        agent.client.set_transport(Rewrite(lambda _doc: v1))
        agent.watcher.sync()
        assert agent.config.version == 2 and agent.taps.config.unlock_seconds == 20
        [alarm] = config_alarms(agent)
        assert alarm["offered_version"] == 1 and alarm["kept_version"] == 2
        assert "rollback refused" in alarm["detail"]
        first_run = len(config_alarms(agent))
    finally:
        agent.close()

    # The old file put back on disk while the agent is stopped: the mark kept apart from it
    # (config-state.json) still says 2. The restarted agent raises the alarm, and the
    # replayed v1 stays refused even though the file in force is v1.
    (tmp_path / CONFIG_FILE).write_bytes(v1_file)
    agent, _controller = start_agent(tmp_path, door_id, FakeClock())
    try:
        assert agent.config.rolled_back and agent.config.mark.version == 2
        assert agent.config.offer(v1) is None
        details = [a["detail"] for a in config_alarms(agent)[first_run:]]
        assert details[0] == "installed bundle older than one accepted"
        assert "rollback refused" in details[1]
        agent.client.set_transport(None)
        agent.watcher.sync()  # the service signs above what the device runs: v2's content
        assert agent.config.version == 2 and agent.taps.config.unlock_seconds == 20
    finally:
        agent.close()

    # Installing the old bundle by hand (`mynagate config install`) is refused by the mark too.
    old = tmp_path / "old.bundle.json"
    old.write_bytes(v1_file)
    r = CliRunner().invoke(cli_app, ["config", "install", str(old), "--data-dir", str(tmp_path)])
    assert r.exit_code == 1 and "rollback refused" in r.output, r.output
    assert json.loads((tmp_path / CONFIG_FILE).read_bytes())["payload"]["config_version"] == 2


def test_service_refuses_a_config_that_would_not_render(  # type: ignore[no-untyped-def]
        live_server, admin, admin_http, database, tmp_path: Path, caplog):
    town = seed_town(database)
    identity = enroll_confirmed(admin, tmp_path, live_server.url, [town.door_id])
    url = f"/admin/devices/{identity.device_id}/config"
    agent, _controller = start_agent(tmp_path, town.door_id, FakeClock())
    try:
        # No settings: a site that renders offline. Nothing to fetch, nothing refused.
        assert admin_http.get(url).status_code == 404
        assert agent.client.config() is None
        agent.watcher.sync()
        assert agent.config.version is None

        base = {"driver": "sim:cfg", "service_url": live_server.url}
        resp = admin_http.put(url, json={**base, "doors": [{"door_id": town.clock_door_id}]})
        assert resp.status_code == 400 and resp.json()["field"] == "doors.0.door_id"
        resp = admin_http.put(url, json={**base, "door_io": "gpio"})
        assert resp.status_code == 400 and "relay_pin" in resp.json()["detail"]
        resp = admin_http.put(url, json={**base, "driver": "usb:whatever"})
        assert resp.status_code == 400 and "unknown card driver" in resp.json()["detail"]
        assert admin_http.get(url).status_code == 404  # nothing stored

        assert admin_http.put(url, json=base).status_code == 200
        agent.watcher.sync()
        assert agent.config.version == 1
        first = agent.client.config()
        assert agent.client.config(have=1) is None  # 204: nothing newer
        assert agent.client.config() == first  # the same signed document, not re-signed

        # The card driver is opened at start: installed and reported, in force at restart.
        with caplog.at_level("WARNING", logger="reader_agent.agent"):
            assert admin_http.put(url, json={**base, "driver": "sim:other"}).status_code == 200
            agent.watcher.sync()
        assert agent.config.version == 2
        assert "restart_needed changed=driver" in caplog.text

        # A later door change that this reader cannot serve (card+PIN, and it has no
        # keypad): the service cannot render, the reader keeps its last good bundle.
        assert admin_http.patch(f"/admin/doors/{town.door_id}",
                                json={"assurance": "card+pin"}).status_code == 200
        assert agent.config.poll() is None
        assert agent.config.version == 2 and config_alarms(agent) == []
        with pytest.raises(ServiceRejected) as info:
            agent.client.config(have=2)
        assert info.value.status == 409 and "keypad" in str(info.value)
    finally:
        agent.close()
