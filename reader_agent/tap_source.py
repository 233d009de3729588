"""From a card reader to the tap path: wait for a card, then run the right card sequence.

A door with assurance ``card`` runs the staff card AP v1 challenge–response; a ``card+pin``
door runs JPKI card+PIN with the reader's keypad. The card exchange itself runs later, inside
the tap path's worker thread under its timeout (``TapProcessor.tap``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from cryptography import x509

from gate.card.staff_ap import DEFAULT_AID
from gate.policy import Reason

from .agent import Authenticator, AuthResult, TapContext, TapSource
from .card_auth import KIND_JPKI, CardAuthResult, authenticate_jpki, authenticate_staff_ap
from .drivers import CardChannel, CardReader, open_reader
from .keypad import Keypad, SimKeypad

log = logging.getLogger(__name__)


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
    """The card sequence for one presented card, chosen by the door's assurance level.

    A card+PIN door takes the PIN from ``keypad``: a secure one (the reader's own PIN pad)
    verifies it on the reader, a host keypad hands the digits to the VERIFY.
    """
    def authenticate(ctx: TapContext) -> AuthResult:
        if ctx.door is not None and ctx.door.info.assurance.needs_pin:
            if keypad is None:  # refused before any card exchange or PIN prompt
                return CardAuthResult(False, KIND_JPKI, None, Reason.KEYPAD_ERROR,
                                      "this reader has no keypad (--keypad / keypad = {uri})")
            keypad.discard_input()  # keys pressed before this card are not its PIN
            secure = getattr(keypad, "verify_on_reader", None) if keypad.secure else None
            return authenticate_jpki(
                channel, lookup_public_key=ctx.lookup_public_key,
                lookup_not_after=ctx.lookup_not_after,
                read_pin=None if secure else (lambda: keypad.read_pin(pin_timeout)),
                secure_verify=(lambda template: secure(template, pin_timeout)) if secure
                else None,
                show=show or (lambda _t: None),
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


__all__ = ["Keypad", "ReaderTapSource", "SimKeypad", "TapSource",
           "channel_authenticator", "open_tap_source"]
