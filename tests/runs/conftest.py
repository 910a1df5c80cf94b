"""Fixtures of the runs area: a temporary notebooks folder with schemas written by the test."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml


@pytest.fixture
def nbdir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "notebooks"
    d.mkdir()
    monkeypatch.setenv("SATCO2_NOTEBOOKS_DIR", str(d))
    return d


def _write_schema(d: Path, name: str, parameters: dict, **extra) -> Path:
    p = d / f"{name}.params.yaml"
    doc = {"title": extra.get("title", name), "parameters": parameters}
    if "example" in extra:
        doc["example"] = extra["example"]
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


@pytest.fixture
def write_schema():
    """write_schema(folder, name, parameters) writes ``<folder>/<name>.params.yaml``."""
    return _write_schema
