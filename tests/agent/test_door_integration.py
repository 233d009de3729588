"""The agent driving a door: a grant releases the strike (after the event is durable), and
door states and alarms from gate.door become events."""

from __future__ import annotations

from pathlib import Path

from gate.door import DoorTiming
from reader_agent.agent import AgentConfig, DoorEvents, ReaderAgent, enroll_agent
from reader_agent.door_io import DoorController, SimDoorIO

from .fake_service import FakeService
from .helpers import cred, fake_card

REF = "aa" * 16


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_grant_opens_and_alarms_are_recorded(tmp_path: Path):
    svc = FakeService()
    svc.set_credential(cred(REF))
    enroll_agent(tmp_path, "http://svc", svc.new_token(), transport=svc.transport())
    clock = FakeClock()
    io = SimDoorIO([1])
    events = DoorEvents()
    controller = DoorController(io, {1: DoorTiming(5.0, 30.0)}, clock=clock,
                                on_notice=events.notice)
    agent = ReaderAgent(tmp_path, AgentConfig("sim:door", 1), transport=svc.transport(),
                        door_io=controller)
    events.attach(agent, controller)
    try:
        agent.watcher.sync()
        assert agent.tap(fake_card(REF)).granted
        assert io.relay(1)  # released
        io.open_door(1)
        clock.t += 31  # held open past 30 s
        controller.tick()
        io.close_door(1)
        controller.tick()
        assert not io.relay(1)  # relocked once the door closed
        assert agent.tap(fake_card("cc" * 16)).reason.value == "unknown_credential"
        clock.t += 60
        controller.tick()
        assert not io.relay(1)
        io.open_door(1)  # nobody was granted: forced open
        controller.tick()
        kinds = [(e["kind"], e["data"].get("state") or e["data"].get("alarm"),
                  e["data"].get("active")) for e in agent.outbox.all_events()]
    finally:
        agent.close()
        controller.close()
    assert kinds[0] == ("tap", None, None)
    assert ("door_state", "open", None) in kinds
    assert ("alarm", "held_open", True) in kinds
    assert ("door_state", "closed", None) in kinds
    assert ("alarm", "held_open", False) in kinds
    assert ("alarm", "forced_open", True) in kinds
    # LED/buzzer followed the outcomes.
    leds = [r.value.color for r in io.log if r.what == "led"]
    assert "green" in leds and "red" in leds
