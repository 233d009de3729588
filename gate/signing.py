"""Canonical JSON and Ed25519 signatures for snapshots, bundles and device requests.

A signed document is ``{"payload": ..., "key_id": ..., "signature": base64}``, where the
signature covers the canonical JSON of ``payload`` (sorted keys, no spaces, UTF-8).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "SignatureError",
    "canonical_json",
    "key_id",
    "load_public_key",
    "public_key_b64",
    "request_signing_string",
    "sign_document",
    "verify_document",
]


class SignatureError(ValueError):
    """A signature is missing, malformed or does not verify."""


# One encoder for every call: ``json.dumps`` with options builds a new JSONEncoder each time,
# which cost as much as the encoding of a small event (the hash chain encodes every event).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(obj: Any) -> bytes:
    return _CANONICAL.encode(obj).encode()


def public_key_b64(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def load_public_key(b64: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(b64, validate=True))
    except ValueError as err:
        raise SignatureError("malformed Ed25519 public key") from err


def key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign_document(payload: Any, private_key: Ed25519PrivateKey) -> dict[str, Any]:
    sig = private_key.sign(canonical_json(payload))
    return {
        "payload": payload,
        "key_id": key_id(private_key.public_key()),
        "signature": base64.b64encode(sig).decode(),
    }


def verify_document(doc: Any, public_key: Ed25519PublicKey) -> Any:
    """Return the payload of a signed document, or raise SignatureError."""
    if not isinstance(doc, dict) or not {"payload", "signature"} <= doc.keys():
        raise SignatureError("not a signed document")
    try:
        sig = base64.b64decode(doc["signature"], validate=True)
    except (ValueError, TypeError) as err:
        raise SignatureError("malformed signature") from err
    try:
        public_key.verify(sig, canonical_json(doc["payload"]))
    except InvalidSignature as err:
        raise SignatureError("signature does not verify") from err
    return doc["payload"]


def request_signing_string(
    method: str, path: str, timestamp: str, nonce: str, body: bytes
) -> bytes:
    """What a device signs for each request: method, path+query, time, nonce and body hash."""
    body_hash = hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), path, timestamp, nonce, body_hash]).encode()
