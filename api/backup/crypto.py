"""The archive's encryption: a passphrase-derived key (scrypt) and AES-256-GCM in chunks.

Layout::

    MAGIC | u32 header length | header (JSON: format, kdf parameters, salt) | chunks

Each chunk is ``AES-GCM(key, nonce = chunk index (11 bytes) | final flag (1 byte),
plaintext ≤ 1 MiB, aad = SHA-256(magic | header))``. The key is new for every archive (a random
salt), so counter nonces never repeat under one key; the final flag makes a truncated archive
fail instead of restoring part of a database (the STREAM construction, as in age).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from . import NotABackup, WrongPassphrase

MAGIC = b"MYNAGATE-BACKUP\n"
FORMAT = 1
CHUNK = 1 << 20
TAG = 16
MAX_HEADER = 4096
# scrypt cost: 128 MiB and about a second on a small server, per archive, not per chunk.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 17, 8, 1


def _key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())


def _nonce(index: int, final: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def encrypt_stream(src: BinaryIO, dst: BinaryIO, passphrase: str) -> None:
    """Encrypt all of ``src`` into ``dst``."""
    salt = os.urandom(16)
    header = json.dumps({"format": FORMAT, "kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R,
                         "p": SCRYPT_P, "salt": base64.b64encode(salt).decode(),
                         "cipher": "AES-256-GCM", "chunk": CHUNK}).encode()
    aead = AESGCM(_key(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P))
    aad = hashlib.sha256(MAGIC + header).digest()
    dst.write(MAGIC + struct.pack(">I", len(header)) + header)
    index, block = 0, src.read(CHUNK)
    while True:
        following = src.read(CHUNK)
        final = not following
        dst.write(aead.encrypt(_nonce(index, final), block, aad))
        if final:
            return
        index, block = index + 1, following


def _read_header(src: BinaryIO) -> tuple[dict[str, object], bytes]:
    if src.read(len(MAGIC)) != MAGIC:
        raise NotABackup("not a mynagate backup (bad magic)")
    (length,) = struct.unpack(">I", src.read(4).rjust(4, b"\0"))
    if not 0 < length <= MAX_HEADER:
        raise NotABackup("damaged backup header")
    raw = src.read(length)
    try:
        header = json.loads(raw)
    except ValueError as err:
        raise NotABackup("damaged backup header") from err
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise NotABackup(f"unknown backup format {header.get('format')!r}"
                         if isinstance(header, dict) else "damaged backup header")
    return header, hashlib.sha256(MAGIC + raw).digest()


def decrypt_stream(src: BinaryIO, dst: BinaryIO, passphrase: str) -> None:
    """Decrypt ``src`` into ``dst``; refuses a wrong passphrase, a damaged or cut archive."""
    header, aad = _read_header(src)
    try:
        salt = base64.b64decode(str(header["salt"]))
        n, r, p = (int(str(header[k])) for k in ("n", "r", "p"))
    except (KeyError, ValueError) as err:
        raise NotABackup("damaged backup header") from err
    if n > 1 << 20 or r > 16 or p > 4:
        raise NotABackup("backup asks for an unreasonable scrypt cost")
    aead = AESGCM(_key(passphrase, salt, n, r, p))
    index, block = 0, src.read(CHUNK + TAG)
    while True:
        following = src.read(CHUNK + TAG)
        final = not following
        try:
            dst.write(aead.decrypt(_nonce(index, final), block, aad))
        except InvalidTag as err:
            if index == 0:
                raise WrongPassphrase("the passphrase does not open this backup") from err
            raise NotABackup(f"backup damaged or cut short at chunk {index}") from err
        if final:
            return
        index, block = index + 1, following
