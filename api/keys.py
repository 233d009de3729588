"""The service's Ed25519 signing key (snapshots, config bundles), kept in a 0600 file."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .settings import InsecureSettings

SETTING = "MYNAGATE_SIGNING_KEY_FILE"


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    if path.exists():
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except ValueError as err:
            raise InsecureSettings(SETTING, f"({path}) is empty or not a PEM key") from err
        if not isinstance(key, Ed25519PrivateKey):
            raise InsecureSettings(SETTING, f"({path}) does not hold an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key
