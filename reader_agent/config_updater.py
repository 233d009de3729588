"""Readers fetch their own configuration: the service's signed ``firmware_config`` bundle.

After every snapshot round the agent asks ``GET /device/v1/config`` for a bundle newer than
the one it runs. A bundle is installed (``config.bundle.json``, written atomically) only if
``firmware_config.bundle.install_bundle`` accepts it: signed by the enrolled service key, for
this device, a valid ``ReaderConfig``, and not older than the bundle in force nor than the
highest version ever accepted. That mark lives in ``config-state.json``, apart from the bundle
file, as ``snapshot-state.json`` does for snapshots: putting an old bundle file back does not
lower it. A refused bundle raises a ``config_refused`` alarm (once per document) and the last
good bundle stays in force. ``mynagate config render`` + ``config install`` still serve sites
without a network path to the service.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from firmware_config.bundle import BundleError, ReaderBundle, install_bundle, read_last_good
from gate.door import Alarm
from gate.signing import canonical_json

from .client import ClientError, ServiceClient, ServiceRejected
from .keys import atomic_write

__all__ = ["CONFIG_FILE", "STATE_FILE", "ConfigMark", "ConfigUpdater"]

log = logging.getLogger(__name__)

CONFIG_FILE = "config.bundle.json"
STATE_FILE = "config-state.json"


class ConfigMark:
    """The highest config_version this agent has accepted, persisted (0600, atomic)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.version = 0
        if path.exists():
            try:
                doc = json.loads(path.read_bytes())
                if not isinstance(doc, dict) or doc.get("format") != 1:
                    raise ValueError("not a config state file")
                self.version = int(doc["version"])
            except (OSError, ValueError, KeyError, TypeError) as err:
                # Like a missing file: someone able to corrupt it can also delete it.
                log.error("agent.config.state_unreadable path=%s error=%s", path, err)

    def raise_to(self, version: int) -> None:
        if version > self.version:
            self.version = version
            atomic_write(self.path, json.dumps({"format": 1, "version": version}).encode())


def _offered_version(doc: Any) -> int | None:
    payload = doc.get("payload") if isinstance(doc, dict) else None
    version = payload.get("config_version") if isinstance(payload, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


class ConfigUpdater:
    """Fetches, verifies, installs and hands over this device's config bundle."""

    def __init__(self, client: ServiceClient, data_dir: Path, service_key: Ed25519PublicKey,
                 device_id: str, *, on_applied: Callable[[ReaderBundle], None],
                 on_alarm: Callable[[dict[str, Any]], object]) -> None:
        self.client = client
        self.path = data_dir / CONFIG_FILE
        self.mark = ConfigMark(data_dir / STATE_FILE)
        self.service_key = service_key
        self.device_id = device_id
        self.on_applied = on_applied
        self.on_alarm = on_alarm
        # Any verified bundle counts, one rendered offline for this host too.
        self.current: ReaderBundle | None = read_last_good(self.path, service_key)
        self.previous: ReaderBundle | None = None  # the bundle the current one replaced
        self.rolled_back = (self.current is not None
                            and self.current.config_version < self.mark.version)
        if self.current is not None:
            self.mark.raise_to(self.current.config_version)
        self.applied = 0
        self.refused = 0
        self._last_refused: str | None = None

    @property
    def version(self) -> int | None:
        return self.current.config_version if self.current is not None else None

    def poll(self) -> ReaderBundle | None:
        """One round: fetch and apply a newer bundle; returns it (None: nothing new).

        Never raises for the service's answers: the snapshot round it follows must not fail
        because of it (a service too old for this endpoint answers 404)."""
        try:
            doc = self.client.config(self.version)
        except ServiceRejected as err:
            if err.status != 404:
                log.error("agent.config.rejected status=%d error=%s", err.status, err)
            return None
        except ClientError as err:
            log.warning("agent.config.unavailable error=%s", err)
            return None
        return None if doc is None else self.offer(doc)

    def offer(self, doc: Any) -> ReaderBundle | None:
        """Install ``doc`` if it is acceptable and new, and apply it; refuse it otherwise."""
        try:
            new = install_bundle(doc, self.service_key, self.path, device=self.device_id,
                                 current=self.current, min_version=self.mark.version)
        except BundleError as err:
            self._refuse(doc, err)
            return None
        if self.current is not None and new.digest == self.current.digest:
            return None
        self.mark.raise_to(new.config_version)
        self.previous, self.current = self.current, new
        self.applied += 1
        log.info("agent.config.installed version=%d", new.config_version)
        self.on_applied(new)
        return new

    def _refuse(self, doc: Any, err: BundleError) -> None:
        self.refused += 1
        try:
            fingerprint = hashlib.sha256(canonical_json(doc)).hexdigest()
        except (TypeError, ValueError):
            fingerprint = repr(type(doc))
        log.error("agent.config.refused offered=%s kept=%s error=%s", _offered_version(doc),
                  self.version, err)
        if fingerprint == self._last_refused:
            return  # the same document again: alarmed once already
        self._last_refused = fingerprint
        self.on_alarm({"alarm": Alarm.CONFIG_REFUSED, "offered_version": _offered_version(doc),
                       "kept_version": self.version, "detail": str(err)[:200]})
