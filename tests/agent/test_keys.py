"""The agent's files on disk: atomic writes never follow a planted file and keys stay 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from reader_agent.keys import KEY_FILE, atomic_write, load_or_create_device_key


def test_planted_tmp_symlink_is_not_followed(tmp_path: Path):
    """Someone who can write the data dir plants ``.device-key.pem.tmp`` → a world-readable
    file of theirs: the key must not be written through it, nor end up 0644 or a symlink."""
    data_dir = tmp_path / "agent"
    data_dir.mkdir()
    trap = tmp_path / "trap.pem"
    trap.write_bytes(b"")
    trap.chmod(0o644)
    planted = data_dir / f".{KEY_FILE}.tmp"
    planted.symlink_to(trap)

    key = load_or_create_device_key(data_dir)

    key_path = data_dir / KEY_FILE
    st = os.lstat(key_path)
    assert stat.S_ISREG(st.st_mode), "the key file is not a regular file"
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert trap.read_bytes() == b"", "the key was written through the planted symlink"
    assert planted.is_symlink() and os.readlink(planted) == str(trap)
    assert isinstance(load_or_create_device_key(data_dir), Ed25519PrivateKey)
    assert load_or_create_device_key(data_dir).public_key() == key.public_key()
    # Nothing but the key and the untouched plant is left behind.
    assert sorted(p.name for p in data_dir.iterdir()) == sorted([KEY_FILE, planted.name])


def test_atomic_write_is_private_by_default_and_replaces(tmp_path: Path):
    path = tmp_path / "identity.json"
    atomic_write(path, b"one")
    atomic_write(path, b"two" * 100_000)
    assert path.read_bytes() == b"two" * 100_000
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["identity.json"]


def test_atomic_write_leaves_no_temp_file_when_it_fails(tmp_path: Path):
    target = tmp_path / "dir-in-the-way"
    target.mkdir()
    (target / "x").write_text("keeps the directory non-empty")
    with pytest.raises(OSError):
        atomic_write(target, b"data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir-in-the-way"]
