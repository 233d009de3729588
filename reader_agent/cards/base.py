"""Command parsing shared by the virtual cards."""

from __future__ import annotations

from dataclasses import dataclass


def sw(value: int) -> bytes:
    return value.to_bytes(2, "big")


SW_OK = sw(0x9000)
SW_WRONG_LENGTH = sw(0x6700)
SW_NOT_SELECTED = sw(0x6985)
SW_NO_CURRENT_EF = sw(0x6986)
SW_NOT_FOUND = sw(0x6A82)
SW_WRONG_P1P2 = sw(0x6A86)
SW_OFFSET = sw(0x6B00)
SW_INS = sw(0x6D00)
SW_CLA = sw(0x6E00)
SW_EOF = sw(0x6282)


@dataclass(frozen=True)
class Command:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None  # None = no Le; 256 for Le byte 00


def parse_command(apdu: bytes) -> Command | None:
    """Parse a short command APDU (ISO 7816-3 cases 1–4); None if the lengths do not add up."""
    if len(apdu) < 4:
        return None
    cla, ins, p1, p2 = apdu[:4]
    body = apdu[4:]
    if not body:
        return Command(cla, ins, p1, p2, b"", None)
    if len(body) == 1:
        return Command(cla, ins, p1, p2, b"", body[0] or 256)
    lc = body[0]
    if lc == 0:
        return None  # extended length: not supported by these cards
    if len(body) == 1 + lc:
        return Command(cla, ins, p1, p2, body[1:], None)
    if len(body) == 2 + lc:
        return Command(cla, ins, p1, p2, body[1 : 1 + lc], body[-1] or 256)
    return None


class VirtualCard:
    """Base of the virtual cards: ``process`` one command APDU, return data ‖ SW1 SW2."""

    kind = "virtual"

    def process(self, apdu: bytes) -> bytes | None:
        raise NotImplementedError

    def reset(self) -> None:
        """Power cycle: forget the selected application and file."""


class SilentCard(VirtualCard):
    """A card that answers its first ``answers`` commands, then goes mute mid-exchange.

    It wraps any virtual card (the ATR comes from the transport, the SELECT from ``card``), so
    a reader sees a normal card until the exchange is under way, then nothing at all: what a
    card leaving the field's sweet spot, or a broken one, looks like. Used to check that a
    mute card never leaks a PC/SC handle.
    """

    kind = "silent"

    def __init__(self, card: VirtualCard, answers: int = 1) -> None:
        self.card = card
        self.answers = answers
        self.seen = 0

    def reset(self) -> None:
        self.card.reset()

    def process(self, apdu: bytes) -> bytes | None:
        self.seen += 1
        return self.card.process(apdu) if self.seen <= self.answers else None
