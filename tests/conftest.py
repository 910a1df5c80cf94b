"""Top-level fixtures shared by every area. Area fixtures live in tests/<area>/conftest.py."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from satco2 import config
from satco2.testing import shared_data as _shared_data

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public sample files (../shared/data)."""
    return _shared_data()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for test artefacts kept after the run (screenshots, rendered maps)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def demo_store() -> Path:
    """The embedded demo store, built (seeded) if missing; `make test` builds it beforehand."""
    from satco2 import demo

    demo.build(if_missing=True)
    return config.demo_root()
