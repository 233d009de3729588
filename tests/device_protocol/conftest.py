"""Fixtures of the device protocol tests."""

from __future__ import annotations

import pytest

from .signer import World


@pytest.fixture
def world(database):  # type: ignore[no-untyped-def]
    return World(database)
