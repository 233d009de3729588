"""Device protocol versions: what an agent speaks and what a service accepts.

An agent sends ``X-Mynagate-Protocol: <major>.<minor>`` on every device request; the service
answers every one with ``X-Mynagate-Protocol-Supported``, the versions it accepts. A minor
version only adds (fields, endpoints), so a service accepts its own major with any minor from
one behind its own upward; a newer minor agent is served the older subset. An agent that sends
no header predates negotiation and speaks 1.0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "PROTOCOL",
    "PROTOCOL_HEADER",
    "SUPPORTED_HEADER",
    "UNVERSIONED",
    "ProtocolStanding",
    "ProtocolVersion",
    "accepts",
    "standing",
    "supported_versions",
]

PROTOCOL_HEADER = "X-Mynagate-Protocol"
SUPPORTED_HEADER = "X-Mynagate-Protocol-Supported"
_VERSION = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})")


@dataclass(frozen=True, order=True)
class ProtocolVersion:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> ProtocolVersion:
        """``"1.2"`` → ``ProtocolVersion(1, 2)``; ValueError for anything else."""
        match = _VERSION.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"not a protocol version (major.minor): {text[:20]!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


PROTOCOL = ProtocolVersion(1, 1)  # 1.1: negotiation itself
UNVERSIONED = ProtocolVersion(1, 0)  # agents from before negotiation


def accepts(service: ProtocolVersion, agent: ProtocolVersion) -> bool:
    """Whether a service at ``service`` serves an agent at ``agent``."""
    return agent.major == service.major and agent.minor >= service.minor - 1


def supported_versions(service: ProtocolVersion) -> tuple[ProtocolVersion, ...]:
    """The versions up to its own that a service accepts, oldest first."""
    return tuple(ProtocolVersion(service.major, m)
                 for m in range(max(service.minor - 1, 0), service.minor + 1))


class ProtocolStanding(StrEnum):
    """Where an agent's version stands with a service (what the console tells the admin)."""

    CURRENT = "current"  # the service's own minor or newer: served
    DEPRECATED = "deprecated"  # one minor behind: served, refused after the next minor
    TOO_OLD = "too_old"  # refused (426): upgrade the agent
    TOO_NEW = "too_new"  # a newer major: refused; upgrade the service first


def standing(service: ProtocolVersion, agent: ProtocolVersion) -> ProtocolStanding:
    if accepts(service, agent):  # same major from here on
        return ProtocolStanding.DEPRECATED if agent.minor < service.minor \
            else ProtocolStanding.CURRENT
    return ProtocolStanding.TOO_NEW if agent.major > service.major else ProtocolStanding.TOO_OLD
