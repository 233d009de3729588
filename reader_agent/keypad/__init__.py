"""PIN keypads, chosen by URI (see :mod:`reader_agent.keypad.base` for the seam and errors)."""

from __future__ import annotations

from typing import Any

from firmware_config.models import keypad_matrix_pins, parse_keypad_uri

from .base import (
    FaultCallback,
    Keypad,
    KeypadError,
    KeypadOptions,
    KeypadStuck,
    KeypadUnavailable,
    PinNotEntered,
    wipe,
)
from .sim import SimKeypad, get_sim_keypad

__all__ = [
    "FaultCallback",
    "Keypad",
    "KeypadError",
    "KeypadOptions",
    "KeypadStuck",
    "KeypadUnavailable",
    "PinNotEntered",
    "SimKeypad",
    "open_keypad",
    "wipe",
]


def open_keypad(uri: str, options: KeypadOptions | None = None, *, lang: str = "ja",
                pin_factory: Any = None) -> Keypad:
    """Open the keypad named by ``uri`` (``sim:``, ``serial:…``, ``gpio:…``, ``pcsc-pinpad:``).

    Nothing is opened yet: :meth:`Keypad.check` does, so a missing device is reported (and
    raised as an alarm) by the agent instead of stopping it. The serial, GPIO and PC/SC
    keypads import their library (pyserial, gpiozero, pyscard) only when used.

    :raises ValueError: an unknown scheme or a malformed URI.
    """
    scheme, arg = parse_keypad_uri(uri)
    if scheme == "sim":
        return get_sim_keypad(arg, options)
    if scheme == "serial":
        from .serial_pad import SerialKeypad

        device, _, baud = arg.partition(":")
        return SerialKeypad(device, int(baud or 9600), options)
    if scheme == "gpio":
        from .gpio import MatrixKeypad

        rows, cols = keypad_matrix_pins(arg)
        return MatrixKeypad(rows, cols, options, pin_factory=pin_factory)
    from .pcsc_pinpad import PcscPinpad

    return PcscPinpad(arg, options, lang=lang)
