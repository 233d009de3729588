"""firmware_config.bundle: signed per-device bundles, refused when unsigned, tampered, invalid
or rolled back, keeping the last good one."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from firmware_config.bundle import (
    BundleError,
    load_bundle,
    load_private_key,
    render_bundles,
    verify_bundle,
)
from firmware_config.validate import validate_site_text
from gate.signing import public_key_b64, sign_document
from mynagate_cli import app
from reader_agent.keys import Identity, save_identity

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "site.toml"
EXAMPLE_KEY = "HlXjW+vzq/XGNiuMVoZaNozkKL+KiXrclAZzzszFsnQ="
NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


@pytest.fixture
def service_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def site_text(key: Ed25519PrivateKey, version: int = 1) -> str:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace(EXAMPLE_KEY, public_key_b64(key.public_key()))
    return text.replace("config_version = 1 ", f"config_version = {version} ")


def write_site(tmp_path: Path, key: Ed25519PrivateKey, version: int = 1) -> Path:
    (tmp_path / "certs").mkdir(exist_ok=True)
    (tmp_path / "certs" / "example-jpki-auth-ca.pem").write_bytes(
        (ROOT / "examples" / "certs" / "example-jpki-auth-ca.pem").read_bytes())
    p = tmp_path / "site.toml"
    p.write_text(site_text(key, version), encoding="utf-8")
    return p


def render(tmp_path: Path, key: Ed25519PrivateKey, version: int = 1,
           out: str = "out") -> Path:
    site, issues = validate_site_text(site_text(key, version), "site.toml",
                                      ROOT / "examples")
    assert site is not None, issues
    assert site.config_version == version
    render_bundles(site, key, tmp_path / out, now=NOW)
    return tmp_path / out


def test_render_writes_one_signed_bundle_per_reader(tmp_path, service_key):
    out = render(tmp_path, service_key, version=7)
    files = sorted(out.glob("*.bundle.json"))
    assert len(files) == 20
    b = verify_bundle(json.loads((out / "server-room.bundle.json").read_text()),
                      service_key.public_key(), device="server-room")
    assert b.config_version == 7 and b.municipality_code == "373222"
    assert b.issued_at == "2026-11-27T06:00:00Z"
    assert b.config.doors[0].assurance == "card+pin"
    assert b.config.trust.jpki_ca_certs[0].startswith("-----BEGIN CERTIFICATE-----")
    assert b.config.offline.max_offline_age_hours == 24


def test_render_refuses_a_site_trusting_another_key(tmp_path, service_key):
    site, _ = validate_site_text(site_text(service_key), "site.toml", ROOT / "examples")
    assert site is not None
    with pytest.raises(BundleError, match="not the public key of the signing key"):
        render_bundles(site, Ed25519PrivateKey.generate(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_load_installs_and_reinstall_is_idempotent(tmp_path, service_key):
    out = render(tmp_path, service_key)
    last = tmp_path / "agent" / "config.bundle.json"
    b = load_bundle(out / "shoko.bundle.json", service_key.public_key(), last, device="shoko")
    assert b.config.doors[0].name == "書庫"
    assert json.loads(last.read_text()) == json.loads((out / "shoko.bundle.json").read_text())
    again = load_bundle(out / "shoko.bundle.json", public_key_b64(service_key.public_key()), last)
    assert again.digest == b.digest


def refused(path: Path, key: Ed25519PrivateKey, last: Path, match: str) -> BundleError:
    before = last.read_bytes()
    with pytest.raises(BundleError, match=match) as err:
        load_bundle(path, key.public_key(), last)
    assert last.read_bytes() == before, "the last good bundle must stay"
    assert err.value.last_good is not None
    return err.value


@pytest.fixture
def installed(tmp_path, service_key):
    out = render(tmp_path, service_key)
    last = tmp_path / "agent" / "config.bundle.json"
    load_bundle(out / "shoko.bundle.json", service_key.public_key(), last)
    doc = json.loads((out / "shoko.bundle.json").read_text())
    return last, doc


def test_unsigned_bundle_is_refused(tmp_path, service_key, installed):
    last, doc = installed
    bad = tmp_path / "unsigned.json"
    bad.write_text(json.dumps({"payload": doc["payload"]}))
    err = refused(bad, service_key, last, "unsigned")
    assert err.last_good.config_version == 1
    bad.write_text(json.dumps(doc["payload"]))  # a bare payload
    refused(bad, service_key, last, "unsigned")


def test_tampered_bundle_is_refused(tmp_path, service_key, installed):
    last, doc = installed
    evil = copy.deepcopy(doc)
    evil["payload"]["config"]["doors"][0]["unlock_seconds"] = 60
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(evil))
    refused(bad, service_key, last, "signature refused")
    evil = copy.deepcopy(doc)
    evil["signature"] = "@@not base64@@"
    bad.write_text(json.dumps(evil))
    refused(bad, service_key, last, "signature refused")


def test_bundle_signed_by_another_key_is_refused(tmp_path, service_key, installed):
    last, doc = installed
    bad = tmp_path / "other.json"
    bad.write_text(json.dumps(sign_document(doc["payload"], Ed25519PrivateKey.generate())))
    refused(bad, service_key, last, "signature refused")


def test_signed_but_invalid_configuration_is_refused(tmp_path, service_key, installed):
    last, doc = installed
    payload = copy.deepcopy(doc["payload"])
    payload["config_version"] = 2
    payload["config"]["doors"][0]["unlock_seconds"] = 999
    bad = tmp_path / "invalid.json"
    bad.write_text(json.dumps(sign_document(payload, service_key)))
    refused(bad, service_key, last, r"invalid configuration: doors\.0\.unlock_seconds")
    payload["config"]["doors"][0]["unlock_seconds"] = 5
    payload["config"]["colour"] = "red"
    bad.write_text(json.dumps(sign_document(payload, service_key)))
    refused(bad, service_key, last, "invalid configuration: colour")
    payload = copy.deepcopy(doc["payload"]) | {"config_version": "2"}
    bad.write_text(json.dumps(sign_document(payload, service_key)))
    refused(bad, service_key, last, "config_version")
    payload = copy.deepcopy(doc["payload"]) | {"kind": "snapshot"}
    bad.write_text(json.dumps(sign_document(payload, service_key)))
    refused(bad, service_key, last, "not a reader configuration")
    bad.write_text("{not json")
    refused(bad, service_key, last, "cannot read a JSON bundle")


def test_bundle_for_another_device_is_refused(tmp_path, service_key, installed):
    last, _ = installed
    other = tmp_path / "out" / "kinko.bundle.json"
    refused(other, service_key, last, "for device 'kinko'")
    with pytest.raises(BundleError, match="this is 'shoko'"):
        load_bundle(other, service_key.public_key(), None, device="shoko")


def test_trust_anchor_must_be_the_signer(tmp_path, service_key, installed):
    last, doc = installed
    payload = copy.deepcopy(doc["payload"])
    payload["config_version"] = 2
    payload["config"]["trust"]["service_public_key"] = public_key_b64(
        Ed25519PrivateKey.generate().public_key())
    bad = tmp_path / "anchor.json"
    bad.write_text(json.dumps(sign_document(payload, service_key)))
    refused(bad, service_key, last, "trust anchor is not the key that signed it")


def test_rollback_and_same_version_other_content_are_refused(tmp_path, service_key):
    v1 = render(tmp_path, service_key, version=1, out="v1")
    v2 = render(tmp_path, service_key, version=2, out="v2")
    last = tmp_path / "agent" / "config.bundle.json"
    load_bundle(v1 / "shoko.bundle.json", service_key.public_key(), last)
    assert load_bundle(v2 / "shoko.bundle.json", service_key.public_key(),
                       last).config_version == 2
    err = refused(v1 / "shoko.bundle.json", service_key, last, "rollback refused")
    assert err.last_good.config_version == 2
    doc = json.loads((v2 / "shoko.bundle.json").read_text())
    doc["payload"]["config"]["doors"][0]["unlock_seconds"] = 9
    same = tmp_path / "same.json"
    same.write_text(json.dumps(sign_document(doc["payload"], service_key)))
    refused(same, service_key, last, "already installed with other content")


def test_a_corrupt_last_good_does_not_block_a_good_bundle(tmp_path, service_key):
    out = render(tmp_path, service_key)
    last = tmp_path / "config.bundle.json"
    last.write_text("garbage")
    b = load_bundle(out / "shoko.bundle.json", service_key.public_key(), last)
    assert json.loads(last.read_text())["payload"]["device"] == b.device == "shoko"


def pem_file(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    p = tmp_path / "service-key.pem"
    p.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return p


def test_cli_public_key_render_and_install(tmp_path, service_key):
    runner = CliRunner()
    keyfile = pem_file(tmp_path, service_key)
    res = runner.invoke(app, ["config", "public-key", "--key", str(keyfile)])
    assert res.exit_code == 0 and res.output.strip() == public_key_b64(service_key.public_key())
    site = write_site(tmp_path, service_key, version=3)
    res = runner.invoke(app, ["config", "render", str(site), "--key", str(keyfile),
                              "--out", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    assert "20 bundles, config_version 3" in res.output

    data = tmp_path / "agent"
    save_identity(data, Identity("dev-1", "https://gate.example.lg.jp",
                                 public_key_b64(service_key.public_key()), "kid"))
    res = runner.invoke(app, ["config", "install", str(tmp_path / "b" / "kinko.bundle.json"),
                              "--data-dir", str(data)])
    assert res.exit_code == 0, res.output
    assert (data / "config.bundle.json").exists()
    tampered = json.loads((tmp_path / "b" / "kinko.bundle.json").read_text())
    tampered["payload"]["config"]["doors"][0]["relay_pin"] = 4
    (tmp_path / "t.json").write_text(json.dumps(tampered))
    res = runner.invoke(app, ["config", "install", str(tmp_path / "t.json"),
                              "--data-dir", str(data)])
    assert res.exit_code == 1
    assert "bundle refused" in res.output and "still in force: config_version 3" in res.output
    # a wrong key file is a clear error, not a traceback
    (tmp_path / "bad.pem").write_text("nope")
    res = runner.invoke(app, ["config", "render", str(site), "--key", str(tmp_path / "bad.pem"),
                              "--out", str(tmp_path / "c")])
    assert res.exit_code == 1 and "not an unencrypted PEM private key" in res.output


def test_load_private_key_refuses_non_ed25519(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec

    k = ec.generate_private_key(ec.SECP256R1())
    p = tmp_path / "ec.pem"
    p.write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with pytest.raises(BundleError, match="must be Ed25519"):
        load_private_key(p)


def test_agent_settings_from_a_bundle(tmp_path, service_key):
    from firmware_config.bundle import agent_settings

    out = render(tmp_path, service_key, version=4)
    b = load_bundle(out / "honcho-kyujitsu.bundle.json", service_key.public_key())
    s = agent_settings(b)
    assert s["reader"] == "nfc:usb" and s["door"] == 2
    assert s["fail_open_doors"] == [2] and s["config_version"] == 4
    assert s["max_offline_hours"] == 72 and s["skew_alarm_ms"] == 5000
    assert s["unlock_seconds"] == 5.0 and s["lang"] == "ja"
