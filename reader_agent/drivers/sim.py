"""``sim:<name>``: an in-process reader for virtual cards — a real driver, not a mock.

Readers live in a named registry, so ``open_reader("sim:shoko")`` anywhere in the process
returns the reader the demo (or a test) inserts cards into::

    reader = get_sim_reader("shoko")
    reader.insert(VirtualStaffCard.generate("372153"))
    channel = open_reader("sim:shoko").wait_for_card(1.0)
    ...
    reader.remove()

A card is anything with ``process(apdu: bytes) -> bytes | None`` (see
:class:`reader_agent.cards.VirtualCard`); ``None`` means the card stays mute. Several cards
inserted at once are "two cards in the field": every exchange raises MultipleCards.
"""

from __future__ import annotations

import threading
from typing import Protocol

from gate.card.apdu import redact

from .base import CardMute, CardRemoved, MalformedResponse, MultipleCards, guard

__all__ = ["SimCard", "SimChannel", "SimReader", "forget_sim_readers", "get_sim_reader"]


class SimCard(Protocol):
    def process(self, apdu: bytes) -> bytes | None: ...


class SimReader:
    """An in-process reader. Thread-safe: the agent waits in one thread, a demo inserts in
    another."""

    def __init__(self, name: str) -> None:
        self.name = f"sim:{name}"
        self._cond = threading.Condition()
        self._present: list[tuple[int, SimCard]] = []  # (presentation token, card)
        self._next_token = 0
        self._handed_out: set[int] = set()
        self.sent: list[bytes] = []  # every APDU transmitted, VERIFY data redacted

    # --- the test/demo side -------------------------------------------------------------------
    def insert(self, card: SimCard) -> None:
        """Put ``card`` in the field (a second insert makes two cards in the field)."""
        with self._cond:
            self._next_token += 1
            self._present.append((self._next_token, card))
            self._cond.notify_all()

    def remove(self, card: SimCard | None = None) -> None:
        """Take ``card`` (default: every card) out of the field."""
        with self._cond:
            self._present = [(t, c) for t, c in self._present
                             if card is not None and c is not card]
            self._cond.notify_all()

    @property
    def cards(self) -> list[SimCard]:
        with self._cond:
            return [c for _, c in self._present]

    def wait_for_removal(self, timeout: float) -> bool:
        """Wait until the field is empty; True if it is."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._present, timeout)

    # --- the CardReader side -------------------------------------------------------------------
    def wait_for_card(self, timeout: float) -> SimChannel | None:
        def fresh() -> int | None:
            for token, _ in self._present:
                if token not in self._handed_out:
                    return token
            return None

        with self._cond:
            if not self._cond.wait_for(lambda: fresh() is not None, timeout):
                return None
            token = fresh()
            assert token is not None
            self._handed_out.add(token)
            return SimChannel(self, token)

    def close(self) -> None:
        """Nothing to release; the reader stays in the registry for the rest of the process."""

    # --- used by SimChannel ---------------------------------------------------------------------
    def _card(self, token: int) -> SimCard:
        with self._cond:
            present = dict(self._present)
        if token not in present:
            raise CardRemoved("the card was removed")
        if len(present) > 1:
            raise MultipleCards(f"{len(present)} cards in the field")
        return present[token]

    def _exchange(self, token: int, apdu: bytes) -> bytes:
        card = self._card(token)
        self.sent.append(redact(apdu))
        response = card.process(apdu)
        self._card(token)  # removed (or joined by another card) while it was answering?
        if response is None:
            raise CardMute("the card did not answer")
        response = bytes(response)
        if len(response) < 2:
            raise MalformedResponse(f"response of {len(response)} bytes has no status word")
        if len(response) > 258:
            raise MalformedResponse(f"response of {len(response)} bytes is too long")
        return response


class SimChannel:
    """A channel to the card of one presentation in a :class:`SimReader`."""

    def __init__(self, reader: SimReader, token: int) -> None:
        self._reader = reader
        self._token = token

    def transmit(self, apdu: bytes) -> bytes:
        return self._reader._exchange(self._token, guard(apdu))


_registry: dict[str, SimReader] = {}
_registry_lock = threading.Lock()


def get_sim_reader(name: str) -> SimReader:
    """The process-wide reader called ``name`` (created on first use)."""
    with _registry_lock:
        reader = _registry.get(name)
        if reader is None:
            reader = _registry[name] = SimReader(name)
        return reader


def forget_sim_readers() -> None:
    """Drop every registered sim reader (tests)."""
    with _registry_lock:
        _registry.clear()
