"""Plain factory functions for the admin API tests (through the API unless noted)."""

from __future__ import annotations

import base64
import os
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def department(admin: Any, code: str = "somu", name: str = "総務課") -> dict[str, Any]:
    r = admin.post("/admin/departments", json={"code": code, "name": name})
    assert r.status_code == 201, r.text
    return r.json()


def staff(admin: Any, department_id: int, number: str = "T001", name: str = "山田 太郎",
          kana: str = "ヤマダ タロウ", **extra: Any) -> dict[str, Any]:
    body = {"staff_number": number, "name": name, "name_kana": kana,
            "department_id": department_id, "active_from": "2020-04-01", **extra}
    r = admin.post("/admin/staff", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def staff_ap_body(staff_id: int) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = key.public_bytes(serialization.Encoding.X962,
                             serialization.PublicFormat.UncompressedPoint)
    return {"staff_id": staff_id, "kind": "staff_ap", "credential_ref": os.urandom(16).hex(),
            "public_key": base64.b64encode(point).decode(), "issuer_code": "373222"}


_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jpki_body(staff_id: int) -> dict[str, Any]:
    spki = _RSA.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"staff_id": staff_id, "kind": "jpki_auth", "credential_ref": os.urandom(32).hex(),
            "public_key": base64.b64encode(spki).decode(),
            "not_after": "2030-03-31T23:59:59+09:00"}


def site(admin: Any, code: str = "honcho", name: str = "本庁舎") -> dict[str, Any]:
    r = admin.post("/admin/sites", json={"code": code, "name": name})
    assert r.status_code == 201, r.text
    return r.json()


def door(admin: Any, site_id: int, code: str = "shoko", name: str = "書庫",
         **extra: Any) -> dict[str, Any]:
    r = admin.post("/admin/doors", json={"site_id": site_id, "code": code, "name": name,
                                         **extra})
    assert r.status_code == 201, r.text
    return r.json()


def assert_problem(r: Any, status: int, field: str) -> dict[str, Any]:
    """The answer is RFC 9457 problem details naming ``field``."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"] == "about:blank"
    assert body["instance"] == r.request.url.path
    assert body["field"] == field, body
    return dict(body)
