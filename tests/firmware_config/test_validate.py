"""firmware_config.validate: line-precise errors for site files (TOML syntax and schema)."""

from __future__ import annotations

import base64
import textwrap
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from firmware_config.validate import (
    ConfigError,
    key_positions,
    load_site,
    production_issues,
    validate_site_text,
)
from mynagate_cli import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "site.toml"
KEY = base64.b64encode(bytes(range(32))).decode()

GOOD = textwrap.dedent(f"""\
    municipality_code = "373222"
    name = "テスト町"
    config_version = 2
    service_url = "https://gate.example.lg.jp"

    [trust]
    service_public_key = "{KEY}"

    [[readers]]
    name = "shoko"
    driver = "pcsc:Sony"
    door_io = "gpio"
      [[readers.doors]]
      door_id = 3
      name = "書庫"
      relay_pin = 17
      sensor_pin = 27

    [[readers]]
    name = "server-room"
    driver = "nfc:usb"
    door_io = "gpio"
    keypad = {{ uri = "serial:/dev/ttyUSB0" }}
    led = {{ granted = {{ color = "green", on_ms = 900 }} }}
      [[readers.doors]]
      door_id = 4
      name = "サーバ室"
      assurance = "card+pin"
      unlock_seconds = 5
      relay_pin = 17
      sensor_pin = 27
    """)


def issues_of(text: str) -> list[str]:
    site, issues = validate_site_text(text, "site.toml")
    assert site is None, "expected the file to be refused"
    return [str(i) for i in issues]


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line number of the nth line containing ``needle`` (the test's own oracle)."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[nth - 1]


def col_of(text: str, needle: str, nth: int = 1) -> int:
    line = text.splitlines()[line_of(text, needle, nth) - 1]
    return line.index(needle) + 1


def test_good_file_validates():
    site, issues = validate_site_text(GOOD)
    assert issues == [] and site is not None
    assert [r.name for r in site.readers] == ["shoko", "server-room"]
    assert site.reader_config("server-room").led.granted.on_ms == 900


def test_the_example_site_validates():
    site = load_site(EXAMPLE)
    assert len(site.readers) == 20
    names = {d.name: d for r in site.readers for d in r.doors}
    assert names["サーバ室"].assurance == "card+pin"
    assert names["本庁舎 休日通用口"].fail_open
    assert names["書庫"].mode == "access"
    assert sum(d.mode == "clock" for d in names.values()) == 3
    # the JPKI CA file was inlined as PEM, so a bundle carries it
    pem = site.trust.jpki_ca_certs[0]
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    assert site.reader_config("server-room").offline.max_offline_age_hours == 24
    assert site.reader_config("honcho-kyujitsu").fail_open_doors() == frozenset({2})


# ---- TOML syntax ------------------------------------------------------------------------


def test_syntax_error_unterminated_string():
    text = GOOD.replace('name = "書庫"', 'name = "書庫')
    [msg] = issues_of(text)
    line = line_of(text, 'name = "書庫')
    assert msg.startswith(f"site.toml:{line}:")
    assert "TOML syntax" in msg


def test_syntax_error_missing_equals():
    text = GOOD.replace('driver = "nfc:usb"', 'driver "nfc:usb"')
    [msg] = issues_of(text)
    line = line_of(text, 'driver "nfc:usb"')
    assert msg.startswith(f"site.toml:{line}:")


def test_syntax_error_duplicate_key_and_end_of_document():
    text = GOOD + 'name = "again"\n'
    [msg] = issues_of(GOOD.replace('config_version = 2', 'config_version = 2\nconfig_version = 3'))
    assert msg.startswith("site.toml:4:")
    [msg] = issues_of(text.replace("[trust]", "[trust"))
    assert msg.startswith(f"site.toml:{line_of(text, '[trust')}:")
    [msg] = issues_of(GOOD + "x = [1, 2")
    assert msg.startswith(f"site.toml:{GOOD.count(chr(10)) + 1}:")


# ---- schema errors mapped back to lines --------------------------------------------------


def test_value_out_of_range_points_at_the_key():
    text = GOOD.replace("unlock_seconds = 5", "unlock_seconds = 600")
    [msg] = issues_of(text)
    line = line_of(text, "unlock_seconds = 600")
    assert msg.startswith(f"site.toml:{line}:{col_of(text, 'unlock_seconds')}: "
                          "readers[1].doors[0].unlock_seconds:")
    assert "less than or equal to 60" in msg


def test_unknown_key_points_at_the_key():
    text = GOOD.replace("  sensor_pin = 27\n\n", "  sensor_pin = 27\n  sensor_pim = 4\n\n")
    [msg] = issues_of(text)
    assert msg.startswith(f"site.toml:{line_of(text, 'sensor_pim')}:3: "
                          "readers[0].doors[0].sensor_pim: unknown key")


def test_bad_driver_uri_in_the_second_reader():
    text = GOOD.replace('driver = "nfc:usb"', 'driver = "usb:sony"')
    [msg] = issues_of(text)
    assert msg.startswith(f"site.toml:{line_of(text, 'usb:sony')}:1: readers[1].driver:")
    assert "card driver URI" in msg


def test_missing_key_points_at_its_table():
    text = GOOD.replace('  name = "サーバ室"\n', "")
    [msg] = issues_of(text)
    header = line_of(text, "[[readers.doors]]", nth=2)
    assert msg == (f"site.toml:{header}:3: readers[1].doors[0].name: required key is missing")


def test_model_rule_points_at_the_reader_header():
    text = GOOD.replace("  relay_pin = 17\n  sensor_pin = 27\n\n", "  sensor_pin = 27\n\n")
    [msg] = issues_of(text)
    assert msg.startswith(f"site.toml:{line_of(text, '[[readers]]')}:1: readers[0]:")
    assert "needs relay_pin" in msg


def test_error_inside_an_inline_table():
    text = GOOD.replace('color = "green"', 'color = "purple"')
    [msg] = issues_of(text)
    assert msg.startswith(f"site.toml:{line_of(text, 'purple')}:{col_of(text, 'color')}: "
                          "readers[1].led.granted.color:")


def test_several_errors_are_all_reported_in_file_order():
    text = (GOOD.replace('municipality_code = "373222"', 'municipality_code = "37322"')
                .replace('service_public_key = "', 'service_public_key = "AAAA')
                .replace("door_id = 4", "door_id = 0"))
    msgs = issues_of(text)
    assert [m.split(":")[1] for m in msgs] == [
        str(line_of(text, "municipality_code")), str(line_of(text, "service_public_key")),
        str(line_of(text, "door_id = 0"))]


def test_duplicate_reader_name_points_at_the_second():
    text = GOOD.replace('name = "server-room"', 'name = "shoko"')
    [msg] = issues_of(text)
    line = line_of(text, 'name = "shoko"', nth=2)
    assert msg == f"site.toml:{line}:1: readers[1].name: 'shoko' is already used by readers[0]"


def test_missing_ca_file_points_at_the_list_element(tmp_path: Path):
    text = GOOD.replace(f'service_public_key = "{KEY}"',
                        f'service_public_key = "{KEY}"\njpki_ca_files = ["a.pem", "nope.pem"]')
    (tmp_path / "a.pem").write_text("junk")
    site_file = tmp_path / "site.toml"
    site_file.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_site(site_file)
    [issue] = err.value.issues
    assert (issue.line, issue.col) == (line_of(text, "nope.pem"), col_of(text, '"nope.pem"'))
    assert "nope.pem" in issue.message
    # once the file exists, its content is checked as a certificate, reported at the file entry
    (tmp_path / "nope.pem").write_text("junk")
    with pytest.raises(ConfigError) as err:
        load_site(site_file)
    a_at = (line_of(text, "a.pem"), col_of(text, '"a.pem"'))
    nope_at = (line_of(text, "nope.pem"), col_of(text, '"nope.pem"'))
    assert [str(i) for i in err.value.issues] == [
        f"{site_file}:{a_at[0]}:{a_at[1]}: trust.jpki_ca_files[0]: not a PEM X.509 certificate",
        f"{site_file}:{nope_at[0]}:{nope_at[1]}: trust.jpki_ca_files[1]: "
        "not a PEM X.509 certificate"]


def test_key_positions_handles_strings_arrays_and_dotted_keys():
    text = textwrap.dedent('''\
        a = """x = 1
        [not.a.table]
        """
        "b.c" = 'it"s'
        d.e = [ 1, # one
          { f = "]" },
        ]
        [[g]]
        [[g]]
        h = 1979-05-27 07:32:00Z
        ''')
    assert tomllib.loads(text)["d"]["e"][1] == {"f": "]"}  # the text is valid TOML
    pos = key_positions(text)
    assert pos[("a",)] == (1, 1)
    assert ("not",) not in pos
    assert pos[("b.c",)] == (4, 1)
    assert pos[("d", "e", 0)] == (5, 9)
    assert pos[("d", "e", 1, "f")] == (6, 5)
    assert pos[("g", 1)] == (9, 1)
    assert pos[("g", 1, "h")] == (10, 1)


# ---- the command -------------------------------------------------------------------------


def test_cli_validate(tmp_path: Path):
    runner = CliRunner()
    ok = runner.invoke(app, ["config", "validate", str(EXAMPLE)])
    assert ok.exit_code == 0, ok.output
    assert "20 readers" in ok.output
    bad = tmp_path / "site.toml"
    text = GOOD.replace("unlock_seconds = 5", "unlock_seconds = -1")
    bad.write_text(text)
    res = runner.invoke(app, ["config", "validate", str(bad)])
    assert res.exit_code == 1
    assert f"{bad}:{line_of(text, 'unlock_seconds')}:3: readers[1].doors[0].unlock_seconds" \
        in res.output
    missing = runner.invoke(app, ["config", "validate", str(tmp_path / "none.toml")])
    assert missing.exit_code == 1


def test_production_check_points_at_simulated_drivers():
    runner = CliRunner()
    res = runner.invoke(app, ["config", "validate", "--production", str(EXAMPLE)])
    assert res.exit_code == 1
    text = EXAMPLE.read_text(encoding="utf-8")
    drv = line_of(text, 'driver = "sim:rehearsal"')
    dio = line_of(text, 'door_io = "sim"')
    assert f"{EXAMPLE}:{drv}:1: readers[19].driver: 'sim:rehearsal' is a simulated" in res.output
    assert f"{EXAMPLE}:{dio}:1: readers[19].door_io: a simulated door" in res.output
    # nfcpy's UDP driver takes virtual cards from the network (the rehearsal of deploy-reader.md)
    udp = text.replace('driver = "sim:rehearsal"', 'driver = "nfc:udp:localhost:54321"')
    site, _ = validate_site_text(udp, "site.toml", EXAMPLE.parent)
    assert site is not None
    assert [i.message for i in production_issues(site, udp, "site.toml")
            if i.line == drv] == ["readers[19].driver: 'nfc:udp:localhost:54321' is a simulated "
                                  "card reader (virtual cards), not for a real door"]
    # the same file without the rehearsal desk is fit for production
    cut = text[:text.index('[[readers]]\nname = "rehearsal"')] + text[text.index("[[locks]]"):]
    site, issues = validate_site_text(cut, "site.toml", EXAMPLE.parent)
    assert site is not None and issues == []
    assert production_issues(site, cut, "site.toml") == []
