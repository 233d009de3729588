"""Card-reader drivers, chosen by URI (see :mod:`reader_agent.drivers.base`)."""

from __future__ import annotations

from .base import (
    CardChannel,
    CardError,
    CardMute,
    CardReader,
    CardRemoved,
    MalformedResponse,
    MultipleCards,
    ReaderUnavailable,
    TransportError,
)

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
    "open_reader",
]

SCHEMES = ("sim", "pcsc", "nfc")


def open_reader(uri: str) -> CardReader:
    """Open the reader named by ``uri``: ``sim:<name>``, ``pcsc:[substring]``, ``nfc:usb[:…]``,
    ``nfc:udp:<host>:<port>``.

    The pcsc and nfc drivers import their library (pyscard, nfcpy) only when used.

    :raises ValueError: an unknown scheme or a malformed URI.
    :raises ReaderUnavailable: the reader cannot be opened.
    """
    scheme, sep, rest = uri.partition(":")
    if not sep:
        raise ValueError(f"reader URI {uri!r} has no scheme (one of {', '.join(SCHEMES)})")
    if scheme == "sim":
        from .sim import get_sim_reader

        if not rest:
            raise ValueError("sim: needs a name, e.g. sim:shoko")
        return get_sim_reader(rest)
    if scheme == "pcsc":
        from .pcsc import PcscReader

        return PcscReader(rest)
    if scheme == "nfc":
        from .nfc import NfcReader

        if not rest:
            raise ValueError("nfc: needs a path, e.g. nfc:usb or nfc:udp:localhost:54321")
        return NfcReader(rest)
    raise ValueError(f"unknown reader scheme {scheme!r} (one of {', '.join(SCHEMES)})")
