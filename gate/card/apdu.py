"""ISO 7816-4 short APDUs, and the guard that keeps the individual number out of reach.

Building::

    select_aid(aid)             00 A4 04 0C Lc <AID>        (refuses the never-select list)
    select_file(fid)            00 A4 02 0C 02 <FID>
    read_binary(offset, le)     00 B0 <off_hi> <off_lo> <Le>  (Le 00 = up to 256)

Every command built here, and every raw command a driver is asked to send, goes through
:func:`check_command`. It raises :class:`ForbiddenApplication` for a SELECT by DF name that
could reach 券面事項入力補助AP, 券面AP or 住基AP — the applications that hold the 12-digit
individual number, name and address. The check runs before a single byte reaches a reader.

Errors::

    ValueError
     ├── ApduError              a command that cannot be encoded (bad lengths, bad fields)
     ├── ForbiddenApplication   a SELECT of a never-select application (refused, never sent)
     └── ResponseError          a response APDU that cannot be parsed (fewer than 2 bytes, …)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FORBIDDEN_AIDS",
    "SW_OK",
    "ApduError",
    "CommandAPDU",
    "ForbiddenApplication",
    "ResponseAPDU",
    "ResponseError",
    "check_command",
    "is_forbidden_select",
    "parse_response",
    "read_binary",
    "redact",
    "select_aid",
    "select_file",
    "sw_text",
]

SW_OK = 0x9000

# The card applications that hold the individual number or the card face. Never selected.
FORBIDDEN_AIDS: dict[str, bytes] = {
    "券面事項入力補助AP": bytes.fromhex("D3921000310001010408"),
    "券面AP": bytes.fromhex("D3921000310001010402"),
    "住基AP": bytes.fromhex("D3921000310001010401"),
}

INS_SELECT = 0xA4


class ApduError(ValueError):
    """A command APDU that cannot be encoded."""


class ForbiddenApplication(ValueError):
    """A SELECT of an application on the never-select list. Nothing was sent to the card."""


class ResponseError(ValueError):
    """A response APDU (or its data) that cannot be parsed."""


def is_forbidden_select(apdu: bytes) -> str | None:
    """Return the name of the never-select application ``apdu`` could select, else None.

    Any CLA (secure messaging and logical channels included) and any P2 count: a SELECT by DF
    name (P1 = 04) is refused when its AID equals a forbidden AID, is a prefix of one (partial
    DF-name selection), or extends one. A SELECT by DF name with no AID data is allowed (it
    selects the MF / default application). A command too short to carry data is not a select.
    """
    if len(apdu) < 5 or apdu[1] != INS_SELECT or apdu[2] != 0x04:
        return None
    lc = apdu[4]
    if lc == 0:
        # Possibly extended length (00 Lc1 Lc2): look at everything after the header.
        name = apdu[7:] if len(apdu) > 7 else b""
    else:
        name = apdu[5 : 5 + lc]
    if not name:
        return None
    for label, aid in FORBIDDEN_AIDS.items():
        if aid.startswith(name) or name.startswith(aid):
            return label
    return None


def check_command(apdu: bytes) -> None:
    """Raise :class:`ForbiddenApplication` if ``apdu`` could select a never-select application."""
    label = is_forbidden_select(bytes(apdu))
    if label is not None:
        raise ForbiddenApplication(f"refused to SELECT {label}: it holds the individual number")


def redact(apdu: bytes) -> bytes:
    """``apdu`` with the data of a VERIFY (INS 20) replaced by ``2A`` ('*') bytes, for traces
    and logs: a PIN never appears in either."""
    apdu = bytes(apdu)
    if len(apdu) > 5 and apdu[1] == 0x20:
        return apdu[:5] + b"*" * (len(apdu) - 5)
    return apdu


@dataclass(frozen=True)
class CommandAPDU:
    """A short command APDU (Lc ≤ 255, Le ≤ 256; ``le=None`` means no Le byte)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise ApduError(f"{name} must be one byte, got {value}")
        if len(self.data) > 255:
            raise ApduError(f"data is {len(self.data)} bytes; short APDUs carry at most 255")
        if self.le is not None and not 0 <= self.le <= 256:
            raise ApduError(f"Le must be 0..256, got {self.le}")
        check_command(self.to_bytes())

    def to_bytes(self) -> bytes:
        out = bytes([self.cla, self.ins, self.p1, self.p2])
        if self.data:
            out += bytes([len(self.data)]) + self.data
        if self.le is not None:
            out += bytes([self.le & 0xFF])  # 256 is encoded as 00
        return out


@dataclass(frozen=True)
class ResponseAPDU:
    data: bytes
    sw1: int
    sw2: int

    @property
    def sw(self) -> int:
        return (self.sw1 << 8) | self.sw2

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK

    def __str__(self) -> str:
        return f"{len(self.data)} bytes, SW {self.sw:04X} ({sw_text(self.sw)})"


def parse_response(raw: bytes) -> ResponseAPDU:
    """Split a response into data and SW1 SW2; fewer than two bytes is a ResponseError."""
    raw = bytes(raw)
    if len(raw) < 2:
        raise ResponseError(f"response of {len(raw)} bytes has no status word")
    if len(raw) > 258:
        raise ResponseError(f"response of {len(raw)} bytes is longer than a short APDU allows")
    sw1 = raw[-2]
    if not (0x61 <= sw1 <= 0x6F or 0x90 <= sw1 <= 0x9F):
        raise ResponseError(f"SW1 {sw1:02X} is not a status byte")
    return ResponseAPDU(raw[:-2], sw1, raw[-1])


_SW_TEXT = {
    0x9000: "ok",
    0x6282: "end of file reached before Le bytes",
    0x6700: "wrong length",
    0x6982: "security status not satisfied",
    0x6983: "authentication method blocked",
    0x6984: "reference data not usable",
    0x6985: "conditions of use not satisfied",
    0x6986: "command not allowed (no current EF)",
    0x6A81: "function not supported",
    0x6A82: "file or application not found",
    0x6A86: "incorrect P1-P2",
    0x6B00: "wrong parameters (offset outside the EF)",
    0x6D00: "instruction not supported",
    0x6E00: "class not supported",
}


def sw_text(sw: int) -> str:
    """A short English description of a status word."""
    if sw in _SW_TEXT:
        return _SW_TEXT[sw]
    if sw & 0xFFF0 == 0x63C0:
        return f"verification failed, {sw & 0x0F} tries left"
    if sw >> 8 == 0x61:
        return f"{sw & 0xFF or 256} more bytes available"
    if sw >> 8 == 0x6C:
        return f"wrong Le, exact length {sw & 0xFF or 256}"
    return "unexpected status"


def select_aid(aid: bytes) -> CommandAPDU:
    """SELECT by DF name, no FCI returned: ``00 A4 04 0C Lc <AID>``."""
    if not 5 <= len(aid) <= 16:
        raise ApduError(f"an AID is 5 to 16 bytes, got {len(aid)}")
    return CommandAPDU(0x00, INS_SELECT, 0x04, 0x0C, bytes(aid))


def select_file(fid: bytes) -> CommandAPDU:
    """SELECT EF by file identifier under the current DF: ``00 A4 02 0C 02 <FID>``."""
    if len(fid) != 2:
        raise ApduError(f"a file identifier is 2 bytes, got {len(fid)}")
    return CommandAPDU(0x00, INS_SELECT, 0x02, 0x0C, bytes(fid))


def read_binary(offset: int = 0, le: int = 256) -> CommandAPDU:
    """READ BINARY of the current EF from ``offset`` (0..32767), ``le`` bytes (256 → Le 00)."""
    if not 0 <= offset <= 0x7FFF:
        raise ApduError(f"READ BINARY offset must be 0..32767, got {offset}")
    if not 1 <= le <= 256:
        raise ApduError(f"READ BINARY Le must be 1..256, got {le}")
    return CommandAPDU(0x00, 0xB0, offset >> 8, offset & 0xFF, le=le)
