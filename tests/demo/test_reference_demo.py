"""Demo generator ``reference``: every reference carbon product opens from the demo store with
its registry variables and units, and the injected signals (docs/demo-signals.md) come back."""
from __future__ import annotations

import json

import numpy as np
import pytest

from satco2 import catalog, demo
from satco2.demo import reference as gen
from satco2.science import reference as ref


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = tmp_path_factory.mktemp("refdemo")
    demo.build(only="reference", root=r)
    return r


@pytest.mark.parametrize("pid", gen.PRODUCTS)
def test_opens_with_registry_variables_and_units(root, pid):
    p = catalog.get(pid)
    ds = catalog.open(pid, source="demo", root=root, bbox=(121.0, 28.0, 124.0, 32.0))
    assert ds.attrs["synthetic"] == "yes" and "SYNTHETIC" in ds.attrs["title"]
    for name, meta in p.variables.items():
        assert name in ds, name
        assert ds[name].attrs["units"] == meta["units"], name
        if "standard_name" in meta:
            assert ds[name].attrs["standard_name"] == meta["standard_name"], name
    assert float(ds.lat.min()) >= 28.0 and float(ds.lon.max()) <= 124.0
    assert int(ds[next(iter(p.variables))].notnull().sum()) > 0


def test_seaflux_ensemble_mean_and_spread(root):
    ds = catalog.open(gen.SEAFLUX_SPCO2, source="demo", root=root, bbox=(124.0, 25.0, 129.0, 30.0),
                      time=("2010-01", "2010-12")).load()
    r = ref.regional_mean(ds.spco2)  # (product, time)
    base = ref.regional_mean(ds.spco2.isel(product=0) * 0 + gen.base_pco2(
        __import__("pandas").DatetimeIndex(ds.time.values), ds.lat.values, ds.lon.values))
    st = ref.ensemble_stats(r, "product")
    # offsets have mean 0: the ensemble mean is the base field (noise 2 uatm averaged over cells)
    np.testing.assert_allclose(st["mean"].values, base.values, atol=0.6)
    offsets = np.array(list(gen.TRUTH["seaflux_offsets"].values()))
    np.testing.assert_allclose(st["std"].values, offsets.std(), atol=0.6)
    truth = json.loads((root / "ecs" / "truth" / "reference.json").read_text())
    assert truth["truth"]["seaflux_offsets"] == gen.TRUTH["seaflux_offsets"]


def test_flux_follows_the_injected_relation(root):
    ds = catalog.open(gen.SEAFLUX_FGCO2, source="demo", root=root, time=("2005-01", "2005-03")).load()
    sp = catalog.open(gen.SEAFLUX_SPCO2, source="demo", root=root, time=("2005-01", "2005-03")).load()
    import pandas as pd

    air = gen.pco2_air(pd.DatetimeIndex(ds.time.values))[:, None, None]
    era5 = ds.fgco2.sel(wind="ERA5", product="JMA_MLR").values
    np.testing.assert_allclose(era5, 0.06 * 0.95 * (sp.spco2.sel(product="JMA_MLR").values - air), rtol=1e-5)
