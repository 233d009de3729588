"""The card-reader seam: a reader yields card channels, a channel exchanges APDUs.

Drivers are chosen by URI (:func:`reader_agent.drivers.open_reader`), like nfcpy's connect
paths::

    sim:<name>                  in-process virtual cards (demo, fast tests) — a real driver
    pcsc:<reader substring>     PC/SC through pcscd (pyscard); "pcsc:" takes the first reader
    nfc:usb[:vid:pid]           nfcpy on a USB reader (Sony RC-S380 …), ISO 14443 Type 4B
    nfc:udp:<host>:<port>       nfcpy's udp driver (tests; a virtual card process answers)

Errors::

    CardError                   anything that went wrong between the reader and the card
     ├── ReaderUnavailable      no such reader, the reader is unplugged, pcscd/USB is down
     ├── CardRemoved            the card left the field before the exchange finished
     ├── CardMute               the card did not answer in time
     ├── MultipleCards          more than one card in the field
     ├── MalformedResponse      a response too short or too long to be an APDU response
     └── TransportError         any other communication failure reported by the stack

Drivers translate their library's exceptions at the boundary
(``raise CardRemoved(...) from err``); nothing else leaves ``transmit``. Every command is
checked by :func:`gate.card.apdu.check_command` before it is sent, so a SELECT of the
applications that hold the individual number never reaches a card whatever the caller sends
(that raises :class:`gate.card.apdu.ForbiddenApplication`, a programming error, not a
CardError).

Nothing in a driver decides anything: :mod:`reader_agent.card_auth` runs the card sequences
and turns every CardError into a failed result.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from gate.card.apdu import check_command

__all__ = [
    "CardChannel",
    "CardError",
    "CardMute",
    "CardReader",
    "CardRemoved",
    "MalformedResponse",
    "MultipleCards",
    "ReaderUnavailable",
    "TransportError",
    "guard",
]


class CardError(Exception):
    """Something went wrong between the reader and the card."""

    #: A short machine name, used in events (``card_error`` detail) and logs.
    code = "card_error"


class ReaderUnavailable(CardError):
    """The reader does not exist, was unplugged, or its stack (pcscd, USB) is down."""

    code = "reader_unavailable"


class CardRemoved(CardError):
    """The card left the field before the exchange finished."""

    code = "removed"


class CardMute(CardError):
    """The card did not answer within the frame waiting time / timeout."""

    code = "mute"


class MultipleCards(CardError):
    """More than one card is in the field; nothing is exchanged with either."""

    code = "multiple_cards"


class MalformedResponse(CardError):
    """The response is not an APDU response (shorter than SW1 SW2, or too long)."""

    code = "malformed"


class TransportError(CardError):
    """Any other communication failure reported by the reader stack."""

    code = "transport"


@runtime_checkable
class CardChannel(Protocol):
    """A connection to one card in one reader, for the duration of one presentation."""

    def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU and return the response: data ‖ SW1 SW2.

        :param apdu: a short command APDU (Lc ≤ 255, Le ≤ 256).
        :returns: the response bytes, at least two (SW1 SW2). ``61 xx`` (GET RESPONSE) is
            handled by the driver when the stack does not.
        :raises CardError: a subclass for every failure (see the module docstring).
        :raises gate.card.apdu.ForbiddenApplication: the command would SELECT an application
            on the never-select list; nothing was sent.
        """
        ...


@runtime_checkable
class CardReader(Protocol):
    """One physical (or virtual) reader."""

    #: The URI it was opened with, e.g. ``"pcsc:Sony"``.
    name: str

    def wait_for_card(self, timeout: float) -> CardChannel | None:
        """Wait up to ``timeout`` seconds for a card and return a channel to it.

        A card is returned once per presentation: a card left on the reader is not returned
        again until it has been removed and presented anew. Returns ``None`` on timeout.

        :raises ReaderUnavailable: the reader is gone (the agent retries later).
        """
        ...

    def close(self) -> None:
        """Release the reader (idempotent)."""
        ...


def guard(apdu: bytes) -> bytes:
    """Check ``apdu`` against the never-select list and return it as ``bytes``."""
    data = bytes(apdu)
    check_command(data)
    return data
