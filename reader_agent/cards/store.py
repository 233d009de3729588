"""Virtual cards as files (``var/cards/<name>.json``) — TEST CARDS ONLY.

A file holds what the chip would: the card's private key (and, for JPKI, its PIN and tries
counter). Nothing here is a real credential: staff cards are only valid once enrolled by an
admin, and JPKI test cards chain to a generated test CA no production reader trusts.
The directory is created with mode 0700 and the files with 0600.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gate.card.staff_ap import DEFAULT_AID

from .base import VirtualCard
from .jpki import VirtualJpkiCard, make_test_ca
from .staff_ap import VirtualStaffCard

__all__ = ["CardInfo", "list_cards", "load_card", "load_or_create_test_ca", "make_jpki_card",
           "make_staff_card", "save_card"]

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
CA_FILE = "_test-ca.json"


@dataclass(frozen=True)
class CardInfo:
    name: str
    kind: str
    credential_ref: str
    detail: str
    path: Path


def _pem_key(key: Any) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _pem_cert(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _path(directory: Path, name: str) -> Path:
    if not NAME_RE.match(name) or name.startswith("_"):
        raise ValueError(f"card name {name!r}: use letters, digits, '.', '_', '-' (max 64)")
    return directory / f"{name}.json"


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
    os.replace(tmp, path)


def save_card(directory: Path, name: str, card: VirtualCard, *, overwrite: bool = False) -> Path:
    path = _path(directory, name)
    if path.exists() and not overwrite:
        raise FileExistsError(f"a card named {name!r} exists: {path}")
    data: dict[str, Any]
    if isinstance(card, VirtualStaffCard):
        data = {"kind": "staff_ap", "test_card": True, "issuer_code": card.issuer_code,
                "credential_id": card.credential_id.hex(), "aid": card.aid.hex().upper(),
                "private_key": _pem_key(card.private_key)}
    elif isinstance(card, VirtualJpkiCard):
        data = {"kind": "jpki", "test_card": True, "pin": card.pin,
                "tries_left": card.tries_left, "private_key": _pem_key(card.private_key),
                "certificate": _pem_cert(card.certificate),
                "ca_certificate": _pem_cert(card.ca_certificate)}
    else:
        raise TypeError(f"cannot store {type(card).__name__}")
    _write(path, data)
    return path


def load_card(directory: Path, name: str) -> VirtualCard:
    path = _path(directory, name)
    data = json.loads(path.read_text(encoding="utf-8"))
    key = serialization.load_pem_private_key(data["private_key"].encode(), password=None)
    if data["kind"] == "staff_ap":
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return VirtualStaffCard(bytes.fromhex(data["credential_id"]), key, data["issuer_code"],
                                bytes.fromhex(data.get("aid") or DEFAULT_AID.hex()))
    if data["kind"] == "jpki":
        assert isinstance(key, rsa.RSAPrivateKey)
        return VirtualJpkiCard(key, x509.load_pem_x509_certificate(data["certificate"].encode()),
                               x509.load_pem_x509_certificate(data["ca_certificate"].encode()),
                               data["pin"], tries_left=int(data["tries_left"]))
    raise ValueError(f"{path}: unknown card kind {data['kind']!r}")


def load_or_create_test_ca(directory: Path) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """The directory's test JPKI CA (made on first use)."""
    path = directory / CA_FILE
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        key = serialization.load_pem_private_key(data["private_key"].encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key, x509.load_pem_x509_certificate(data["certificate"].encode())
    key, cert = make_test_ca()
    _write(path, {"kind": "test_ca", "private_key": _pem_key(key), "certificate": _pem_cert(cert)})
    return key, cert


def make_staff_card(directory: Path, name: str, issuer_code: str,
                    aid: bytes = DEFAULT_AID) -> VirtualStaffCard:
    card = VirtualStaffCard.generate(issuer_code, aid)
    save_card(directory, name, card)
    return card


def make_jpki_card(directory: Path, name: str, pin: str) -> VirtualJpkiCard:
    ca_key, ca_cert = load_or_create_test_ca(directory)
    card = VirtualJpkiCard.generate(ca_key, ca_cert, pin)
    save_card(directory, name, card)
    return card


def list_cards(directory: Path) -> list[CardInfo]:
    out: list[CardInfo] = []
    for path in sorted(directory.glob("*.json")):
        if path.name.startswith("_"):
            continue
        try:
            card = load_card(directory, path.stem)
        except (ValueError, KeyError, OSError, json.JSONDecodeError, AssertionError) as err:
            out.append(CardInfo(path.stem, "?", "", f"unreadable: {err}", path))
            continue
        if isinstance(card, VirtualStaffCard):
            out.append(CardInfo(path.stem, "staff_ap", card.credential_ref,
                                f"issuer {card.issuer_code}, AID {card.aid.hex().upper()}", path))
        elif isinstance(card, VirtualJpkiCard):
            fp = card.certificate.fingerprint(hashes.SHA256()).hex()
            out.append(CardInfo(path.stem, "jpki", fp, f"PIN tries left {card.tries_left}",
                                path))
    return out
