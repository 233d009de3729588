"""``pcsc-pinpad:[NAME]``: secure PIN entry on a PC/SC reader's own PIN pad (Part 10).

The reader is the card reader itself (``pcsc:NAME``): the keypad's feature list is asked with
``CM_IOCTL_GET_FEATURE_REQUEST`` over a direct connection (no card needed) at start, and each
PIN is verified with ``FEATURE_VERIFY_PIN_DIRECT`` over a second *shared* connection to the
card of the tap, so the card's verified state serves the card sequence that follows. The PIN
is typed on the reader and goes from its keypad to the card: the host never sees it.

Where the reader lacks the feature (vsmartcard-vpcd, most contactless readers), :meth:`check`
raises :class:`KeypadUnavailable` saying so, and the agent refuses a card+PIN door with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from smartcard import scard

from .base import FaultReporter, KeypadError, KeypadOptions, KeypadUnavailable, PinNotEntered
from .part10 import (
    CM_IOCTL_GET_FEATURE_REQUEST_FUNCTION,
    FEATURE_VERIFY_PIN_DIRECT,
    LANG_EN,
    LANG_JA,
    SW_CANCELLED,
    SW_TIMEOUT,
    parse_features,
    pin_verify_structure,
)

__all__ = ["PcscPinpad"]

log = logging.getLogger(__name__)
T = TypeVar("T")


def _translated(call: Callable[[], T]) -> T:
    """pyscard's own exceptions become KeypadUnavailable at the driver boundary."""
    try:
        return call()
    except (scard.error, SystemError, TypeError, ValueError) as err:
        raise KeypadUnavailable(f"PC/SC: {err}") from err


class PcscPinpad(FaultReporter):
    """The PIN pad of the PC/SC reader whose name contains ``selector``."""

    secure = True

    def __init__(self, selector: str = "", options: KeypadOptions | None = None,
                 lang: str = "ja") -> None:
        super().__init__()
        self.name = f"pcsc-pinpad:{selector}"
        self.selector = selector
        self.options = options or KeypadOptions()
        self.lang_id = LANG_EN if lang == "en" else LANG_JA
        self.verify_code: int | None = None
        self.reader_name: str | None = None

    def _context(self) -> Any:
        hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hr != scard.SCARD_S_SUCCESS:
            raise KeypadUnavailable("no PC/SC service (is pcscd running?)")
        return ctx

    def _reader(self, ctx: Any) -> str:
        hr, readers = scard.SCardListReaders(ctx, [])
        for name in readers if hr == scard.SCARD_S_SUCCESS else []:
            if self.selector in name:
                return str(name)
        raise KeypadUnavailable(f"no PC/SC reader matching {self.selector!r}")

    def _connect(self, ctx: Any, reader: str, share: int, protocols: int) -> Any:
        hr, hcard, _protocol = scard.SCardConnect(ctx, reader, share, protocols)
        if hr != scard.SCARD_S_SUCCESS:
            raise KeypadUnavailable(f"cannot connect to {reader!r}: "
                                    f"{scard.SCardGetErrorMessage(hr)}")
        return hcard

    def check(self) -> None:
        """Ask the reader for its features; KeypadUnavailable without VERIFY_PIN_DIRECT."""
        try:
            _translated(self._probe)
        except KeypadUnavailable as err:
            self._report(err)
            raise
        self._report(None)

    def _probe(self) -> None:
        ctx = self._context()
        try:
            reader = self._reader(ctx)
            hcard = self._connect(ctx, reader, scard.SCARD_SHARE_DIRECT, 0)
            try:
                hr, answer = scard.SCardControl(
                    hcard, scard.SCARD_CTL_CODE(CM_IOCTL_GET_FEATURE_REQUEST_FUNCTION), [])
            finally:
                scard.SCardDisconnect(hcard, scard.SCARD_LEAVE_CARD)
        finally:
            scard.SCardReleaseContext(ctx)
        try:
            features = parse_features(bytes(answer)) if hr == scard.SCARD_S_SUCCESS else {}
        except ValueError as err:
            raise KeypadUnavailable(f"reader {reader!r}: {err}") from err
        if FEATURE_VERIFY_PIN_DIRECT not in features:
            raise KeypadUnavailable(
                f"reader {reader!r} offers no secure PIN entry (PC/SC Part 10 "
                "FEATURE_VERIFY_PIN_DIRECT not in its CM_IOCTL_GET_FEATURE_REQUEST answer)")
        self.verify_code = features[FEATURE_VERIFY_PIN_DIRECT]
        self.reader_name = reader

    def verify_on_reader(self, template: bytes, timeout: float) -> bytes:
        """Have the reader take the PIN and send ``template`` with it to the card.

        Returns the card's answer (``90 00``, ``63 Cx`` …). :raises PinNotEntered: timeout or
        cancel on the reader; KeypadUnavailable: the reader or its feature is gone.
        """
        if self.verify_code is None or self.reader_name is None:
            self.check()
        assert self.verify_code is not None and self.reader_name is not None
        try:
            response = _translated(lambda: self._verify(template, timeout))
        except KeypadUnavailable as err:
            self._report(err)
            raise
        self._report(None)
        return response

    def _verify(self, template: bytes, timeout: float) -> bytes:
        assert self.verify_code is not None and self.reader_name is not None
        structure = pin_verify_structure(template, pin_offset=0, block_size=template[4],
                                         min_digits=template[4], max_digits=template[4],
                                         timeout_s=min(255, int(timeout)), lang_id=self.lang_id)
        ctx = self._context()
        try:
            hcard = self._connect(ctx, self.reader_name, scard.SCARD_SHARE_SHARED,
                                  scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
            try:
                hr, answer = scard.SCardControl(hcard, self.verify_code, list(structure))
            finally:  # LEAVE: a reset would undo the verification the tap needs
                scard.SCardDisconnect(hcard, scard.SCARD_LEAVE_CARD)
        finally:
            scard.SCardReleaseContext(ctx)
        if hr != scard.SCARD_S_SUCCESS or len(answer) < 2:
            raise KeypadUnavailable(f"VERIFY_PIN_DIRECT failed: {scard.SCardGetErrorMessage(hr)}")
        response = bytes(answer)
        sw = int.from_bytes(response[-2:], "big")
        if sw in (SW_TIMEOUT, SW_CANCELLED):
            raise PinNotEntered("no PIN confirmed on the reader" if sw == SW_TIMEOUT
                                else "PIN entry cancelled on the reader")
        return response

    def discard_input(self) -> None:
        """The reader's keypad buffers nothing between taps."""

    def read_pin(self, timeout: float) -> bytearray:
        raise KeypadError("a secure PIN pad never gives the PIN to the host")

    def close(self) -> None:
        """Connections are per call: nothing to release."""
