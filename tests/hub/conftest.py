"""Fixtures of the hub tests: one real root-mode (when root) hub per module."""
from __future__ import annotations

import pytest

from satco2.testing.hub import FAST_ACTIVITY_ENV, temp_hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A running hub (root mode when the tests run as root) with fast activity reporting."""
    with temp_hub(tmp_path_factory.mktemp("hub"), env=FAST_ACTIVITY_ENV) as h:
        yield h
