"""The PIN master secret, kept encrypted at rest (AES-256-GCM) under a wrapping key from
settings or from a 0600 file in the data dir; lock keys are derived from it, never stored."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from api.models import PinMaster, SmartLock
from api.settings import InsecureSettings
from gate.pin import derive_lock_key

from .settings import LockSettings

AAD = b"mynagate pin master v1"


def _parse_key(text: str, setting: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != 32 or key == bytes(32):
        raise InsecureSettings(setting, "must be a random 32-byte key written as 64 hex digits")
    return key


def wrap_key(settings: LockSettings) -> bytes:
    """The wrapping key: from ``MYNAGATE_PIN_WRAP_KEY``, else ``data_dir/pin-wrap.key``
    (created 0600 from the CSPRNG on first use); a short or empty key is refused."""
    if settings.pin_wrap_key is not None:
        return _parse_key(settings.pin_wrap_key.get_secret_value(), "MYNAGATE_PIN_WRAP_KEY")
    path = Path(settings.data_dir) / "pin-wrap.key"
    setting = f"MYNAGATE_PIN_WRAP_KEY (file {path})"
    if path.exists():
        return _parse_key(path.read_text(), setting)
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    key = os.urandom(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _parse_key(path.read_text(), setting)
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
