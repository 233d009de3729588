"""Fixtures for the card tests: a test JPKI CA (session-wide: RSA key generation is slow)."""

from __future__ import annotations

import pytest

from reader_agent.cards.jpki import VirtualJpkiCard, make_test_ca
from reader_agent.drivers.sim import forget_sim_readers


@pytest.fixture(scope="session")
def test_ca():
    return make_test_ca()


@pytest.fixture(scope="session")
def _jpki_keys():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2)]


@pytest.fixture
def jpki_card(test_ca, _jpki_keys, now):
    """A fresh JPKI card (PIN 4821, 3 tries) with a session-cached key, valid from a day
    before the test's ``now``."""
    from reader_agent.cards.jpki import issue_auth_certificate

    ca_key, ca_cert = test_ca
    key = _jpki_keys[0]
    cert = issue_auth_certificate(ca_key, ca_cert, key.public_key(), now=now)
    return VirtualJpkiCard(key, cert, ca_cert, "4821")


@pytest.fixture
def other_rsa_key(_jpki_keys):
    return _jpki_keys[1]


@pytest.fixture(autouse=True)
def _fresh_sim_registry():
    forget_sim_readers()
    yield
    forget_sim_readers()


def announce(request, line: str) -> None:
    """Print ``line`` in the test run's output even while output is captured."""
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    if capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("\n" + line)
    else:
        reporter.write_line("\n" + line)


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory, request):
    """Our own pcscd with a vpcd reader (session-wide; one pcscd per machine)."""
    from .stacks import run_pcscd

    with run_pcscd(tmp_path_factory.mktemp("pcscd")) as stack:
        announce(request, f"real PC/SC stack: {stack.version}, vsmartcard-vpcd on TCP "
                          f"{stack.port}, {stack.max_handles_per_reader} card handles per "
                          f"reader (waited {stack.waited_s} s for the machine's one pcscd)")
        yield stack
