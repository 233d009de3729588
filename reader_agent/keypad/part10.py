"""PC/SC Part 10 (v2.02.09) byte formats for secure PIN entry — pure, no I/O.

``CM_IOCTL_GET_FEATURE_REQUEST`` (``SCARD_CTL_CODE(3400)``) answers a list of TLV
``tag (1) ‖ length (1, = 4) ‖ control code (4, big-endian)``; tag ``06`` is
``FEATURE_VERIFY_PIN_DIRECT``. Sending a ``PIN_VERIFY_STRUCTURE`` to that control code makes
the reader take the PIN on its own keypad, put it into the APDU template and send the VERIFY
to the card: the PIN never reaches the host.

``PIN_VERIFY_STRUCTURE`` (Part 10 §2.5.2; multi-byte fields little-endian)::

    offset size field
     0     1    bTimerOut                 seconds to wait for the first key (0: reader default)
     1     1    bTimerOut2                seconds after the first key
     2     1    bmFormatString            b7 units (1 = bytes), b6-3 PIN position in the APDU
                                          data, b2 justification (0 = left), b1-0 format
                                          (00 binary, 01 BCD, 10 ASCII)
     3     1    bmPINBlockString          b7-4 bits of a PIN length field (0 = none),
                                          b3-0 PIN block size in bytes
     4     1    bmPINLengthFormat         b4 units, b3-0 position of the PIN length field
     5     2    wPINMaxExtraDigit         0xXXYY: XX minimum, YY maximum PIN digits
     7     1    bEntryValidationCondition 02 = the validation (OK) key
     8     1    bNumberMessage            01 = one message ("enter PIN")
     9     2    wLangId                   0x0411 Japanese, 0x0409 English
    11     1    bMsgIndex                 00
    12     3    bTeoPrologue              00 00 00 (T=1 prologue, filled by the reader)
    15     4    ulDataLength              length of abData
    19     n    abData                    the command APDU template (header, Lc, PIN block)

Reader answers of its own (CCID): ``64 00`` timeout, ``64 01`` cancelled, ``6B 80`` invalid
parameter in the structure.
"""

from __future__ import annotations

__all__ = [
    "CM_IOCTL_GET_FEATURE_REQUEST_FUNCTION",
    "FEATURE_VERIFY_PIN_DIRECT",
    "LANG_EN",
    "LANG_JA",
    "SW_CANCELLED",
    "SW_TIMEOUT",
    "parse_features",
    "pin_verify_structure",
]

CM_IOCTL_GET_FEATURE_REQUEST_FUNCTION = 3400  # SCARD_CTL_CODE(3400)
FEATURE_VERIFY_PIN_DIRECT = 0x06
LANG_JA = 0x0411
LANG_EN = 0x0409
SW_TIMEOUT = 0x6400
SW_CANCELLED = 0x6401

FORMAT_ASCII = 0x02
UNITS_BYTES = 0x80
VALIDATE_WITH_OK_KEY = 0x02


def parse_features(tlv: bytes) -> dict[int, int]:
    """``{feature tag: control code}`` from a GET_FEATURE_REQUEST answer.

    :raises ValueError: a truncated entry or a length other than 4.
    """
    features: dict[int, int] = {}
    i = 0
    while i < len(tlv):
        if i + 2 > len(tlv) or tlv[i + 1] != 4 or i + 6 > len(tlv):
            raise ValueError(f"malformed feature list at byte {i}")
        features[tlv[i]] = int.from_bytes(tlv[i + 2:i + 6], "big")
        i += 6
    return features


def pin_verify_structure(template: bytes, *, pin_offset: int, block_size: int,
                         min_digits: int, max_digits: int, timeout_s: int,
                         lang_id: int = LANG_JA) -> bytes:
    """A PIN_VERIFY_STRUCTURE for an ASCII PIN left-justified at ``pin_offset`` bytes into
    the data field of ``template`` (a short command APDU with Lc and a placeholder block)."""
    if len(template) < 5 + pin_offset + block_size or template[4] != len(template) - 5:
        raise ValueError("the template is header ‖ Lc ‖ data holding the PIN block")
    if not 0 <= pin_offset <= 15 or not 1 <= block_size <= 15:
        raise ValueError("PIN position 0-15 and block size 1-15 bytes")
    if not 1 <= min_digits <= max_digits <= block_size or not 0 <= timeout_s <= 255:
        raise ValueError("1 ≤ min ≤ max ≤ block size digits; timeout 0-255 s")
    return bytes([
        timeout_s, timeout_s,
        UNITS_BYTES | pin_offset << 3 | FORMAT_ASCII,
        block_size,
        0x00,
        *((min_digits << 8) | max_digits).to_bytes(2, "little"),
        VALIDATE_WITH_OK_KEY,
        0x01,
        *lang_id.to_bytes(2, "little"),
        0x00,
        0x00, 0x00, 0x00,
        *len(template).to_bytes(4, "little"),
    ]) + bytes(template)
