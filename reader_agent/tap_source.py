"""From a card reader to the tap path: wait for a card, then run the right card sequence.

A door with assurance ``card`` runs the staff card AP v1 challenge–response; a ``card+pin``
door runs JPKI card+PIN with the reader's keypad. The card exchange itself runs later, inside
the tap path's worker thread under its timeout (``TapProcessor.tap``).
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from cryptography import x509

from gate.card.staff_ap import DEFAULT_AID

from .agent import Authenticator, AuthResult, TapContext, TapSource
from .card_auth import authenticate_jpki, authenticate_staff_ap
from .drivers import CardChannel, CardReader, open_reader

log = logging.getLogger(__name__)


class Keypad(Protocol):
    """The reader's PIN keypad.

    ``read_pin`` blocks until the person confirms or ``timeout`` seconds pass, and returns the
    digits typed. It raises ``TimeoutError`` (or any exception) when nothing was entered; the
    PIN is never logged or kept.
    """

    def read_pin(self, timeout: float) -> str: ...


class SimKeypad:
    """A keypad fed by a test or the demo: ``type_pin("1234")`` before or during the tap."""

    def __init__(self) -> None:
        self._q: queue.Queue[str] = queue.Queue()

    def type_pin(self, pin: str) -> None:
        self._q.put(pin)

    def read_pin(self, timeout: float) -> str:
        try:
            return self._q.get(timeout=timeout)
        except queue.Empty as err:
            raise TimeoutError("no PIN entered") from err


class NoKeypad:
    """A reader without a keypad: card+pin doors are refused with pin_required."""

    def read_pin(self, timeout: float) -> str:
        raise TimeoutError("this reader has no keypad")


def channel_authenticator(
    channel: CardChannel,
    *,
    aid: bytes = DEFAULT_AID,
    keypad: Keypad | None = None,
    jpki_cas: Sequence[x509.Certificate] = (),
    show: Callable[[str], None] | None = None,
    pin_timeout: float = 20.0,
    lang: str = "ja",
) -> Authenticator:
    """The card sequence for one presented card, chosen by the door's assurance level."""
    pad = keypad or NoKeypad()

    def authenticate(ctx: TapContext) -> AuthResult:
        if ctx.door is not None and ctx.door.info.assurance == "card+pin":
            return authenticate_jpki(
                channel, lookup_public_key=ctx.lookup_public_key,
                read_pin=lambda: pad.read_pin(pin_timeout), show=show or (lambda _t: None),
                ca_certs=list(jpki_cas), reader_id=ctx.reader_id, now=ctx.now, lang=lang)
        return authenticate_staff_ap(channel, lookup_public_key=ctx.lookup_public_key,
                                     reader_id=ctx.reader_id, now=ctx.now, aid=aid)

    return authenticate


class ReaderTapSource:
    """A :data:`TapSource` over a :class:`CardReader`."""

    def __init__(self, reader: CardReader, **auth_options: Any) -> None:
        self.reader = reader
        self._options = auth_options

    def __call__(self, timeout: float) -> Authenticator | None:
        channel = self.reader.wait_for_card(timeout)
        if channel is None:
            return None
        return channel_authenticator(channel, **self._options)

    def close(self) -> None:
        self.reader.close()


def open_tap_source(uri: str, **auth_options: Any) -> ReaderTapSource:
    """Open the reader named by ``uri`` (``sim:NAME``, ``pcsc:…``, ``nfc:…``)."""
    return ReaderTapSource(open_reader(uri), **auth_options)


__all__ = ["Keypad", "NoKeypad", "ReaderTapSource", "SimKeypad", "TapSource",
           "channel_authenticator", "open_tap_source"]
