"""``mynagate agent enroll --ca``: a bundle that is not a certificate is refused before any
request, by name; a good one is kept and trusted alone (test_nginx_tls.py enrolls with it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reader_agent.client import tls_verify
from reader_agent.keys import SERVICE_CA_FILE, save_service_ca, service_ca_file

from .conftest import cli
from .tls import make_tls


@pytest.mark.parametrize("content", [b"", b"not a certificate\n", None])
def test_a_broken_ca_bundle_is_refused_clearly(tmp_path: Path, content: bytes | None) -> None:
    ca = tmp_path / "town-ca.pem"
    if content is not None:
        ca.write_bytes(content)
    done = cli({}, "agent", "enroll", "--service", "https://127.0.0.1:9", "--token", "t",
               "--data-dir", str(tmp_path / "agent"), "--ca", str(ca))
    assert done.returncode == 1
    assert f"cannot load the CA bundle (--ca {ca})" in done.stderr
    assert not (tmp_path / "agent" / SERVICE_CA_FILE).exists()


def test_the_saved_bundle_is_what_the_agent_trusts(tmp_path: Path, now) -> None:  # type: ignore[no-untyped-def]
    tls = make_tls(tmp_path, now)
    assert service_ca_file(tmp_path / "agent") is None
    saved = save_service_ca(tmp_path / "agent", tls.ca)
    assert service_ca_file(tmp_path / "agent") == saved
    assert saved.read_bytes() == tls.ca.read_bytes()
    context = tls_verify(saved)
    assert not isinstance(context, bool)
    assert [c["subject"] for c in context.get_ca_certs()] == [
        ((("commonName", "mynagate test CA"),),)]
