"""Protocol version negotiation rules (gate.protocol)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gate.protocol import (
    PROTOCOL,
    UNVERSIONED,
    ProtocolStanding,
    ProtocolVersion,
    accepts,
    standing,
    supported_versions,
)

versions = st.builds(ProtocolVersion, st.integers(0, 999), st.integers(0, 999))


@given(versions)
def test_parse_round_trips(v: ProtocolVersion) -> None:
    assert ProtocolVersion.parse(str(v)) == v


@pytest.mark.parametrize("text", ["", "1", "1.", "v1.1", "1.1.1", "1.-1", "1234.1", "１.１"])
def test_parse_refuses_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        ProtocolVersion.parse(text)


@given(versions, versions)
def test_accepts_same_major_from_one_minor_behind(service: ProtocolVersion,
                                                  agent: ProtocolVersion) -> None:
    expected = agent.major == service.major and agent.minor >= service.minor - 1
    assert accepts(service, agent) is expected
    # Whatever the service lists as supported, it accepts.
    assert all(accepts(service, v) for v in supported_versions(service))


def test_today_one_behind_and_two_behind() -> None:
    assert accepts(PROTOCOL, PROTOCOL)
    assert accepts(PROTOCOL, ProtocolVersion(PROTOCOL.major, PROTOCOL.minor - 1))
    assert accepts(PROTOCOL, UNVERSIONED)  # agents from before negotiation keep working
    assert not accepts(ProtocolVersion(1, 3), ProtocolVersion(1, 1))
    assert not accepts(PROTOCOL, ProtocolVersion(PROTOCOL.major - 1, 9))
    assert [str(v) for v in supported_versions(ProtocolVersion(1, 3))] == ["1.2", "1.3"]


@given(versions, versions)
def test_standing_is_refused_exactly_when_not_accepted(service: ProtocolVersion,
                                                       agent: ProtocolVersion) -> None:
    got = standing(service, agent)
    refused = {ProtocolStanding.TOO_OLD, ProtocolStanding.TOO_NEW}
    assert (got in refused) is not accepts(service, agent)
    assert (got is ProtocolStanding.TOO_OLD) is (not accepts(service, agent) and agent < service)
    assert (got is ProtocolStanding.DEPRECATED) is (accepts(service, agent) and agent < service)


def test_standing_of_todays_agents() -> None:
    assert standing(PROTOCOL, PROTOCOL) is ProtocolStanding.CURRENT
    assert standing(PROTOCOL, UNVERSIONED) is ProtocolStanding.DEPRECATED
    assert standing(ProtocolVersion(1, 3), ProtocolVersion(1, 1)) is ProtocolStanding.TOO_OLD
    assert standing(ProtocolVersion(1, 1), ProtocolVersion(1, 5)) is ProtocolStanding.CURRENT
    assert standing(ProtocolVersion(1, 1), ProtocolVersion(2, 0)) is ProtocolStanding.TOO_NEW
