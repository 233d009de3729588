"""The JPKI AP subset used for card+PIN doors (公的個人認証, user-authentication key only).

Sequence (OpenSC card-jpki.c, jpki/myna)::

    SELECT AID D3 92 F0 00 26 01 00 00 00 01
    SELECT EF 00 0A, READ BINARY 7 bytes, parse the DER length, read the rest (≤256 a time)
    SELECT EF 00 18, 00 20 00 80            → 63 Cx, x = PIN tries left (69 83: blocked)
    00 20 00 80 04 <4 ASCII digits>         → 90 00 | 63 Cx | 69 83 (blocked)
    SELECT EF 00 17, 80 2A 00 80 Lc <DigestInfo(SHA-256)> 00 → 256-byte PKCS#1 v1.5 signature

Only the authentication certificate (no PIN needed to read it) and the authentication key
are used. The signature certificate, its password and the token file are never touched.
"""

from __future__ import annotations

from .apdu import CommandAPDU, ResponseAPDU, ResponseError, read_binary, select_aid, select_file

__all__ = [
    "AID",
    "AUTH_PIN_TRIES",
    "EF_AUTH_CA",
    "EF_AUTH_CERT",
    "EF_AUTH_KEY",
    "EF_AUTH_PIN",
    "PIN_LENGTH",
    "SHA256_DIGEST_INFO_PREFIX",
    "compute_signature",
    "der_total_length",
    "digest_info_sha256",
    "digest_from_digest_info",
    "is_valid_pin",
    "pin_tries_left",
    "select_jpki",
    "verify_pin",
    "verify_status",
    "verify_template",
]

AID = bytes.fromhex("D392F000260100000001")
EF_AUTH_CERT = bytes.fromhex("000A")
EF_AUTH_CA = bytes.fromhex("000B")
EF_AUTH_KEY = bytes.fromhex("0017")
EF_AUTH_PIN = bytes.fromhex("0018")
AUTH_PIN_TRIES = 3
HEADER_READ = 7  # enough for a tag and a length of up to 4 bytes

# DER of DigestInfo { AlgorithmIdentifier { sha256, NULL }, OCTET STRING (32) } minus the digest.
SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def select_jpki() -> CommandAPDU:
    return select_aid(AID)


def select_ef(fid: bytes) -> CommandAPDU:
    return select_file(fid)


def read_chunk(offset: int, length: int) -> CommandAPDU:
    return read_binary(offset, length)


def verify_status() -> CommandAPDU:
    """``00 20 00 80`` with no data: asks for the tries left without spending one."""
    return CommandAPDU(0x00, 0x20, 0x00, 0x80)


PIN_LENGTH = 4
_VERIFY_HEADER = bytes((0x00, 0x20, 0x00, 0x80, PIN_LENGTH))


def is_valid_pin(pin: str | bytes | bytearray) -> bool:
    """The user-authentication PIN is exactly 4 ASCII digits."""
    digits = pin.encode("utf-8") if isinstance(pin, str) else bytes(pin)
    return len(digits) == PIN_LENGTH and all(0x30 <= b <= 0x39 for b in digits)


def verify_pin(pin: bytes | bytearray) -> bytearray:
    """``00 20 00 80 04 <ASCII PIN>`` in a new bytearray, so the caller can zero it once it is
    sent. The PIN is never logged: neither may the command be."""
    if not is_valid_pin(pin):
        raise ValueError("the JPKI user-authentication PIN is 4 digits")
    return bytearray(_VERIFY_HEADER) + pin


def verify_template() -> bytes:
    """The VERIFY with its 4-byte PIN block zeroed: what a PIN-pad reader completes itself
    (secure PIN entry), so the PIN never reaches the host."""
    return _VERIFY_HEADER + bytes(PIN_LENGTH)


def pin_tries_left(response: ResponseAPDU) -> int | None:
    """Tries left from a VERIFY answer: ``63 Cx`` → x, ``69 83`` (blocked) → 0.

    ``90 00`` means "verified" (no count given) and returns None; any other status word is a
    ResponseError.
    """
    if response.sw1 == 0x63 and response.sw2 & 0xF0 == 0xC0:
        return response.sw2 & 0x0F
    if response.sw == 0x6983:
        return 0
    if response.sw == 0x9000:
        return None
    raise ResponseError(f"VERIFY answered SW {response.sw:04X}")


def digest_info_sha256(digest: bytes) -> bytes:
    if len(digest) != 32:
        raise ValueError("a SHA-256 digest is 32 bytes")
    return SHA256_DIGEST_INFO_PREFIX + digest


def digest_from_digest_info(digest_info: bytes) -> bytes:
    """The SHA-256 digest inside a DigestInfo; ResponseError for any other encoding."""
    if len(digest_info) != len(SHA256_DIGEST_INFO_PREFIX) + 32 or not digest_info.startswith(
            SHA256_DIGEST_INFO_PREFIX):
        raise ResponseError("not a SHA-256 DigestInfo")
    return digest_info[len(SHA256_DIGEST_INFO_PREFIX):]


def compute_signature(digest_info: bytes) -> CommandAPDU:
    """``80 2A 00 80 Lc <DigestInfo> 00``: sign with the selected key (EF 00 17)."""
    return CommandAPDU(0x80, 0x2A, 0x00, 0x80, digest_info, le=256)


def der_total_length(header: bytes) -> int:
    """Total length (tag + length + content) of the DER object ``header`` starts.

    Needs the tag and the full length field (at most 7 bytes for these files). Only
    single-byte tags and definite lengths up to 4 length bytes are accepted.
    """
    if len(header) < 2:
        raise ResponseError("DER header shorter than 2 bytes")
    if header[0] & 0x1F == 0x1F:
        raise ResponseError("multi-byte DER tags are not expected here")
    first = header[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if count == 0 or count > 4:
        raise ResponseError(f"unsupported DER length form {first:02X}")
    if len(header) < 2 + count:
        raise ResponseError("DER length field truncated")
    length = int.from_bytes(header[2 : 2 + count], "big")
    return 2 + count + length
