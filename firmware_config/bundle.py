"""Per-device configuration bundles, signed by the service.

``mynagate config render site.toml --key service-key.pem --out DIR`` writes one
``<device>.bundle.json`` per reader: a signed document (``gate.signing``) whose payload is::

    {"kind": "mynagate.reader-config", "format": 1,
     "municipality_code": "373222", "site": "…", "device": "shoko",
     "config_version": 7, "issued_at": "2026-11-27T06:00:00Z",
     "config": {… a complete firmware_config.models.ReaderConfig …}}

A reader installs a bundle with :func:`load_bundle`. It refuses, with a :class:`BundleError`
naming the reason, a bundle that is

- not JSON, or not a signed document (unsigned);
- signed by another key, or changed after signing (tampered);
- of another kind or format, or for another device;
- not a valid ``ReaderConfig`` (invalid);
- naming another service key in its trust anchors than the one that signed it;
- older than the last good bundle (a rollback), or of the same version with other content.

On refusal the last good bundle stays installed (the error carries it as ``last_good``); on
success the new bundle replaces it atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from gate.signing import (
    SignatureError,
    canonical_json,
    key_id,
    load_public_key,
    public_key_b64,
    sign_document,
    verify_document,
)

from .models import ReaderConfig, SiteConfig

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_KIND",
    "BundleError",
    "ReaderBundle",
    "agent_settings",
    "bundle_file_name",
    "bundle_payload",
    "install_bundle",
    "load_bundle",
    "load_private_key",
    "read_last_good",
    "reader_payload",
    "render_bundles",
    "verify_bundle",
]

BUNDLE_KIND = "mynagate.reader-config"
BUNDLE_FORMAT = 1


class BundleError(ValueError):
    """A bundle was refused. ``last_good`` is the bundle still in force (or None)."""

    def __init__(self, message: str, last_good: ReaderBundle | None = None) -> None:
        super().__init__(message)
        self.last_good = last_good


@dataclass(frozen=True)
class ReaderBundle:
    """A verified bundle."""

    config: ReaderConfig
    config_version: int
    device: str
    municipality_code: str
    issued_at: str
    key_id: str
    digest: str  # SHA-256 of the canonical payload
    document: dict[str, Any]


def bundle_file_name(device: str) -> str:
    return f"{device}.bundle.json"


def bundle_payload(site: SiteConfig, reader: ReaderConfig, *, issued_at: datetime) -> dict[str, Any]:
    """The payload of one reader's bundle."""
    return reader_payload(reader, municipality_code=site.municipality_code, site=site.name,
                          config_version=site.config_version, issued_at=issued_at)


def reader_payload(reader: ReaderConfig, *, municipality_code: str, site: str,
                   config_version: int, issued_at: datetime) -> dict[str, Any]:
    """The payload of a bundle for ``reader`` (the offline renderer and the service both)."""
    return {
        "kind": BUNDLE_KIND,
        "format": BUNDLE_FORMAT,
        "municipality_code": municipality_code,
        "site": site,
        "device": reader.name,
        "config_version": config_version,
        "issued_at": issued_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "config": reader.model_dump(mode="json"),
    }


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """The service's Ed25519 signing key from a PEM file (PKCS#8, unencrypted)."""
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (ValueError, TypeError) as err:
        raise BundleError(f"{path}: not an unencrypted PEM private key ({err})") from err
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(f"{path}: the service signing key must be Ed25519")
    return key


def render_bundles(site: SiteConfig, private_key: Ed25519PrivateKey, out_dir: str | Path, *,
                   now: datetime | None = None) -> list[Path]:
    """Write one signed bundle per reader into ``out_dir``; return the paths.

    Refuses to sign a site whose trust anchor is not the signing key's public key: a reader
    would then refuse every later bundle.
    """
    signer = public_key_b64(private_key.public_key())
    now = now or datetime.now(UTC)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for reader in site.reader_configs():
        if reader.trust.service_public_key != signer:
            raise BundleError(
                f"reader {reader.name}: trust.service_public_key is not the public key of the "
                f"signing key (key id {key_id(private_key.public_key())})")
        doc = sign_document(bundle_payload(site, reader, issued_at=now), private_key)
        path = out / bundle_file_name(reader.name)
        _atomic_write(path, json.dumps(doc, ensure_ascii=False, indent=1).encode())
        paths.append(path)
    return paths


def _public(key: Ed25519PublicKey | str) -> Ed25519PublicKey:
    return load_public_key(key) if isinstance(key, str) else key


def verify_bundle(doc: Any, service_public_key: Ed25519PublicKey | str, *,
                  device: str | None = None) -> ReaderBundle:
    """Check a bundle document completely; return it verified or raise :class:`BundleError`."""
    if not isinstance(doc, dict) or "payload" not in doc:
        raise BundleError("unsigned: not a signed bundle (no payload/signature)")
    if "signature" not in doc:
        raise BundleError("unsigned: the bundle carries no signature")
    key = _public(service_public_key)
    try:
        payload = verify_document(doc, key)
    except SignatureError as err:
        raise BundleError(f"signature refused ({err}): the bundle was altered or signed by "
                          "another key") from err
    if not isinstance(payload, dict) or payload.get("kind") != BUNDLE_KIND:
        raise BundleError("not a reader configuration bundle")
    if payload.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"unsupported bundle format {payload.get('format')!r}")
    if device is not None and payload.get("device") != device:
        raise BundleError(f"bundle is for device {payload.get('device')!r}, this is {device!r}")
    version = payload.get("config_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BundleError("invalid: config_version is missing or not a positive integer")
    try:
        config = ReaderConfig.model_validate(payload.get("config"))
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise BundleError(f"invalid configuration: {where}: {first['msg']} "
                          f"({err.error_count()} error(s))") from err
    if config.name != payload.get("device"):
        raise BundleError("invalid: the configuration names another device than the bundle")
    if config.trust.service_public_key != public_key_b64(key):
        raise BundleError("invalid: the bundle's trust anchor is not the key that signed it")
    return ReaderBundle(
        config=config, config_version=version, device=str(payload["device"]),
        municipality_code=str(payload.get("municipality_code", "")),
        issued_at=str(payload.get("issued_at", "")), key_id=key_id(key),
        digest=hashlib.sha256(canonical_json(payload)).hexdigest(), document=doc)


def agent_settings(bundle: ReaderBundle) -> dict[str, Any]:
    """The reader agent's run settings from a verified bundle (``mynagate agent run --bundle``).

    The agent serves one door: the first door of the reader. ``door_io`` is left to the caller
    (``reader_agent.door_io.controller_from_config(bundle.config)``).
    """
    cfg = bundle.config
    door = cfg.doors[0]
    return {
        "reader": cfg.driver,
        "door": door.door_id,
        "max_offline_hours": cfg.offline.max_offline_age_hours,
        "fail_open_doors": sorted(cfg.fail_open_doors()),
        "unlock_seconds": door.unlock_seconds,
        "lang": cfg.language,
        "heartbeat_s": cfg.heartbeat_seconds,
        "skew_alarm_ms": cfg.offline.clock_skew_alarm_ms,
        "config_version": bundle.config_version,
        "staff_ap_aid": cfg.staff_ap_aid,
        "service_url": cfg.service_url,
        "keypad": cfg.keypad.uri if cfg.keypad else None,
        "pin_timeout": cfg.keypad.timeout_seconds if cfg.keypad else 20.0,
        "clear_key": cfg.keypad.clear_key if cfg.keypad else "*",
        "enter_key": cfg.keypad.enter_key if cfg.keypad else "#",
    }


def _read_doc(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError) as err:
        raise BundleError(f"{path}: cannot read a JSON bundle ({err})") from err


def read_last_good(last_good: str | Path | None, service_public_key: Ed25519PublicKey | str, *,
                   device: str | None = None) -> ReaderBundle | None:
    """The installed bundle, verified again (None if there is none or it no longer verifies)."""
    if last_good is None or not Path(last_good).exists():
        return None
    try:
        return verify_bundle(_read_doc(Path(last_good)), service_public_key, device=device)
    except BundleError:
        return None


def load_bundle(path: str | Path, service_public_key: Ed25519PublicKey | str,
                last_good: str | Path | None = None, *,
                device: str | None = None, min_version: int = 0) -> ReaderBundle:
    """Verify the bundle at ``path`` and install it as ``last_good``.

    Raises :class:`BundleError` (whose ``last_good`` is the bundle still in force) for an
    unsigned, tampered, invalid, foreign or rolled-back bundle; ``last_good`` is left alone.
    """
    current = read_last_good(last_good, service_public_key, device=device)
    try:
        doc = _read_doc(Path(path))
    except BundleError as err:
        raise BundleError(str(err), last_good=current) from err
    return install_bundle(doc, service_public_key, last_good, device=device, current=current,
                          min_version=min_version)


def install_bundle(doc: Any, service_public_key: Ed25519PublicKey | str,
                   last_good: str | Path | None = None, *, device: str | None = None,
                   current: ReaderBundle | None = None, min_version: int = 0) -> ReaderBundle:
    """Verify a bundle document and install it as ``last_good`` (atomically).

    ``current`` is the bundle in force (read from ``last_good`` when not given);
    ``min_version`` a version the caller already accepted (a high-water mark kept apart from
    the file, so putting an old file back does not lower it). Refusals as :func:`load_bundle`.
    """
    if current is None:
        current = read_last_good(last_good, service_public_key, device=device)
    try:
        new = verify_bundle(doc, service_public_key, device=device)
        _refuse_older(new, current, min_version, same_device_only=device is None)
    except BundleError as err:
        raise BundleError(str(err), last_good=current) from err
    if last_good is not None and (current is None or current.digest != new.digest):
        _atomic_write(Path(last_good), json.dumps(new.document, ensure_ascii=False,
                                                  indent=1).encode())
    return new


def _refuse_older(new: ReaderBundle, current: ReaderBundle | None, min_version: int, *,
                  same_device_only: bool) -> None:
    if new.config_version < min_version:
        raise BundleError(f"rollback refused: config_version {new.config_version} is older "
                          f"than the accepted {min_version}")
    if current is None:
        return
    # With ``device`` given the new bundle is proven to be for this device: a bundle rendered
    # offline under a site name gives way to the service's (named by the device id).
    if same_device_only and new.device != current.device:
        raise BundleError(f"bundle is for device {new.device!r}; the installed one is "
                          f"for {current.device!r}")
    if new.config_version < current.config_version:
        raise BundleError(f"rollback refused: config_version {new.config_version} is "
                          f"older than the installed {current.config_version}")
    if new.config_version == current.config_version and new.digest != current.digest:
        raise BundleError(f"config_version {new.config_version} is already installed "
                          "with other content: raise config_version")


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)

