"""install_bundle under any order of offered versions: what is in force never gets older,
neither than the installed file nor than the mark kept apart from it (``min_version``)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_config.bundle import BundleError, install_bundle, read_last_good, reader_payload
from firmware_config.models import ReaderConfig
from gate.signing import public_key_b64, sign_document

KEY = Ed25519PrivateKey.generate()
ISSUED = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
DEVICE = "0b9c5a52-7f27-4b38-9d5e-8a7d5b1c2e3f"


def bundle(version: int, unlock: int) -> dict[str, object]:
    reader = ReaderConfig.model_validate({
        "name": DEVICE, "driver": "sim:x", "service_url": "http://svc",
        "trust": {"service_public_key": public_key_b64(KEY.public_key())},
        "doors": [{"door_id": 1, "name": "書庫", "unlock_seconds": unlock}]})
    return sign_document(reader_payload(reader, municipality_code="373222", site="本庁舎",
                                        config_version=version, issued_at=ISSUED), KEY)


@settings(max_examples=40, deadline=None)
@given(offers=st.lists(st.tuples(st.integers(1, 6), st.integers(1, 3)), min_size=1,
                       max_size=8),
       mark=st.integers(0, 4))
def test_the_version_in_force_never_goes_down(offers: list[tuple[int, int]], mark: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.bundle.json"
        current = None
        for version, unlock in offers:
            doc = bundle(version, unlock)
            before = current
            try:
                current = install_bundle(doc, KEY.public_key(), path, device=DEVICE,
                                         current=current, min_version=mark)
            except BundleError as err:
                assert err.last_good == before
                assert (version < mark or (before is not None and (
                    version < before.config_version
                    or (version == before.config_version and unlock !=
                        before.config.doors[0].unlock_seconds))))
                continue
            assert version >= mark
            assert before is None or version >= before.config_version
            mark = max(mark, version)
            on_disk = read_last_good(path, KEY.public_key(), device=DEVICE)
            assert on_disk is not None and on_disk.digest == current.digest
