"""The keypad drivers: key handling, a serial keypad on a real pty, a GPIO matrix keypad on
gpiozero's MockFactory, the PC/SC Part 10 structure, and the PIN buffers being wiped."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from gpiozero import DigitalOutputDevice
from gpiozero.pins.mock import MockFactory, MockPin
from hypothesis import given
from hypothesis import strategies as st

from gate.policy import Reason
from reader_agent.card_auth import authenticate_jpki
from reader_agent.cards.jpki import VirtualJpkiCard, make_test_ca
from reader_agent.drivers.sim import get_sim_reader
from reader_agent.keypad import (
    KeypadOptions,
    KeypadStuck,
    KeypadUnavailable,
    PinNotEntered,
    SimKeypad,
    open_keypad,
    wipe,
)
from reader_agent.keypad.base import collect_pin
from reader_agent.keypad.gpio import LAYOUT, MatrixKeypad
from reader_agent.keypad.part10 import parse_features, pin_verify_structure
from reader_agent.keypad.serial_pad import SerialKeypad

OPTIONS = KeypadOptions(timeout_s=2.0)


def feed(keys: list[str]):  # type: ignore[no-untyped-def]
    it = iter(keys)
    return lambda _wait: next(it, None)


# --- key handling -------------------------------------------------------------------------------

KEYS = st.lists(st.sampled_from([*"0123456789", "*", "#", "A"]), max_size=40)


def model(keys: list[str]) -> bytes | None:
    """The PIN a person meant: digits since the last clear, up to 12, at the first enter."""
    digits = ""
    repeats, last = 0, ""
    for k in keys:
        repeats = repeats + 1 if k == last else 1
        last = k
        if repeats >= OPTIONS.stuck_repeats:
            return None
        if k == "#" and digits:
            return digits.encode()
        if k == "*":
            digits = ""
        elif k.isdigit() and len(digits) < 12:
            digits += k
    return None


@given(KEYS)
def test_collect_pin_matches_the_model(keys: list[str]) -> None:
    expected = model(keys)
    try:
        got: bytes | None = bytes(collect_pin(feed(keys), OPTIONS, 0.05))
    except (PinNotEntered, KeypadStuck):
        got = None
    assert got == expected


def test_clear_key_and_stuck_key() -> None:
    assert collect_pin(feed([*"99*4321#"]), OPTIONS, 1) == bytearray(b"4321")
    with pytest.raises(KeypadStuck):
        collect_pin(feed(["7"] * 20), OPTIONS, 1)
    with pytest.raises(PinNotEntered):
        collect_pin(feed([*"4321"]), OPTIONS, 0.1)


@pytest.mark.parametrize("bad", [{"clear_key": "#"}, {"enter_key": "5"}, {"timeout_s": 0.5},
                                 {"clear_key": "ab"}])
def test_keypad_options_are_checked(bad: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError):
        KeypadOptions(**bad)


class Spy(bytearray):
    """A bytearray that remembers every overwrite, so a test sees the zeroing happen."""

    writes: list[bytes]

    def __setitem__(self, key, value):  # type: ignore[no-untyped-def]
        self.writes = [*getattr(self, "writes", []), bytes(value)]
        super().__setitem__(key, value)


def test_wipe_zeroes_in_place() -> None:
    buf = Spy(b"4821")
    wipe(buf)
    assert buf.writes == [b"\x00" * 4] and buf == b""


@pytest.fixture(scope="module")
def jpki() -> tuple[VirtualJpkiCard, object]:
    ca_key, ca_cert = make_test_ca(now=datetime(2026, 1, 1, tzinfo=UTC))
    return VirtualJpkiCard.generate(ca_key, ca_cert, "4821"), ca_cert


def tap(card: VirtualJpkiCard, ca_cert, **pin):  # type: ignore[no-untyped-def]
    reader = get_sim_reader("keypad-test")
    reader.remove()
    reader.insert(card)
    spki = card.certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    now = card.certificate.not_valid_before_utc.replace(microsecond=0)
    now = now.fromtimestamp(now.timestamp() + 3600, UTC)
    return authenticate_jpki(reader.wait_for_card(1.0), lookup_public_key={
        card.credential_ref: spki}.get, show=lambda _t: None, ca_certs=[ca_cert],
        reader_id="r", now=now, **pin), reader


def test_the_pin_buffer_is_wiped_after_the_verify(jpki) -> None:  # type: ignore[no-untyped-def]
    card, ca_cert = jpki
    buf = Spy(b"4821")
    result, reader = tap(card, ca_cert, read_pin=lambda: buf)
    assert result.ok, result.detail
    assert buf == b"" and buf.writes[-1] == b"\x00" * 4
    assert not any(b"4821" in apdu for apdu in reader.sent)


# --- serial keypad on a pseudo-terminal pair -----------------------------------------------------

@pytest.fixture
def pty() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    fds = {"master": master}
    yield master, os.ttyname(slave)
    for fd in (fds["master"], slave):
        try:
            os.close(fd)
        except OSError:
            pass


def type_later(fd: int, data: bytes, delay: float = 0.2) -> threading.Thread:
    t = threading.Thread(target=lambda: (time.sleep(delay), os.write(fd, data)))
    t.start()
    return t


def test_serial_keypad_reads_a_pin_from_the_pty(pty: tuple[int, str]) -> None:
    master, device = pty
    pad = SerialKeypad(device, 9600, KeypadOptions(timeout_s=5, enter_key="\r"))
    pad.check()
    os.write(master, b"999")  # before the card: discarded
    time.sleep(0.1)
    pad.discard_input()
    type_later(master, b"12*4821\r").join()
    assert pad.read_pin(5) == bytearray(b"4821")
    with pytest.raises(PinNotEntered):
        pad.read_pin(0.3)
    os.write(master, b"5" * 25)  # a key stuck down, auto-repeating
    with pytest.raises(KeypadStuck):
        pad.read_pin(5)
    pad.close()


def test_unplugged_serial_keypad_is_a_fault_not_a_crash(pty: tuple[int, str]) -> None:
    master, device = pty
    faults: list[tuple[str, bool]] = []
    pad = SerialKeypad(device, 9600, OPTIONS)
    pad.on_fault = lambda err, active: faults.append((err.code, active))
    pad.check()
    os.close(master)
    with pytest.raises(KeypadUnavailable):
        pad.read_pin(2)
    assert faults == [("keypad_unavailable", True)]
    with pytest.raises(KeypadUnavailable):  # reported once, not at every tap
        pad.read_pin(2)
    assert len(faults) == 1
    missing = SerialKeypad("/dev/does-not-exist", 9600, OPTIONS)
    with pytest.raises(KeypadUnavailable, match="cannot open"):
        missing.check()


# --- 4x3 matrix keypad on gpiozero's MockFactory --------------------------------------------------

ROWS, COLS = (21, 20, 16, 12), (7, 8, 25)


class Matrix:
    """The keypad's wiring: a pressed key joins its row to its column. Keys follow a script
    counted in scans (each row-0 drive is one scan), so the test does not depend on speed."""

    def __init__(self, factory: MockFactory, script: list[str | None]) -> None:
        self.factory = factory
        self.script = script
        self.scans = 0
        matrix = self

        class RowPin(MockPin):
            def _change_state(self, value):  # type: ignore[no-untyped-def]
                changed = super()._change_state(value)
                matrix.row_changed(ROWS.index(int(self.info.name.replace("GPIO", ""))),
                                   low=not value)
                return changed

        for r in ROWS:
            factory.pin(r, pin_class=RowPin)

    def key_now(self) -> str | None:
        return self.script[self.scans] if self.scans < len(self.script) else None

    def row_changed(self, row: int, low: bool) -> None:
        if row == 0 and low:
            self.scans += 1
        key = self.key_now()
        for c, col in enumerate(COLS):
            pin = self.factory.pin(col)
            if pin.function != "input":
                continue
            if low and key == LAYOUT[row][c]:
                pin.drive_low()
            else:
                pin.drive_high()


def pressed(keys: str, hold: int = 3, gap: int = 3) -> list[str | None]:
    script: list[str | None] = [None] * gap
    for k in keys:
        script += [k] * hold + [None] * gap
    return script


def test_gpio_keypad_reads_a_pin() -> None:
    factory = MockFactory()
    Matrix(factory, pressed("7*4821#"))
    pad = MatrixKeypad(ROWS, COLS, OPTIONS, pin_factory=factory, scan_s=0.001)
    pad.check()
    assert pad.read_pin(5) == bytearray(b"4821")
    pad.close()


def test_gpio_stuck_key_and_pins_in_use() -> None:
    factory = MockFactory()
    Matrix(factory, ["5"] * 10_000_000)
    faults: list[tuple[str, bool]] = []
    pad = MatrixKeypad(ROWS, COLS, KeypadOptions(timeout_s=5, stuck_seconds=0.2),
                       pin_factory=factory, scan_s=0.001)
    pad.on_fault = lambda err, active: faults.append((err.code, active))
    with pytest.raises(KeypadStuck):
        pad.read_pin(5)
    assert faults == [("keypad_stuck", True)]
    pad.close()

    other = MockFactory()
    held = DigitalOutputDevice(ROWS[2], pin_factory=other)  # something else holds a row pin
    with pytest.raises(KeypadUnavailable, match="cannot claim"):
        MatrixKeypad(ROWS, COLS, OPTIONS, pin_factory=other).check()
    held.close()


# --- URIs ----------------------------------------------------------------------------------------

def test_keypads_are_chosen_by_uri() -> None:
    assert isinstance(open_keypad("sim:door"), SimKeypad)
    serial_pad = open_keypad("serial:/dev/ttyUSB0:19200")
    assert isinstance(serial_pad, SerialKeypad) and serial_pad.baud == 19200
    gpio_pad = open_keypad("gpio:1,2,3,4/5,6,7", pin_factory=MockFactory())
    assert isinstance(gpio_pad, MatrixKeypad) and gpio_pad.rows == (1, 2, 3, 4)
    assert open_keypad("gpio:", pin_factory=MockFactory()).cols == (7, 8, 25)
    pinpad = open_keypad("pcsc-pinpad:Cherry")
    assert pinpad.secure and pinpad.name == "pcsc-pinpad:Cherry"
    for bad in ("serial:ttyUSB0", "gpio:1,2/3", "usb:", "pinpad:", "sim:a b"):
        with pytest.raises(ValueError):
            open_keypad(bad)


# --- PC/SC Part 10 --------------------------------------------------------------------------------

JPKI_VERIFY_TEMPLATE = bytes.fromhex("0020008004") + bytes(4)


def test_pin_verify_structure_follows_the_spec_layout() -> None:
    s = pin_verify_structure(JPKI_VERIFY_TEMPLATE, pin_offset=0, block_size=4, min_digits=4,
                             max_digits=4, timeout_s=20)
    # PC/SC Part 10 v2.02.09 §2.5.2, field by field
    assert s[0] == 20 and s[1] == 20                  # bTimerOut, bTimerOut2
    assert s[2] == 0b1_0000_0_10                      # bytes, position 0, left, ASCII
    assert s[3] == 0x04                               # no length field, 4-byte PIN block
    assert s[4] == 0x00                               # bmPINLengthFormat
    assert s[5:7] == bytes([0x04, 0x04])              # wPINMaxExtraDigit 0x0404 (LE): 4..4
    assert s[7] == 0x02                               # validation key
    assert s[8] == 0x01                               # one message
    assert s[9:11] == bytes([0x11, 0x04])             # wLangId 0x0411 Japanese (LE)
    assert s[11] == 0x00 and s[12:15] == bytes(3)     # bMsgIndex, bTeoPrologue
    assert s[15:19] == bytes([9, 0, 0, 0])            # ulDataLength 9 (LE)
    assert s[19:] == JPKI_VERIFY_TEMPLATE and len(s) == 28
    assert s.hex() == "14148204000404020111040000000009000000" + "002000800400000000"
    en = pin_verify_structure(JPKI_VERIFY_TEMPLATE, pin_offset=0, block_size=4, min_digits=4,
                              max_digits=8 - 4, timeout_s=0, lang_id=0x0409)
    assert en[9:11] == bytes([0x09, 0x04]) and en[0] == 0
    with pytest.raises(ValueError):
        pin_verify_structure(b"\x00\x20\x00\x80\x05" + bytes(4), pin_offset=0, block_size=4,
                             min_digits=4, max_digits=4, timeout_s=20)


def test_feature_list() -> None:
    answer = bytes.fromhex("0604423300060a0442330e0a120442330012")
    assert parse_features(answer) == {0x06: 0x42330006, 0x0A: 0x42330E0A, 0x12: 0x42330012}
    assert parse_features(b"") == {}
    for bad in (b"\x06", b"\x06\x04\x42\x33", b"\x06\x02\x42\x33\x00\x06"):
        with pytest.raises(ValueError):
            parse_features(bad)


def reader_firmware(channel, pin: bytes):  # type: ignore[no-untyped-def]
    """What a PIN-pad reader does with FEATURE_VERIFY_PIN_DIRECT, per the structure: take the
    PIN on its keypad and put it, formatted, into the APDU template for the card."""

    def verify(template: bytes) -> bytes:
        s = pin_verify_structure(template, pin_offset=0, block_size=template[4],
                                 min_digits=4, max_digits=4, timeout_s=20)
        assert s[2] & 0x03 == 0x02 and s[2] & 0x80  # ASCII, positions in bytes
        position = 5 + ((s[2] >> 3) & 0x0F)
        length = int.from_bytes(s[15:19], "little")
        apdu = bytearray(s[19:19 + length])
        apdu[position:position + len(pin)] = pin
        return channel.transmit(bytes(apdu))

    return verify


def test_secure_pin_entry_never_gives_the_pin_to_the_host(jpki) -> None:  # type: ignore[no-untyped-def]
    card, ca_cert = jpki
    reader = get_sim_reader("keypad-test")
    reader.remove()
    reader.insert(card)
    channel = reader.wait_for_card(1.0)
    asked: list[int] = []
    spki = card.certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    result = authenticate_jpki(
        channel, lookup_public_key={card.credential_ref: spki}.get, show=lambda _t: None,
        ca_certs=[ca_cert], reader_id="r",
        now=datetime.fromtimestamp(card.certificate.not_valid_before_utc.timestamp() + 3600, UTC),
        read_pin=lambda: asked.append(1) or "0000",  # type: ignore[func-returns-value]
        secure_verify=reader_firmware(channel, b"4821"))
    assert result.ok, result.detail
    assert asked == []  # the host keypad was never asked

    def timed_out(_template: bytes) -> bytes:
        raise PinNotEntered("64 00 from the reader")

    result, _ = tap(card, ca_cert, secure_verify=timed_out)
    assert result.failure is Reason.PIN_REQUIRED and card.tries_left == 3
