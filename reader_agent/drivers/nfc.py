"""``nfc:<nfcpy path>``: ISO 14443 Type 4B (ISO-DEP) cards through nfcpy.

``nfc:usb`` (or ``nfc:usb:054c:06c3``) opens a USB reader nfcpy drives — for the My Number
Card that means a Sony RC-S380 (rcs380 driver); the RC-S300 is not supported by nfcpy, use
``pcsc:`` for it. ``nfc:udp:<host>:<port>`` is nfcpy's UDP driver, where a virtual card
process (:mod:`reader_agent.cards.nfc_target`) answers.

A presentation is a Type B activation (SENSB_REQ → ATTRIB). While that card keeps answering
the ISO-DEP presence check (R(NAK)), it is not returned again; once it stops, polling resumes.
nfcpy's exceptions are translated here into :mod:`reader_agent.drivers.base` errors.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from .base import (
    CardMute,
    CardRemoved,
    MalformedResponse,
    ReaderUnavailable,
    TransportError,
    guard,
)

__all__ = ["NfcChannel", "NfcReader"]

log = logging.getLogger(__name__)

PRESENCE_TIMEOUT_S = 0.25  # a present card answers R(NAK) at once


def _translate(err: BaseException, what: str) -> Exception:
    import nfc.clf
    import nfc.tag
    from nfc.tag.tt4 import Type4TagCommandError

    if isinstance(err, Type4TagCommandError):
        code = err.errno
        if code == nfc.tag.TIMEOUT_ERROR:
            return CardMute(f"{what}: no answer within the frame waiting time "
                            "(card removed or mute)")
        if code == nfc.tag.PROTOCOL_ERROR:
            return MalformedResponse(f"{what}: ISO-DEP protocol error")
        return TransportError(f"{what}: {err}")
    if isinstance(err, nfc.clf.BrokenLinkError):
        return CardRemoved(f"{what}: link broken ({err})")
    if isinstance(err, nfc.clf.TimeoutError):
        return CardMute(f"{what}: no answer (card removed or mute)")
    if isinstance(err, nfc.clf.CommunicationError):
        return TransportError(f"{what}: {type(err).__name__} {err}")
    if isinstance(err, ConnectionRefusedError):
        return CardRemoved(f"{what}: the card is gone")
    if isinstance(err, OSError):
        return ReaderUnavailable(f"{what}: {err}")
    return TransportError(f"{what}: {type(err).__name__}")


class NfcChannel:
    """The ISO-DEP link to one activated Type 4B card."""

    def __init__(self, reader: NfcReader, tag: Any) -> None:
        self._reader = reader
        self.tag = tag
        self.closed = False

    def transmit(self, apdu: bytes) -> bytes:
        data = guard(apdu)
        if self.closed:
            raise CardRemoved("the presentation is over (channel closed)")
        with self._reader._lock:
            try:
                response = self.tag.transceive(bytearray(data))
            except Exception as err:
                raise _translate(err, "ISO-DEP exchange") from err
        if response is None:
            raise CardRemoved("the link broke during the exchange")
        out = bytes(response)
        if len(out) < 2 or len(out) > 258:
            raise MalformedResponse(f"response of {len(out)} bytes")
        return out

    def is_present(self) -> bool:
        """A quick ISO-DEP presence check (R(NAK)); False once the card left."""
        if self.closed:
            return False
        with self._reader._lock:
            try:
                pni = self.tag._dep.pni  # nfcpy keeps the block number on its IsoDepInitiator
                answer = self.tag.clf.exchange(bytearray([0xB2 | pni]), PRESENCE_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - any failure means "not there"
                return False
        return bool(answer) and answer[0] & 0xF6 in (0xA2, 0x02)

    def close(self) -> None:
        self.closed = True


class NfcReader:
    """An nfcpy ContactlessFrontend polling for Type B cards."""

    def __init__(self, path: str) -> None:
        import nfc

        self.path = path
        self.name = f"nfc:{path}"
        self._lock = threading.RLock()
        try:
            self._clf = nfc.ContactlessFrontend(path)
        except (OSError, ValueError) as err:
            raise ReaderUnavailable(f"nfcpy could not open {path!r}: {err}") from err
        self._channel: NfcChannel | None = None

    def wait_for_card(self, timeout: float) -> NfcChannel | None:
        import nfc.clf
        import nfc.tag

        deadline = time.monotonic() + timeout
        # The last card is not a new presentation while it still answers.
        if self._channel is not None:
            while self._channel.is_present():
                if time.monotonic() >= deadline:
                    return None
                time.sleep(0.05)
            self._channel.close()
            self._channel = None
        while True:
            with self._lock:
                try:
                    target = self._clf.sense(nfc.clf.RemoteTarget("106B"), iterations=1)
                except ConnectionRefusedError:
                    target = None  # udp: nobody listens on the card port (no card)
                except OSError as err:
                    raise ReaderUnavailable(f"{self.name}: {err}") from err
                except nfc.clf.CommunicationError:
                    target = None
                tag = None
                if target is not None:
                    try:
                        tag = nfc.tag.activate(self._clf, target)
                    except (OSError, nfc.clf.CommunicationError) as err:
                        log.debug("nfc.activate.failed error=%s", type(err).__name__)
            if tag is not None and getattr(tag, "TYPE", "") == "Type4Tag":
                self._channel = NfcChannel(self, tag)
                return self._channel
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        with self._lock:
            try:
                self._clf.close()
            except Exception as err:  # noqa: BLE001
                log.debug("nfc.close.failed error=%s", type(err).__name__)
