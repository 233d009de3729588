"""The keypad of a card+PIN reader in site.toml: URIs, keys, and line-precise errors."""

from __future__ import annotations

import pytest

from firmware_config.bundle import agent_settings
from firmware_config.models import KeypadConfig, parse_keypad_uri
from firmware_config.validate import production_issues

from .test_validate import GOOD, issues_of, line_of, validate_site_text

KEYPAD = 'keypad = { uri = "serial:/dev/ttyUSB0" }'


@pytest.mark.parametrize(("uri", "expected"), [
    ("pcsc-pinpad:", ("pcsc-pinpad", "")),
    ("pcsc-pinpad:Cherry ST-2000", ("pcsc-pinpad", "Cherry ST-2000")),
    ("serial:/dev/ttyUSB0", ("serial", "/dev/ttyUSB0")),
    ("serial:/dev/serial/by-id/usb-FTDI-if00-port0:19200",
     ("serial", "/dev/serial/by-id/usb-FTDI-if00-port0:19200")),
    ("gpio:", ("gpio", "")),
    ("gpio:21,20,16,12/7,8,25", ("gpio", "21,20,16,12/7,8,25")),
    ("sim:", ("sim", "")),
])
def test_keypad_uris(uri: str, expected: tuple[str, str]) -> None:
    assert parse_keypad_uri(uri) == expected


@pytest.mark.parametrize("uri", ["serial:ttyUSB0", "serial:", "gpio:1,2,3/4,5,6",
                                 "pinpad:", "pcsc:Sony", "sim:a b", "gpio:1,2,3,4/5,6,x"])
def test_bad_keypad_uris(uri: str) -> None:
    with pytest.raises(ValueError, match="keypad URI"):
        parse_keypad_uri(uri)


def test_keys_and_timeout() -> None:
    pad = KeypadConfig(uri="serial:/dev/ttyUSB0", enter_key="\r", clear_key="C",
                       timeout_seconds=30)
    assert pad.enter_key == "\r" and pad.gpio_pins() == []
    for bad in ({"enter_key": "1"}, {"clear_key": "#"}, {"timeout_seconds": 0},
                {"enter_key": "##"}):
        with pytest.raises(ValueError):
            KeypadConfig(uri="serial:/dev/ttyUSB0", **bad)
    assert KeypadConfig(uri="gpio:").gpio_pins() == [21, 20, 16, 12, 7, 8, 25]


def with_keypad(line: str) -> str:
    assert GOOD.count(KEYPAD) == 1
    return GOOD.replace(KEYPAD, line)


def test_card_pin_door_needs_a_keypad_at_its_reader_line() -> None:
    text = GOOD.replace(KEYPAD + "\n", "")
    [msg] = issues_of(text)
    assert msg.startswith(f"site.toml:{line_of(text, '[[readers]]', nth=2)}:1: readers[1]:")
    assert "door 4 (サーバ室) is card+pin: set keypad" in msg


def test_bad_keypad_uri_points_at_its_line() -> None:
    text = with_keypad('keypad = { uri = "serial:ttyUSB0" }')
    [msg] = issues_of(text)
    assert msg.startswith(f"site.toml:{line_of(text, 'serial:ttyUSB0')}:")
    assert "readers[1].keypad.uri" in msg and "unknown keypad URI" in msg


def test_pinpad_needs_a_pcsc_driver_and_gpio_pins_must_not_clash() -> None:
    [msg] = issues_of(with_keypad('keypad = { uri = "pcsc-pinpad:" }'))
    assert "driver must be pcsc:" in msg
    [msg] = issues_of(with_keypad('keypad = { uri = "gpio:17,20,16,12/7,8,25" }'))
    assert "keypad pin 17 is also used" in msg


def test_bundle_settings_carry_the_keypad() -> None:
    site, issues = validate_site_text(
        with_keypad('keypad = { uri = "serial:/dev/ttyACM0:19200", timeout_seconds = 15, '
                    'enter_key = "\\r" }'), "site.toml")
    assert site is not None, issues

    class Bundle:
        config = site.reader_config("server-room")
        config_version = 2

    s = agent_settings(Bundle())  # type: ignore[arg-type]
    assert (s["keypad"], s["pin_timeout"], s["enter_key"], s["clear_key"]) == (
        "serial:/dev/ttyACM0:19200", 15.0, "\r", "*")


def test_a_simulated_keypad_is_refused_for_production() -> None:
    text = with_keypad('keypad = { uri = "sim:desk" }')
    site, _ = validate_site_text(text, "site.toml")
    assert site is not None
    [issue] = production_issues(site, text, "site.toml")
    assert str(issue).startswith(f"site.toml:{line_of(text, 'sim:desk')}:")
    assert "simulated keypad" in str(issue)
