"""Device protocol negotiation: today's agent on the new service, the new agent on today's
service, one minor behind keeps working, too old is told so (problem details + agent log)."""

from __future__ import annotations

import logging

import pytest

from gate.protocol import PROTOCOL, SUPPORTED_HEADER, ProtocolVersion
from reader_agent.client import ProtocolTooOld, ServiceClient

from .signer import enroll

SUPPORTED = f"{PROTOCOL.major}.{PROTOCOL.minor - 1}, {PROTOCOL}"


def test_an_agent_from_before_negotiation_keeps_working(admin) -> None:  # type: ignore[no-untyped-def]
    device, _ = enroll(admin)  # sends no protocol header, like today's agents
    resp = device.heartbeat()
    assert resp.status_code == 200, resp.text
    assert resp.headers[SUPPORTED_HEADER] == SUPPORTED
    assert device.request("GET", "/snapshot").status_code == 200


@pytest.mark.parametrize("agent", [PROTOCOL, ProtocolVersion(PROTOCOL.major, PROTOCOL.minor - 1)])
def test_current_and_one_minor_behind_are_served(admin, live_server, agent) -> None:  # type: ignore[no-untyped-def]
    device, _ = enroll(admin)
    client = ServiceClient(live_server.url, device.device_id, device.key, protocol=agent)
    try:
        client.heartbeat()
        assert client.snapshot()["payload"]["version"] >= 0
        assert client.service_protocols == SUPPORTED
    finally:
        client.close()


def test_the_new_agent_on_todays_service(admin, app, live_server) -> None:  # type: ignore[no-untyped-def]
    device, _ = enroll(admin)
    app.state.device_protocol = ProtocolVersion(PROTOCOL.major, PROTOCOL.minor - 1)
    client = ServiceClient(live_server.url, device.device_id, device.key)
    try:
        client.heartbeat()  # a newer minor is served the older subset
        assert client.service_protocols == f"{PROTOCOL.major}.{PROTOCOL.minor - 1}"
    finally:
        client.close()


@pytest.mark.parametrize("service, agent", [
    (PROTOCOL, ProtocolVersion(PROTOCOL.major - 1, 9)),
    (ProtocolVersion(PROTOCOL.major, PROTOCOL.minor + 2), PROTOCOL),
])
def test_a_too_old_agent_gets_a_problem_and_logs_it(admin, app, live_server, caplog,  # type: ignore[no-untyped-def]
                                                     service, agent) -> None:
    device, _ = enroll(admin)
    app.state.device_protocol = service
    client = ServiceClient(live_server.url, device.device_id, device.key, protocol=agent)
    try:
        with caplog.at_level(logging.ERROR, logger="reader_agent.client"), \
                pytest.raises(ProtocolTooOld) as info:
            client.heartbeat()
    finally:
        client.close()
    assert info.value.status == 426
    problem = info.value.problem
    assert problem["agent_protocol"] == str(agent)
    assert problem["supported"] == [f"{service.major}.{service.minor - 1}", str(service)]
    assert "upgrade the agent" in problem["detail"]
    assert any("agent.protocol.too_old" in r.getMessage() and str(agent) in r.getMessage()
               for r in caplog.records)


@pytest.mark.parametrize("header", ["one", "1", "1.1.1", "x" * 300])
def test_a_malformed_version_is_a_400_naming_the_header(admin, header) -> None:  # type: ignore[no-untyped-def]
    device, _ = enroll(admin)
    headers = device.sign("GET", "/device/v1/snapshot", b"")
    resp = admin.get("/device/v1/snapshot", headers={**headers, "X-Mynagate-Protocol": header})
    assert resp.status_code == 400
    assert resp.json()["field"] == "x-mynagate-protocol"
