"""The staff card AP, version 1 (docs/card-protocol.md is the specification).

Credential record (EF ``00 01``, 89 bytes)::

    [0]      version      01
    [1:7]    issuer code  6 ASCII digits (全国地方公共団体コード)
    [7:23]   credential id, 16 random bytes
    [23]     algorithm    01 = ECDSA P-256 / SHA-256
    [24:89]  public key   65 bytes, uncompressed SEC1 (04 ‖ X ‖ Y)

INTERNAL AUTHENTICATE ``00 88 00 00 20 <challenge> 00`` returns the DER ECDSA signature over
SHA-256("MNGATE-AUTH-v1" ‖ credential id ‖ challenge): the card hashes once, a verifier calls
``verify(sig, AUTH_PREFIX + credential_id + challenge, ECDSA(SHA256()))``.

The reader's challenge is SHA-256(16-byte nonce ‖ reader id (UTF-8) ‖ unix time as 8-byte
big-endian seconds), fresh for every tap.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from .apdu import CommandAPDU, ResponseError, read_binary, select_aid, select_file

__all__ = [
    "ALG_ECDSA_P256_SHA256",
    "AUTH_PREFIX",
    "CHALLENGE_LENGTH",
    "CREDENTIAL_FID",
    "CREDENTIAL_ID_LENGTH",
    "DEFAULT_AID",
    "NONCE_LENGTH",
    "RECORD_LENGTH",
    "VERSION",
    "CredentialRecord",
    "auth_message",
    "internal_authenticate",
    "make_challenge",
    "parse_aid",
    "read_credential",
    "select_ap",
    "select_credential_file",
    "verify_signature",
]

DEFAULT_AID = bytes.fromhex("F04D4E4741544501")
CREDENTIAL_FID = bytes.fromhex("0001")
VERSION = 0x01
ALG_ECDSA_P256_SHA256 = 0x01
RECORD_LENGTH = 89
CREDENTIAL_ID_LENGTH = 16
CHALLENGE_LENGTH = 32
NONCE_LENGTH = 16
AUTH_PREFIX = b"MNGATE-AUTH-v1"


@dataclass(frozen=True)
class CredentialRecord:
    """The 89-byte credential file of a staff card AP v1."""

    issuer_code: str
    credential_id: bytes
    public_key: bytes
    version: int = VERSION
    algorithm: int = ALG_ECDSA_P256_SHA256

    @property
    def credential_ref(self) -> str:
        """How the service and the snapshot name this credential: hex of the credential id."""
        return self.credential_id.hex()

    def to_bytes(self) -> bytes:
        if len(self.issuer_code) != 6 or not self.issuer_code.isascii() \
                or not self.issuer_code.isdigit():
            raise ValueError("issuer code must be 6 ASCII digits")
        if len(self.credential_id) != CREDENTIAL_ID_LENGTH:
            raise ValueError("credential id must be 16 bytes")
        if len(self.public_key) != 65 or self.public_key[0] != 0x04:
            raise ValueError("public key must be a 65-byte uncompressed SEC1 point")
        return (bytes([self.version]) + self.issuer_code.encode("ascii") + self.credential_id
                + bytes([self.algorithm]) + self.public_key)

    @classmethod
    def parse(cls, raw: bytes) -> CredentialRecord:
        """Parse and check a credential record; any deviation is a ResponseError."""
        raw = bytes(raw)
        if len(raw) != RECORD_LENGTH:
            raise ResponseError(f"credential record is {len(raw)} bytes, expected 89")
        if raw[0] != VERSION:
            raise ResponseError(f"credential record version {raw[0]:02X} is not supported")
        issuer = raw[1:7]
        if not all(0x30 <= b <= 0x39 for b in issuer):
            raise ResponseError("issuer code is not 6 ASCII digits")
        if raw[23] != ALG_ECDSA_P256_SHA256:
            raise ResponseError(f"algorithm {raw[23]:02X} is not supported")
        key = raw[24:89]
        if key[0] != 0x04:
            raise ResponseError("public key is not an uncompressed SEC1 point")
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key)
        except ValueError as err:
            raise ResponseError("public key is not a point on P-256") from err
        return cls(issuer.decode("ascii"), raw[7:23], key, raw[0], raw[23])


def parse_aid(text: str) -> bytes:
    """An AID from hex text (spaces and colons allowed), 5 to 16 bytes."""
    raw = bytes.fromhex(text.replace(":", "").replace(" ", ""))
    if not 5 <= len(raw) <= 16:
        raise ValueError(f"an AID is 5 to 16 bytes, got {len(raw)}")
    return raw


def make_challenge(nonce: bytes, reader_id: str, unix_time: int) -> bytes:
    """The reader's challenge: SHA-256(nonce ‖ reader id ‖ unix time, 8 bytes big-endian)."""
    if len(nonce) != NONCE_LENGTH:
        raise ValueError("the nonce is 16 bytes")
    return hashlib.sha256(nonce + reader_id.encode("utf-8")
                          + unix_time.to_bytes(8, "big", signed=True)).digest()


def auth_message(credential_id: bytes, challenge: bytes) -> bytes:
    """The message the card signs (hashed once, with SHA-256, by ECDSA)."""
    return AUTH_PREFIX + credential_id + challenge


def verify_signature(public_key: bytes, credential_id: bytes, challenge: bytes,
                     signature: bytes) -> bool:
    """True when ``signature`` is the card's answer to ``challenge`` under ``public_key``.

    ``public_key`` must be the *enrolled* SEC1 key, never the one the card presents.
    """
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes(public_key))
        key.verify(bytes(signature), auth_message(credential_id, challenge),
                   ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def select_ap(aid: bytes = DEFAULT_AID) -> CommandAPDU:
    return select_aid(aid)


def select_credential_file() -> CommandAPDU:
    return select_file(CREDENTIAL_FID)


def read_credential(offset: int = 0) -> CommandAPDU:
    """``00 B0 <offset> 00``: the rest of the record from ``offset``."""
    return read_binary(offset, 256)


def internal_authenticate(challenge: bytes) -> CommandAPDU:
    """``00 88 00 00 20 <challenge> 00``."""
    if len(challenge) != CHALLENGE_LENGTH:
        raise ValueError("the challenge is 32 bytes")
    return CommandAPDU(0x00, 0x88, 0x00, 0x00, bytes(challenge), le=256)
