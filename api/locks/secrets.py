"""The PIN master secret, kept encrypted at rest (AES-256-GCM) under a wrapping key from
settings or from a 0600 file in the data dir; lock keys are derived from it, never stored."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from api.models import PinMaster, SmartLock
from gate.pin import derive_lock_key

from .settings import LockSettings

AAD = b"mynagate pin master v1"


def wrap_key(settings: LockSettings) -> bytes:
    if settings.pin_wrap_key is not None:
        key = bytes.fromhex(settings.pin_wrap_key.get_secret_value())
        if len(key) != 32:
            raise ValueError("MYNAGATE_PIN_WRAP_KEY must be 32 bytes in hex")
        return key
    path = Path(settings.data_dir) / "pin-wrap.key"
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as f:
        f.write(key.hex())
    return key


def load_master(session: Session, settings: LockSettings) -> bytes:
    """The master secret; created from the CSPRNG (256 bits) on first use."""
    aes = AESGCM(wrap_key(settings))
    row = session.get(PinMaster, 1)
    if row is None:
        master = os.urandom(32)
        nonce = os.urandom(12)
        session.add(PinMaster(id=1, nonce=nonce, ciphertext=aes.encrypt(nonce, master, AAD)))
        session.flush()
        return master
    return aes.decrypt(row.nonce, row.ciphertext, AAD)


def lock_key(session: Session, settings: LockSettings, lock: SmartLock,
             generation: int | None = None) -> bytes:
    gen = lock.generation if generation is None else generation
    return derive_lock_key(load_master(session, settings), lock.lock_id, gen)
