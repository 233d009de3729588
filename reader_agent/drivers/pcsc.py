"""``pcsc:<reader name substring>``: PC/SC readers through pcscd, with pyscard.

Works with any CCID reader pcscd drives (Sony RC-S300/S and /P, ACS ACR1252U …) and, for tests
and rehearsals, with vsmartcard's vpcd (never on a production host: see docs/card-protocol.md).

``pcsc:`` alone takes the first reader; ``pcsc:Sony`` the first whose name contains "Sony".
A presentation is detected with ``SCardGetStatusChange`` (no polling of the card), connected
shared with T=0 or T=1, and disconnected with a card *reset* when the next presentation
starts or the reader closes, so no security state (a verified PIN) outlives a tap.

pyscard reports failures as return codes (and occasionally exceptions); both are translated
here into :mod:`reader_agent.drivers.base` errors.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from smartcard import scard

from .base import (
    CardError,
    CardMute,
    CardRemoved,
    MalformedResponse,
    ReaderUnavailable,
    TransportError,
    guard,
)

__all__ = ["PcscChannel", "PcscReader", "pending_releases", "translate"]

log = logging.getLogger(__name__)

_REMOVED = {scard.SCARD_W_REMOVED_CARD, scard.SCARD_E_NO_SMARTCARD, scard.SCARD_W_RESET_CARD,
            scard.SCARD_W_UNPOWERED_CARD}
_MUTE = {scard.SCARD_E_TIMEOUT, scard.SCARD_W_UNRESPONSIVE_CARD}
_READER = {scard.SCARD_E_NO_READERS_AVAILABLE, scard.SCARD_E_UNKNOWN_READER,
           scard.SCARD_E_READER_UNAVAILABLE, scard.SCARD_E_NO_SERVICE,
           scard.SCARD_E_SERVICE_STOPPED, scard.SCARD_E_INVALID_HANDLE}


def _message(code: int) -> str:
    try:
        return f"{scard.SCardGetErrorMessage(code)} (0x{code & 0xFFFFFFFF:08X})"
    except Exception:  # pragma: no cover - pyscard quirk
        return f"0x{code & 0xFFFFFFFF:08X}"


def translate(code: int, what: str) -> CardError:
    """The CardError for a PC/SC return code."""
    text = f"{what}: {_message(code)}"
    if code in _REMOVED:
        return CardRemoved(text)
    if code in _MUTE:
        return CardMute(text)
    if code in _READER:
        return ReaderUnavailable(text)
    return TransportError(text)


def _call(what: str, fn: Any, *args: Any) -> Any:
    """Call a pyscard function, turning its exceptions into CardErrors at the boundary."""
    try:
        return fn(*args)
    except (scard.error, SystemError, TypeError, ValueError) as err:
        raise TransportError(f"{what}: {err}") from err


class PcscChannel:
    """One connected card. ``close`` disconnects with a card reset and releases the context.

    A handle is never left behind: pcscd allows only so many per reader
    (``--max-card-handle-per-reader``, 200 by default), and a reader whose handles are used up
    refuses every card until the agent restarts.
    """

    def __init__(self, ctx: Any, hcard: int, protocol: int) -> None:
        # The card has its own PC/SC context: a transmit stuck on a mute card never blocks
        # the reader's status polling (pcsc-lite serialises calls per context).
        self._ctx = ctx
        self._hcard = hcard
        self._protocol = protocol
        self._closed = False
        self._lock = threading.Lock()

    def transmit(self, apdu: bytes) -> bytes:
        data = guard(apdu)
        with self._lock:
            if self._closed:
                raise CardRemoved("the presentation is over (channel closed)")
            hr, response = _call("SCardTransmit", scard.SCardTransmit, self._hcard,
                                 self._protocol, list(data))
        if hr != scard.SCARD_S_SUCCESS:
            raise translate(hr, "SCardTransmit")
        out = bytes(response)
        if len(out) < 2 or len(out) > 258:
            raise MalformedResponse(f"response of {len(out)} bytes")
        return out

    def close(self) -> None:
        """Disconnect and release, without ever blocking the caller.

        A transmit stuck on a mute card (abandoned by the agent's timeout) holds the lock, and
        pcsc-lite would make a disconnect wait for it anyway (calls are serialised per
        context). Then a background thread waits for that exchange to end (the card answers,
        the reader times out, or the card leaves) and disconnects and releases after it.
        """
        if self._closed:
            return
        self._closed = True
        if self._lock.acquire(blocking=False):
            self._release()
            return
        log.warning("pcsc.disconnect.deferred reason=exchange_in_progress")
        with _pending_lock:
            _pending.add(self)
        threading.Thread(target=self._release_after_exchange, name="pcsc-release",
                         daemon=True).start()

    def _release_after_exchange(self) -> None:
        self._lock.acquire()
        self._release()
        with _pending_lock:
            _pending.discard(self)
        log.info("pcsc.disconnect.done_after_exchange")

    def _release(self) -> None:
        """Disconnect (card reset) and release the context; the caller holds the lock."""
        try:
            scard.SCardDisconnect(self._hcard, scard.SCARD_RESET_CARD)
        except Exception as err:  # the card may be gone already
            log.debug("pcsc.disconnect.failed error=%s", type(err).__name__)
        finally:
            try:
                scard.SCardReleaseContext(self._ctx)
            except Exception as err:  # noqa: BLE001
                log.debug("pcsc.release.failed error=%s", type(err).__name__)
            self._lock.release()


# Channels closed while an exchange was stuck, not yet released (see PcscChannel.close).
_pending: set[PcscChannel] = set()
_pending_lock = threading.Lock()


def pending_releases() -> int:
    """How many closed channels still wait for a stuck exchange before they release."""
    with _pending_lock:
        return len(_pending)


class PcscReader:
    """A PC/SC reader chosen by a substring of its name."""

    def __init__(self, selector: str = "") -> None:
        self.selector = selector
        self.name = f"pcsc:{selector}"
        self._lock = threading.RLock()
        self._ctx: Any = None
        self._ensure_context()
        self._handed_count: int | None = None
        self._channel: PcscChannel | None = None
        self.reader_name: str | None = None

    def _ensure_context(self) -> None:
        """(Re-)establish the PC/SC context, e.g. after pcscd restarted."""
        if self._ctx is not None:
            return
        hr, ctx = _call("SCardEstablishContext", scard.SCardEstablishContext,
                        scard.SCARD_SCOPE_USER)
        if hr != scard.SCARD_S_SUCCESS:
            raise translate(hr, "SCardEstablishContext (is pcscd running?)")
        self._ctx = ctx

    def _lost_service(self, hr: int) -> None:
        """Forget a context pcscd no longer knows, so the next call makes a new one."""
        if hr in (scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED,
                  scard.SCARD_E_INVALID_HANDLE):
            ctx, self._ctx = self._ctx, None
            self._drop_channel()
            try:
                scard.SCardReleaseContext(ctx)
            except Exception as err:  # noqa: BLE001
                log.debug("pcsc.release.failed error=%s", type(err).__name__)

    def _find(self) -> str | None:
        self._ensure_context()
        hr, readers = _call("SCardListReaders", scard.SCardListReaders, self._ctx, [])
        if hr in (scard.SCARD_E_NO_READERS_AVAILABLE,):
            return None
        if hr != scard.SCARD_S_SUCCESS:
            self._lost_service(hr)
            raise translate(hr, "SCardListReaders")
        for name in readers:
            if self.selector in name:
                return str(name)
        return None

    def wait_for_card(self, timeout: float) -> PcscChannel | None:
        deadline = time.monotonic() + timeout
        self._drop_channel()
        reader = self._find()
        while reader is None:
            if time.monotonic() >= deadline:
                raise ReaderUnavailable(f"no PC/SC reader matching {self.selector!r}")
            time.sleep(0.1)
            reader = self._find()
        self.reader_name = reader
        current = scard.SCARD_STATE_UNAWARE
        while True:
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            hr, states = _call("SCardGetStatusChange", scard.SCardGetStatusChange, self._ctx,
                               remaining_ms, [(reader, current)])
            if hr == scard.SCARD_E_TIMEOUT:
                return None
            if hr != scard.SCARD_S_SUCCESS:
                self._lost_service(hr)
                raise translate(hr, "SCardGetStatusChange")
            _name, event_state, _atr = states[0]
            count = (event_state >> 16) & 0xFFFF
            present = event_state & scard.SCARD_STATE_PRESENT and not \
                event_state & scard.SCARD_STATE_MUTE
            if event_state & scard.SCARD_STATE_EMPTY:
                self._handed_count = None
            if present and count != self._handed_count:
                channel = self._connect(reader)
                if channel is not None:
                    self._handed_count = count
                    self._channel = channel
                    return channel
            if time.monotonic() >= deadline:
                return None
            current = event_state & ~scard.SCARD_STATE_CHANGED

    def wait_for_removal(self, timeout: float) -> bool:
        """Wait until the reader reports no card; True if it does within ``timeout``."""
        deadline = time.monotonic() + timeout
        reader = self.reader_name or self._find()
        if reader is None:
            return True
        current = scard.SCARD_STATE_UNAWARE
        while True:
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            hr, states = _call("SCardGetStatusChange", scard.SCardGetStatusChange, self._ctx,
                               remaining_ms, [(reader, current)])
            if hr == scard.SCARD_E_TIMEOUT:
                return False
            if hr != scard.SCARD_S_SUCCESS:
                raise translate(hr, "SCardGetStatusChange")
            event_state = states[0][1]
            if event_state & scard.SCARD_STATE_EMPTY:
                self._handed_count = None
                return True
            if time.monotonic() >= deadline:
                return False
            current = event_state & ~scard.SCARD_STATE_CHANGED

    def _connect(self, reader: str) -> PcscChannel | None:
        hr, ctx = _call("SCardEstablishContext", scard.SCardEstablishContext,
                        scard.SCARD_SCOPE_USER)
        if hr != scard.SCARD_S_SUCCESS:
            raise translate(hr, "SCardEstablishContext")
        hr, hcard, protocol = _call(
            "SCardConnect", scard.SCardConnect, ctx, reader,
            scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        if hr != scard.SCARD_S_SUCCESS:
            scard.SCardReleaseContext(ctx)
            if hr in _REMOVED or hr == scard.SCARD_W_UNRESPONSIVE_CARD:
                return None  # gone (or mute) before we could connect: not a presentation
            raise translate(hr, "SCardConnect")
        return PcscChannel(ctx, hcard, protocol)

    def _drop_channel(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def close(self) -> None:
        self._drop_channel()
        ctx, self._ctx = self._ctx, None
        if ctx is not None:
            try:
                scard.SCardReleaseContext(ctx)
            except Exception as err:
                log.debug("pcsc.release.failed error=%s", type(err).__name__)
