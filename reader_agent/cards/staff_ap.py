"""A virtual staff card AP v1 (docs/card-protocol.md), with a real ECDSA P-256 key."""

from __future__ import annotations

import os
import threading

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gate.card.staff_ap import (
    CHALLENGE_LENGTH,
    CREDENTIAL_FID,
    DEFAULT_AID,
    CredentialRecord,
    auth_message,
)

from .base import (
    SW_CLA,
    SW_EOF,
    SW_INS,
    SW_NO_CURRENT_EF,
    SW_NOT_FOUND,
    SW_NOT_SELECTED,
    SW_OFFSET,
    SW_OK,
    SW_WRONG_LENGTH,
    SW_WRONG_P1P2,
    VirtualCard,
    parse_command,
)

__all__ = ["VirtualStaffCard"]


class VirtualStaffCard(VirtualCard):
    """The staff card AP v1 as a card would run it.

    ``max_read`` caps the bytes one READ BINARY returns (a card that answers in chunks), to
    check that readers follow the spec rather than this card.
    """

    kind = "staff_ap"

    def __init__(self, credential_id: bytes, private_key: ec.EllipticCurvePrivateKey,
                 issuer_code: str, aid: bytes = DEFAULT_AID, *, max_read: int = 256) -> None:
        if len(credential_id) != 16:
            raise ValueError("credential id must be 16 bytes")
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("the staff AP v1 key is ECDSA P-256")
        self.credential_id = bytes(credential_id)
        self.private_key = private_key
        self.issuer_code = issuer_code
        self.aid = bytes(aid)
        self.max_read = max_read
        self.record = CredentialRecord(issuer_code, self.credential_id, self.public_key)
        self._record_bytes = self.record.to_bytes()
        self._lock = threading.Lock()
        self._selected = False
        self._ef: bytes | None = None
        self.signatures = 0  # INTERNAL AUTHENTICATE answered (tests, the CLI's list)

    @classmethod
    def generate(cls, issuer_code: str, aid: bytes = DEFAULT_AID, **kwargs: int) -> \
            VirtualStaffCard:
        """A fresh card: random credential id, new P-256 key."""
        return cls(os.urandom(16), ec.generate_private_key(ec.SECP256R1()), issuer_code, aid,
                   **kwargs)

    @property
    def public_key(self) -> bytes:
        """The uncompressed SEC1 point of the card key (what enrollment registers)."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)

    @property
    def credential_ref(self) -> str:
        return self.credential_id.hex()

    def reset(self) -> None:
        with self._lock:
            self._selected = False
            self._ef = None

    def sign(self, challenge: bytes) -> bytes:
        """The DER signature the card returns for ``challenge``."""
        return self.private_key.sign(auth_message(self.credential_id, challenge),
                                     ec.ECDSA(hashes.SHA256()))

    def process(self, apdu: bytes) -> bytes | None:
        with self._lock:
            return self._process(bytes(apdu))

    def _process(self, apdu: bytes) -> bytes:
        cmd = parse_command(apdu)
        if cmd is None:
            return SW_WRONG_LENGTH
        if cmd.cla != 0x00:
            return SW_CLA
        if cmd.ins == 0xA4:
            return self._select(cmd.p1, cmd.p2, cmd.data)
        if cmd.ins == 0xB0:
            return self._read_binary(cmd.p1, cmd.p2, cmd.le)
        if cmd.ins == 0x88:
            if not self._selected:
                return SW_NOT_SELECTED
            if cmd.p1 != 0 or cmd.p2 != 0:
                return SW_WRONG_P1P2
            if len(cmd.data) != CHALLENGE_LENGTH:
                return SW_WRONG_LENGTH
            self.signatures += 1
            return self.sign(cmd.data) + SW_OK
        return SW_INS

    def _select(self, p1: int, p2: int, data: bytes) -> bytes:
        if p1 == 0x04:
            if data != self.aid:
                return SW_NOT_FOUND
            self._selected = True
            self._ef = None
            return SW_OK
        if p1 == 0x02:
            if not self._selected:
                return SW_NOT_FOUND
            if len(data) != 2:
                return SW_WRONG_LENGTH
            if data != CREDENTIAL_FID:
                return SW_NOT_FOUND
            self._ef = data
            return SW_OK
        return SW_WRONG_P1P2

    def _read_binary(self, p1: int, p2: int, le: int | None) -> bytes:
        if not self._selected or self._ef is None:
            return SW_NO_CURRENT_EF
        if p1 & 0x80:
            return SW_WRONG_P1P2  # short EF identifiers are not supported
        offset = (p1 << 8) | p2
        record = self._record_bytes
        if offset >= len(record):
            return SW_OFFSET
        want = min(le or 256, self.max_read)
        chunk = record[offset : offset + want]
        if le is not None and le != 256 and len(chunk) < le and offset + len(chunk) == len(
                record):
            return chunk + SW_EOF
        return chunk + SW_OK

    def __repr__(self) -> str:  # never the private key
        return f"VirtualStaffCard(credential_ref={self.credential_ref}, " \
               f"issuer_code={self.issuer_code})"

