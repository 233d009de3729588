"""The agent's identity on disk: its Ed25519 device key and what enrollment returned.

Layout of the data directory::

    device-key.pem     Ed25519 private key (0600), made on first enrollment
    identity.json      {"device_id", "service_url", "service_public_key", "service_key_id"}
    snapshot.json      signed snapshot documents (see snapshot_cache)
    snapshot.journal   signed deltas applied since snapshot.json was written (see snapshot_cache)
    snapshot-state.json  newest snapshot accepted + time floor (see snapshot_state)
    outbox.sqlite3     the durable event outbox (see outbox)
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gate.signing import load_public_key

KEY_FILE = "device-key.pem"
IDENTITY_FILE = "identity.json"
# The CA bundle given at enrollment (--ca): the only certificates the agent then trusts.
SERVICE_CA_FILE = "service-ca.pem"


class NotEnrolledError(RuntimeError):
    """The data directory holds no enrolled identity."""


@dataclass(frozen=True)
class Identity:
    device_id: str
    service_url: str
    service_public_key: str
    service_key_id: str

    def service_key(self) -> Ed25519PublicKey:
        return load_public_key(self.service_public_key)


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a file so a crash leaves either the old or the new content, never a mix.

    The temporary file gets a fresh unique name, created with ``O_EXCL | O_NOFOLLOW``
    (``tempfile.mkstemp``) in the target's directory: a file or symlink planted there is never
    followed or reused. It is ``mode`` (0600 unless asked otherwise) before the first byte is
    written, and the file and the directory are fsync'd.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def load_or_create_device_key(data_dir: Path) -> Ed25519PrivateKey:
    path = data_dir / KEY_FILE
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    atomic_write(path, pem)
    return key


def load_device_key(data_dir: Path) -> Ed25519PrivateKey:
    if not (data_dir / KEY_FILE).exists():
        raise NotEnrolledError(f"no device key in {data_dir}: run `mynagate agent enroll` first")
    return load_or_create_device_key(data_dir)


def save_identity(data_dir: Path, identity: Identity) -> None:
    atomic_write(data_dir / IDENTITY_FILE,
                 json.dumps(asdict(identity), indent=2).encode())


def load_identity(data_dir: Path) -> Identity:
    path = data_dir / IDENTITY_FILE
    if not path.exists():
        raise NotEnrolledError(f"{data_dir} は未登録です / {data_dir} is not enrolled "
                               "(--data-dir): run `mynagate agent enroll` first")
    raw = json.loads(path.read_text())
    return Identity(**{k: str(raw[k]) for k in
                       ("device_id", "service_url", "service_public_key", "service_key_id")})


def save_service_ca(data_dir: Path, ca_file: Path) -> Path:
    """Keep a copy of the CA bundle given at enrollment in the data dir (public, 0644)."""
    target = data_dir / SERVICE_CA_FILE
    atomic_write(target, ca_file.read_bytes(), mode=0o644)
    return target


def service_ca_file(data_dir: Path) -> Path | None:
    """The CA bundle saved at enrollment, or None: the system's trust store then applies."""
    path = data_dir / SERVICE_CA_FILE
    return path if path.exists() else None
