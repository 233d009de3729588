"""docs/pin-test-vectors.json against the issuer (gate.pin) and the key-box firmware."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate.pin import PinWindow, derive_lock_key, issue_pin, verify_pin
from reader_agent.lock_emulator.firmware import firmware_lock_key, firmware_pin, firmware_verify

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "docs" / "pin-test-vectors.json")
                     .read_text(encoding="utf-8"))
REFERENCE = [("aso-gym-01", 0, 1994444, 8, 0, "4231144208"),
             ("aso-gym-01", 0, 1994444, 8, 1, "4231771710"),
             ("aso-keybox-07", 3, 1994500, 96, 2, "0479014666")]


def test_vectors_include_the_reference_examples():
    master = bytes(range(32)).hex()
    got = {(v["lock_id"], v["generation"], v["start_slot"], v["duration_slots"], v["variant"],
            v["pin"]) for v in VECTORS if v["master_hex"] == master}
    assert set(REFERENCE) <= got
    assert len(VECTORS) >= 10


@pytest.mark.parametrize("v", VECTORS, ids=lambda v: v["pin"])
def test_issuer(v):
    key = derive_lock_key(bytes.fromhex(v["master_hex"]), v["lock_id"], v["generation"])
    w = PinWindow(v["start_slot"], v["duration_slots"], v["variant"])
    assert issue_pin(key, v["lock_id"], v["generation"], w) == v["pin"]
    # the issuer's verifier accepts it at its start and names the same variant
    assert verify_pin(key, v["lock_id"], v["generation"], v["pin"], v["start_slot"]) == w


@pytest.mark.parametrize("v", VECTORS, ids=lambda v: v["pin"])
def test_lock_emulator_firmware(v):
    key = firmware_lock_key(bytes.fromhex(v["master_hex"]), v["lock_id"], v["generation"])
    assert key == derive_lock_key(bytes.fromhex(v["master_hex"]), v["lock_id"], v["generation"])
    args = (v["start_slot"], v["duration_slots"], v["variant"])
    assert firmware_pin(key, v["lock_id"], v["generation"], *args) == v["pin"]
    # last accepted slot with grace 1/1; a 96-slot window loses its last two (docs/pin-spec.md)
    last = min(v["start_slot"] + v["duration_slots"], v["start_slot"] + 94)
    for n in (v["start_slot"] - 1, v["start_slot"], last):
        assert firmware_verify(key, v["lock_id"], v["generation"], v["pin"], n) == args
    for n in (v["start_slot"] - 2, last + 1):
        assert firmware_verify(key, v["lock_id"], v["generation"], v["pin"], n) is None


def test_reference_validity_example():
    """First example PIN opens from 10:45 UTC up to, not including, 13:15 UTC (2026-11-18)."""
    from datetime import UTC, datetime

    key = derive_lock_key(bytes(range(32)), "aso-gym-01", 0)

    def at(h: int, m: int) -> int:
        return int(datetime(2026, 11, 18, h, m, tzinfo=UTC).timestamp()) // 900

    assert at(11, 0) == 1994444
    ok = [verify_pin(key, "aso-gym-01", 0, "4231144208", at(h, m)) is not None
          for h, m in ((10, 30), (10, 45), (13, 0), (13, 15))]
    assert ok == [False, True, True, False]
    # one wrong digit fails
    assert verify_pin(key, "aso-gym-01", 0, "4231144209", at(11, 0)) is None
    # another lock or generation does not open
    other = derive_lock_key(bytes(range(32)), "aso-gym-02", 0)
    assert verify_pin(other, "aso-gym-02", 0, "4231144208", at(11, 0)) is None
