"""The demo framework: atomic stores, attributes, truth files, manifest, --if-missing, --docs."""
from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pytest
import xarray as xr

from satco2 import SatCO2Error, demo
from satco2.catalog import store

TOY = textwrap.dedent(
    '''
    """A toy generator written by the test."""
    import numpy as np, xarray as xr
    from satco2.demo import fields
    from satco2.catalog.footprints import FOOTPRINTS
    FOOTPRINT = "sample"
    VERSION = VERSION_PLACEHOLDER
    SIGNALS = "toy signal: a trend of 0.5 per month"
    CALLS = []
    def build(scale, seed):
        CALLS.append((scale, seed))
        c = FOOTPRINTS[FOOTPRINT].coords(scale)
        shape = (c["time"].size, c["lat"].size, c["lon"].size)
        data = fields.smooth_field(shape, seed, 4) + 0.5 * np.arange(shape[0])[:, None, None]
        ds = fields.cf_dataset({"sst": fields.cf_var(data, ("time", "lat", "lon"), "sst")},
                               c, title="toy")
        truth = xr.Dataset({"trend": ((), 0.5)})
        return {"toy-sst": ds, "truth/toy_trend": truth, "truth/toy_meta": {"trend": 0.5}}
    '''
)


@pytest.fixture
def toy(tmp_path, monkeypatch):
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "satco2_toy_gen.py").write_text(TOY.replace("VERSION_PLACEHOLDER", "1"))
    monkeypatch.syspath_prepend(str(mods))
    sys.modules.pop("satco2_toy_gen", None)
    monkeypatch.setattr(demo, "GENERATORS", {"toy": "satco2_toy_gen", "absent": "satco2_absent_gen"})
    root = tmp_path / "demo"
    monkeypatch.setenv("SATCO2_DEMO_ROOT", str(root))
    yield root, mods
    sys.modules.pop("satco2_toy_gen", None)


def test_build_writes_store_truth_and_manifest(toy):
    root, _ = toy
    man = demo.build(root=root, seed=3)
    assert list(man["generators"]) == ["toy"]  # the absent generator is skipped
    assert man["order"] == ["toy"]  # the build order, read by catalog.store.products_in_store
    ds = xr.open_zarr(root / "sample" / "toy-sst.zarr")
    assert ds.attrs["synthetic"] == "yes"
    assert ds.attrs["product_id"] == "toy-sst"
    assert ds.attrs["demo_generator"] == "toy" and ds.attrs["demo_version"] == "1"
    assert "seed 3" in ds.attrs["history"]
    assert ds["sst"].attrs["standard_name"] == "sea_surface_temperature"
    assert (root / "sample" / "toy-sst.zarr" / "zarr.json").exists()
    assert "consolidated_metadata" in json.loads((root / "sample" / "toy-sst.zarr" / "zarr.json").read_text())
    assert float(xr.open_zarr(root / "sample" / "truth" / "toy_trend.zarr")["trend"]) == 0.5
    assert json.loads((root / "sample" / "truth" / "toy_meta.json").read_text()) == {"trend": 0.5}
    entry = json.loads((root / "MANIFEST.json").read_text())["generators"]["toy"]
    assert entry["products"] == ["toy-sst"] and entry["seed"] == 3 and entry["bytes"] > 0
    assert not [p for p in (root / "sample").iterdir() if p.name.startswith(".")]  # no temp left


def test_deterministic(toy, tmp_path):
    root, _ = toy
    demo.build(root=root, seed=5)
    a = xr.open_zarr(root / "sample" / "toy-sst.zarr")["sst"].values
    demo.build(root=tmp_path / "other", seed=5)
    b = xr.open_zarr(tmp_path / "other" / "sample" / "toy-sst.zarr")["sst"].values
    np.testing.assert_array_equal(a, b)
    demo.build(root=tmp_path / "third", seed=6)
    c = xr.open_zarr(tmp_path / "third" / "sample" / "toy-sst.zarr")["sst"].values
    assert not np.array_equal(a, c)


def test_if_missing_rebuilds_only_what_changed(toy):
    root, mods = toy
    import importlib

    demo.build(root=root)
    mod = importlib.import_module("satco2_toy_gen")
    mod.CALLS.clear()
    demo.build(root=root, if_missing=True)
    assert mod.CALLS == []  # current: nothing rebuilt
    demo.build(root=root, if_missing=True, seed=7)
    assert mod.CALLS == [(1, 7)]  # seed changed
    import shutil

    shutil.rmtree(root / "sample" / "toy-sst.zarr")
    demo.build(root=root, if_missing=True, seed=7)
    assert mod.CALLS == [(1, 7), (1, 7)]  # output missing
    mod.VERSION = 2
    demo.build(root=root, if_missing=True, seed=7)
    assert len(mod.CALLS) == 3  # version bumped
    assert store.read_manifest(root)["generators"]["toy"]["version"] == "2"


def test_failed_write_leaves_previous_store(toy, monkeypatch):
    root, _ = toy
    demo.build(root=root, seed=3)
    before = xr.open_zarr(root / "sample" / "toy-sst.zarr")["sst"].values

    def boom(self, *a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_zarr", boom)
    with pytest.raises(OSError):
        demo.build(root=root, seed=4)
    monkeypatch.undo()
    after = xr.open_zarr(root / "sample" / "toy-sst.zarr")["sst"].values
    np.testing.assert_array_equal(before, after)
    assert not [p for p in (root / "sample").iterdir() if p.name.startswith(".")]


def test_bad_arguments(toy):
    root, _ = toy
    with pytest.raises(SatCO2Error, match="unknown demo generator"):
        demo.build(root=root, only="nope")
    with pytest.raises(SatCO2Error, match="scale"):
        demo.build(root=root, scale=0)


def test_signals_doc(toy, tmp_path):
    path = demo.write_signals_doc(tmp_path / "demo-signals.md")
    text = path.read_text()
    assert "## `toy`" in text and "trend of 0.5 per month" in text


def test_default_chunks_time_appendable():
    ds = xr.Dataset({"a": (("time", "lat", "lon"), np.zeros((40, 100, 100), "f4"))})
    ch = demo.default_chunks(ds)
    assert ch["time"] == 40  # 40*100*100*4 bytes < 8 MB: one chunk
    ds = xr.Dataset({"a": (("time", "lat", "lon"), np.zeros((40, 1000, 1000), "f4"))})
    assert demo.default_chunks(ds)["time"] == 2
