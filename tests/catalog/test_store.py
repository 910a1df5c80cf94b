"""The store layout (satco2.catalog.store): demo manifest order and mirror locations."""
from __future__ import annotations

import json

import pytest

from satco2 import SatCO2Error
from satco2.catalog import registry, store


def _manifest(root, **extra):
    root.mkdir(parents=True, exist_ok=True)
    man = {"generators": {"a_fine": {"footprint": "ecs", "products": ["p", "q"]},
                          "b_coarse": {"footprint": "sample", "products": ["p"]}}, **extra}
    (root / store.MANIFEST).write_text(json.dumps(man))


def test_products_in_store_follow_the_build_order(tmp_path):
    _manifest(tmp_path, order=["b_coarse", "a_fine"])
    assert store.products_in_store(tmp_path) == {"p": ["sample", "ecs"], "q": ["ecs"]}


def test_products_in_store_without_order_keep_the_manifest_order(tmp_path):
    _manifest(tmp_path)  # a manifest written before the store recorded its build order
    assert store.products_in_store(tmp_path) == {"p": ["ecs", "sample"], "q": ["ecs"]}


def test_missing_and_broken_manifest(tmp_path):
    assert store.products_in_store(tmp_path / "none") == {}
    (tmp_path / store.MANIFEST).write_text("{not json")
    with pytest.raises(SatCO2Error, match="not valid JSON"):
        store.read_manifest(tmp_path)


def test_mirror_url_and_local_paths(tmp_path):
    pid = "global-sst-oisst-25km"
    path = registry.get(pid)["mirror"]["path"]
    assert store.mirror_url(pid, "s3://bucket/m") == f"s3://bucket/m/{path}"
    assert store.mirror_url(pid, "s3://bucket/m/") == f"s3://bucket/m/{path}"
    assert store.is_url("s3://bucket/x") and not store.is_url(f"file://{tmp_path}")
    assert store.local_path(f"file://{tmp_path}") == str(tmp_path)
    assert not store.store_exists(str(tmp_path)) and store.read_ledger(str(tmp_path)) is None
