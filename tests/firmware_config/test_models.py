"""firmware_config.models: typed reader, door and lock configuration."""

from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError

from firmware_config.models import (
    DEFAULT_STAFF_AP_AID,
    DoorConfig,
    LockConfig,
    ReaderEntry,
    SiteConfig,
    TrustAnchors,
    parse_driver_uri,
)

KEY = base64.b64encode(bytes(range(32))).decode()


def site(**overrides: object) -> SiteConfig:
    data: dict[str, object] = {
        "municipality_code": "373222",
        "name": "テスト町",
        "config_version": 3,
        "service_url": "https://gate.example.lg.jp",
        "trust": {"service_public_key": KEY},
        "readers": [{"name": "shoko", "driver": "pcsc:Sony",
                     "doors": [{"door_id": 1, "name": "書庫"}]}],
    }
    data.update(overrides)
    return SiteConfig.model_validate(data)


@pytest.mark.parametrize("uri,expected", [
    ("pcsc:", ("pcsc", "")),
    ("pcsc:Sony", ("pcsc", "Sony")),
    ("pcsc:SONY FeliCa RC-S300/P", ("pcsc", "SONY FeliCa RC-S300/P")),
    ("nfc:usb", ("nfc", "usb")),
    ("nfc:usb:054c:06c3", ("nfc", "usb:054c:06c3")),
    ("nfc:udp:127.0.0.1:54321", ("nfc", "udp:127.0.0.1:54321")),
    ("nfc:tty:ttyUSB0:pn532", ("nfc", "tty:ttyUSB0:pn532")),
    ("sim:shoko", ("sim", "shoko")),
])
def test_driver_uris(uri: str, expected: tuple[str, str]) -> None:
    assert parse_driver_uri(uri) == expected


@pytest.mark.parametrize("uri", ["", "usb", "nfc:", "nfc:udp:host", "sim:", "serial:/dev/x",
                                 "nfc:usb:zz"])
def test_bad_driver_uris(uri: str) -> None:
    with pytest.raises(ValueError, match="card driver URI"):
        parse_driver_uri(uri)


def test_reader_inherits_site_settings_and_can_override() -> None:
    s = site(readers=[
        {"name": "a", "driver": "sim:a", "doors": [{"door_id": 1, "name": "A"}]},
        {"name": "b", "driver": "sim:b", "doors": [{"door_id": 2, "name": "B"}],
         "offline": {"max_offline_age_hours": 12}, "staff_ap_aid": "f0 4d 4e 47 41 54 45 09"},
    ])
    a, b = s.reader_configs()
    assert a.service_url == "https://gate.example.lg.jp"
    assert a.offline.max_offline_age_hours == 72.0
    assert a.staff_ap_aid == DEFAULT_STAFF_AP_AID
    assert b.offline.max_offline_age_hours == 12
    assert b.staff_ap_aid == "F04D4E4741544509"
    assert a.trust.service_public_key == KEY


def test_extra_fields_are_forbidden_everywhere() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        site(colour="red")
    with pytest.raises(ValidationError, match="Extra inputs"):
        DoorConfig.model_validate({"door_id": 1, "name": "x", "unlock_secs": 5})
    with pytest.raises(ValidationError, match="Extra inputs"):
        site(trust={"service_public_key": KEY, "ca": []})


def test_trust_anchor_must_be_an_ed25519_key() -> None:
    with pytest.raises(ValidationError, match="32 bytes"):
        TrustAnchors(service_public_key=base64.b64encode(b"short").decode())
    with pytest.raises(ValidationError, match="base64"):
        TrustAnchors(service_public_key="not base64!")
    with pytest.raises(ValidationError, match="PEM"):
        TrustAnchors(service_public_key=KEY, jpki_ca_certs=["-----BEGIN CERTIFICATE-----"])


def test_gpio_doors_need_a_relay_pin_and_distinct_pins() -> None:
    with pytest.raises(ValidationError, match="needs relay_pin"):
        ReaderEntry.model_validate({"name": "x", "driver": "sim:x", "door_io": "gpio",
                                    "doors": [{"door_id": 1, "name": "A"}]})
    with pytest.raises(ValidationError, match="used twice"):
        ReaderEntry.model_validate({"name": "x", "driver": "sim:x", "door_io": "gpio", "doors": [
            {"door_id": 1, "name": "A", "relay_pin": 17},
            {"door_id": 2, "name": "B", "relay_pin": 18, "sensor_pin": 17}]})
    with pytest.raises(ValidationError, match="BCM"):
        DoorConfig.model_validate({"door_id": 1, "name": "A", "relay_pin": 99})
    # a clock point needs no strike
    ok = ReaderEntry.model_validate({"name": "x", "driver": "sim:x", "door_io": "gpio",
                                     "doors": [{"door_id": 1, "name": "A", "mode": "clock"}]})
    assert not ok.doors[0].has_strike


def test_fail_open_list() -> None:
    s = site(readers=[{"name": "a", "driver": "sim:a", "doors": [
        {"door_id": 1, "name": "休日通用口", "fail_open": True},
        {"door_id": 2, "name": "書庫"},
        {"door_id": 3, "name": "打刻", "mode": "clock"}]}])
    assert s.reader_config("a").fail_open_doors() == frozenset({1})
    s2 = site(offline={"fail_open": True}, readers=s.model_dump()["readers"])
    assert s2.reader_config("a").fail_open_doors() == frozenset({1, 2})


def test_duplicate_names_and_bad_codes() -> None:
    r = {"name": "a", "driver": "sim:a", "doors": [{"door_id": 1, "name": "A"}]}
    with pytest.raises(ValidationError, match="appears twice"):
        site(readers=[r, r])
    with pytest.raises(ValidationError, match="municipality_code"):
        site(municipality_code="37322")
    with pytest.raises(KeyError):
        site().reader_config("nope")


def test_locks() -> None:
    lk = LockConfig(lock_id="aso-gym-01", name="体育館", kind="online", poll_interval_seconds=60)
    assert lk.early_grace_slots == 1 and lk.late_grace_slots == 1
    with pytest.raises(ValidationError, match="never polled"):
        LockConfig(lock_id="k", name="鍵箱", kind="offline", poll_interval_seconds=60)
