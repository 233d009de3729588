"""``create_backup`` and ``restore_backup``: the archive's content and the order of a restore.

The archive (encrypted by ``crypto``) holds a tar with::

    manifest.json             format, time, service version, dialect, schema revision, SHA-256s
    database.dump             pg_dump custom format, or a SQLite database file
    keys/service-signing-key.pem
    keys/pin-wrap.key         without it every PIN master secret, hence every PIN, is lost

A restore checks everything before it writes anything: the passphrase, every file's hash,
that the database is empty and that no different key would be replaced (unless ``overwrite``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from api.locks.secrets import wrap_key
from api.locks.settings import LockSettings
from api.metrics.collector import package_version
from api.snapshot.versioning import NEXT_EPOCH_SQL

from . import BackupError, NotABackup, TargetNotEmpty
from . import database as db
from .crypto import decrypt_stream, encrypt_stream

MANIFEST_FORMAT = 1
DUMP = "database.dump"
SIGNING_KEY = "keys/service-signing-key.pem"
WRAP_KEY = "keys/pin-wrap.key"
MEMBERS = (DUMP, SIGNING_KEY, WRAP_KEY)


@dataclass(frozen=True)
class Paths:
    """Where the service keeps what a backup holds."""

    database_url: str
    signing_key_file: Path
    lock_settings: LockSettings

    @property
    def wrap_key_file(self) -> Path:
        return Path(self.lock_settings.data_dir) / "pin-wrap.key"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return ", ".join(sorted(conn.execute(text("SELECT version_num FROM alembic_version"))
                                    .scalars()))
    finally:
        engine.dispose()


def _stage(paths: Paths, work: Path, now: datetime) -> dict[str, object]:
    """Write the database dump and the keys into ``work``; return the manifest."""
    if not paths.signing_key_file.is_file():
        raise BackupError(f"the service signing key is missing: {paths.signing_key_file}")
    (work / "keys").mkdir()
    facts = db.dump(paths.database_url, work / DUMP)
    (work / SIGNING_KEY).write_bytes(paths.signing_key_file.read_bytes())
    (work / WRAP_KEY).write_text(wrap_key(paths.lock_settings).hex())
    return {"format": MANIFEST_FORMAT, "created_at": now.isoformat(),
            "mynagate_version": package_version(), "database": facts,
            "schema_revision": _revision(paths.database_url),
            "sha256": {name: _sha256(work / name) for name in MEMBERS}}


def create_backup(paths: Paths, output: Path, passphrase: str, *, now: datetime) -> dict[str, object]:
    """Write the encrypted archive to ``output`` (atomically: a partial file never remains)."""
    with tempfile.TemporaryDirectory(prefix="mynagate-backup-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o700)
        manifest = _stage(paths, work, now)
        blob = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
        plain = work / "archive.tar"
        with tarfile.open(plain, "w") as tar:
            info = tarfile.TarInfo("manifest.json")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
            for name in MEMBERS:
                tar.add(work / name, arcname=name)
        partial = output.with_name(output.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with plain.open("rb") as src, os.fdopen(fd, "wb") as dst:
            encrypt_stream(src, dst, passphrase)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(partial, output)
    return manifest


def _open(archive: Path, passphrase: str, work: Path) -> dict[str, object]:
    """Decrypt and unpack ``archive`` into ``work``; check every hash; return the manifest."""
    plain = work / "archive.tar"
    with archive.open("rb") as src, plain.open("wb") as dst:
        decrypt_stream(src, dst, passphrase)
    try:
        with tarfile.open(plain) as tar:
            names = set(tar.getnames())
            if names != {"manifest.json", *MEMBERS}:
                raise NotABackup(f"unexpected archive content: {sorted(names)}")
            _extract_files(tar, work / "content")
    except tarfile.TarError as err:
        raise NotABackup(f"damaged archive: {err}") from err
    content = work / "content"
    try:
        manifest = json.loads((content / "manifest.json").read_text())
        if manifest.get("format") != MANIFEST_FORMAT:
            raise NotABackup(f"unknown manifest format {manifest.get('format')!r}")
        digests = dict(manifest["sha256"])
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise NotABackup("damaged manifest") from err
    if set(digests) != set(MEMBERS):
        raise NotABackup("the manifest does not list the archive's files")
    for name, digest in digests.items():
        if _sha256(content / name) != digest:
            raise NotABackup(f"{name} does not match its checksum")
    return dict(manifest)


def _extract_files(tar: tarfile.TarFile, target: Path) -> None:
    """Write the archive's members (names already checked) as plain files under ``target``.

    Not ``extractall(filter="data")``: Debian 12's Python 3.11.2 predates the filter argument
    (3.11.4). A link or a device among the members is refused, as the data filter would."""
    for member in tar.getmembers():
        source = tar.extractfile(member) if member.isfile() else None
        if source is None:
            raise NotABackup(f"{member.name} is not a regular file")
        path = target / member.name
        path.parent.mkdir(parents=True, exist_ok=True)
        with source, path.open("wb") as out:
            shutil.copyfileobj(source, out)


def _check_key_target(target: Path, content: bytes, overwrite: bool) -> None:
    if target.exists() and target.read_bytes().strip() != content.strip() and not overwrite:
        raise TargetNotEmpty(f"{target} exists with another key: restoring would replace it "
                             "(add --yes)")


def _write_key(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, target)


def _next_snapshot_epoch(url: str, now: datetime) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(NEXT_EPOCH_SQL, {"now": now})
    finally:
        engine.dispose()


def restore_backup(paths: Paths, archive: Path, passphrase: str, *, now: datetime,
                   overwrite: bool = False) -> dict[str, object]:
    """Take ``archive`` back: the database, the signing key and the PIN wrap key. The snapshot
    version moves to the next epoch, so readers that took later versions from the lost
    service accept the restored one's (``api.snapshot.versioning``)."""
    with tempfile.TemporaryDirectory(prefix="mynagate-restore-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o700)
        manifest = _open(archive, passphrase, work)
        content = work / "content"
        signing, wrap = (content / SIGNING_KEY).read_bytes(), (content / WRAP_KEY).read_bytes()
        env_key = paths.lock_settings.pin_wrap_key
        if env_key is not None and env_key.get_secret_value().strip() != wrap.decode().strip():
            raise BackupError("MYNAGATE_PIN_WRAP_KEY is set to another key than the backup's: "
                              "unset it or set it to the key in the backup")
        _check_key_target(paths.signing_key_file, signing, overwrite)
        if env_key is None:
            _check_key_target(paths.wrap_key_file, wrap, overwrite)
        facts = manifest["database"]
        assert isinstance(facts, dict)
        db.restore(paths.database_url, content / DUMP, facts, overwrite=overwrite)
        _next_snapshot_epoch(paths.database_url, now)
        _write_key(paths.signing_key_file, signing)
        if env_key is None:
            _write_key(paths.wrap_key_file, wrap)
    return manifest
