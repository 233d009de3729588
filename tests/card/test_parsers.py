"""gate.card parsers: round trips, and hypothesis fuzzing (only ResponseError may escape)."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from gate.card import jpki
from gate.card.apdu import (
    ApduError,
    CommandAPDU,
    ResponseAPDU,
    ResponseError,
    parse_response,
    read_binary,
    redact,
    select_file,
)
from gate.card.staff_ap import CredentialRecord, internal_authenticate, make_challenge

KEY = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
    serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def test_record_round_trip():
    cid = os.urandom(16)
    rec = CredentialRecord("372153", cid, KEY)
    raw = rec.to_bytes()
    assert len(raw) == 89 and raw[0] == 1 and raw[1:7] == b"372153" and raw[7:23] == cid
    assert raw[23] == 1 and raw[24:] == KEY
    assert CredentialRecord.parse(raw) == rec


@pytest.mark.parametrize("index,value", [(0, 2), (1, ord("A")), (23, 2), (24, 3)])
def test_record_field_checks(index, value):
    raw = bytearray(CredentialRecord("372153", b"\x11" * 16, KEY).to_bytes())
    raw[index] = value
    with pytest.raises(ResponseError):
        CredentialRecord.parse(bytes(raw))


def test_record_key_not_on_curve():
    raw = CredentialRecord("372153", b"\x11" * 16, KEY).to_bytes()
    with pytest.raises(ResponseError):
        CredentialRecord.parse(raw[:24] + b"\x04" + b"\x01" * 64)


def test_exact_command_bytes():
    assert internal_authenticate(b"\xab" * 32).to_bytes() == \
        bytes.fromhex("0088000020") + b"\xab" * 32 + b"\x00"
    assert select_file(b"\x00\x01").to_bytes() == bytes.fromhex("00A4020C020001")
    assert read_binary(0, 256).to_bytes() == bytes.fromhex("00B0000000")
    assert read_binary(0x123, 7).to_bytes() == bytes.fromhex("00B0012307")
    assert jpki.verify_status().to_bytes() == bytes.fromhex("00200080")
    assert jpki.compute_signature(jpki.digest_info_sha256(b"\x00" * 32)).to_bytes()[:5] == \
        bytes.fromhex("802A008033")


def test_command_field_limits():
    with pytest.raises(ApduError):
        CommandAPDU(0x100, 0, 0, 0)
    with pytest.raises(ApduError):
        CommandAPDU(0, 0, 0, 0, b"\x00" * 256)
    with pytest.raises(ApduError):
        read_binary(0x8000)


def test_challenge_is_fresh_per_input():
    a = make_challenge(b"\x00" * 16, "r-1", 1)
    assert len(a) == 32
    assert a != make_challenge(b"\x00" * 16, "r-1", 2)
    assert a != make_challenge(b"\x00" * 16, "r-2", 1)
    assert a != make_challenge(b"\x01" + b"\x00" * 15, "r-1", 1)


def test_pin_tries():
    assert jpki.pin_tries_left(ResponseAPDU(b"", 0x63, 0xC2)) == 2
    assert jpki.pin_tries_left(ResponseAPDU(b"", 0x69, 0x83)) == 0
    assert jpki.pin_tries_left(ResponseAPDU(b"", 0x90, 0x00)) is None
    with pytest.raises(ResponseError):
        jpki.pin_tries_left(ResponseAPDU(b"", 0x6A, 0x82))


def test_redact_hides_verify_data():
    assert redact(bytes(jpki.verify_pin(b"4821"))) == bytes.fromhex("0020008004") + b"****"
    assert jpki.verify_template() == bytes.fromhex("002000800400000000")
    assert not jpki.is_valid_pin(b"48a1") and not jpki.is_valid_pin("４８２１")
    assert redact(b"\x00\xb0\x00\x00\x00") == b"\x00\xb0\x00\x00\x00"


def test_der_length_forms():
    assert jpki.der_total_length(bytes.fromhex("3003")) == 5
    with pytest.raises(ResponseError):
        jpki.der_total_length(bytes.fromhex("308203"))  # length field cut short
    assert jpki.der_total_length(bytes.fromhex("30820313")) == 4 + 0x313


@given(st.binary(max_size=400))
def test_parse_response_fuzz(raw):
    try:
        r = parse_response(raw)
    except ResponseError:
        assert len(raw) < 2 or len(raw) > 258 or not (0x61 <= raw[-2] <= 0x6F
                                                      or 0x90 <= raw[-2] <= 0x9F)
        return
    assert r.data + bytes([r.sw1, r.sw2]) == raw


@given(st.binary(max_size=120))
def test_record_parse_fuzz(raw):
    try:
        rec = CredentialRecord.parse(raw)
    except ResponseError:
        return
    assert rec.to_bytes() == raw


@given(st.binary(max_size=10))
def test_der_length_fuzz(raw):
    try:
        n = jpki.der_total_length(raw)
    except ResponseError:
        return
    assert n >= 2


@given(st.binary(max_size=80))
def test_digest_info_fuzz(raw):
    try:
        d = jpki.digest_from_digest_info(raw)
    except ResponseError:
        return
    assert jpki.digest_info_sha256(d) == raw


@given(st.integers(0, 255), st.integers(0, 255))
def test_pin_tries_fuzz(sw1, sw2):
    try:
        n = jpki.pin_tries_left(ResponseAPDU(b"", sw1, sw2))
    except ResponseError:
        return
    assert n is None or 0 <= n <= 15
