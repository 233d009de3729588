"""Driver selection by URI and what a missing reader looks like."""

from __future__ import annotations

import pytest

from reader_agent.drivers import ReaderUnavailable, open_reader
from reader_agent.drivers.sim import SimReader


def test_sim_uri():
    assert isinstance(open_reader("sim:door-1"), SimReader)


@pytest.mark.parametrize("uri", ["bogus:x", "nocolon", "sim:", "nfc:"])
def test_bad_uris(uri):
    with pytest.raises(ValueError):
        open_reader(uri)


@pytest.mark.nfc
def test_nfc_usb_without_a_reader_is_unavailable():
    """No USB contactless reader on a CI machine: a clear ReaderUnavailable, not a crash."""
    with pytest.raises(ReaderUnavailable):
        open_reader("nfc:usb:054c:06c3")


@pytest.mark.pcsc
def test_pcsc_reader_name_not_found(pcscd):
    reader = open_reader("pcsc:No Such Reader")
    try:
        with pytest.raises(ReaderUnavailable):
            reader.wait_for_card(0.3)
    finally:
        reader.close()
