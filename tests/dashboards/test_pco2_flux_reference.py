"""The pCO2/flux dashboard's comparison with the reference carbon products, built from a run's
products/summary (small SYNTHETIC run fields written here) against a demo store holding the
``reference`` generator: every product appears in the time series with its band, the budget bars
hold the run and each product, the flux uncertainty is shown, and the maps stay on the region."""
from __future__ import annotations

import json

import holoviews as hv
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from satco2 import demo
from satco2.dashboards import pco2_flux as dash
from satco2.dashboards import reference_panels as rp

REGION = "changjiang_estuary"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = tmp_path_factory.mktemp("refdemo")
    demo.build(only="reference", root=r)
    return r


@pytest.fixture(scope="module")
def run():
    months = pd.date_range("2010-01-01", periods=12, freq="MS")
    lat, lon = np.arange(28.05, 32, 0.1), np.arange(121.05, 124, 0.1)
    rng = np.random.default_rng(0)
    shape = (12, lat.size, lon.size)
    products = xr.Dataset({k: (("time", "lat", "lon"), v + rng.normal(0, 1, shape))
                           for k, v in dict(pco2air=385.0, pco2sw=370.0, dpco2=-15.0, flux=-2.0).items()},
                          coords={"time": months, "lat": lat, "lon": lon})
    products.attrs["parameters"] = json.dumps({"region": REGION, "source": "demo"})
    ks = ["W14", "W92", "N00", "H06"]
    summary = xr.Dataset({
        "flux_mean": (("region", "time", "k_param"), -2 + 0.1 * rng.normal(size=(1, 12, 4))),
        "budget": (("region", "time", "k_param"), -0.5 + 0.05 * rng.normal(size=(1, 12, 4))),
        "pco2sw_mean": (("region", "time"), 370 + 10 * np.cos(2 * np.pi * (months.month.values - 8) / 12)[None])},
        coords={"region": [REGION], "time": months, "k_param": ks})
    return products, summary


def test_reference_series_and_bars(root, run):
    products, summary = run
    refs, missing = dash.load_comparison(products, summary, root=root)
    assert missing == {}
    assert list(refs.reference.values) == [s["label"] for s in rp.REFERENCES]
    # SeaFlux: band over 6 products x 3 winds encloses the mean; climatology repeated by month
    sf = refs.sel(reference="SeaFlux ensemble")
    assert (sf.pco2_low < sf.pco2_mean).all() and (sf.pco2_mean < sf.pco2_high).all()
    assert float(sf.budget_mean.mean()) < 0  # the injected pCO2 is below the air's in winter-spring
    clim = refs.sel(reference="SOM-FFN coastal clim.")
    assert np.isfinite(clim.pco2_mean).all() and clim.flux_mean.isnull().all()
    cm = refs.sel(reference="CMEMS-LSCE-FFNN")
    np.testing.assert_allclose((cm.pco2_high - cm.pco2_mean).values, 12.0, rtol=1e-5)  # injected 1 sigma
    ts = rp.timeseries(pd.Series(summary.pco2sw_mean.values[0], index=summary.time.values), refs, "pco2", "pCO2")
    labels = [el.label for el in ts if type(el) is hv.Curve]  # (hv.Area is a Curve subclass)
    assert labels == [s["label"] for s in rp.REFERENCES] + ["this run"]
    assert any(isinstance(el, hv.Area) for el in ts)
    table = rp.budget_table(-0.5, -0.6, -0.4, refs)
    assert table.source.tolist() == ["this run", "SeaFlux ensemble", "CMEMS-LSCE-FFNN", "OceanSODA-ETHZ"]
    assert (table.low <= table.budget).all() and (table.budget <= table.high).all()


def test_dashboard_builds_with_comparison_and_uncertainty(root, run):
    from satco2.testing.dashboards import check_maps, region_bbox

    products, summary = run
    refs, missing = dash.load_comparison(products, summary, root=root)
    unc = {"mean": -0.56, "sigma": 0.32, "variance": 0.1024, "n_members": 64,
           "contributions": {"draw": {"variance": 0.096, "sigma": 0.31, "share": 0.94},
                             "k_param": {"variance": 0.0024, "sigma": 0.05, "share": 0.023}},
           "interactions": 0.0015, "end_member_draws": 16,
           "levels": {"wind": ["ccmp", "era5"], "xco2": ["noaa-gml"], "k_param": ["W14", "W92", "N00", "H06"]},
           "unavailable": {"windsat": "not in the demo footprint ecs"}}
    view = dash.dashboard(products, summary, references=refs, reference_missing=missing, uncertainty=unc)
    assert type(view.get_root()).__name__ == "Column"
    board = dash.PCO2FluxDashboard(products, summary, references=refs, uncertainty=unc)
    md = rp.uncertainty_markdown(unc)
    assert "-0.56 ± 0.32 Tg C yr⁻¹" in md and "| MeSAA end members | 16 draws | 0.31 | 94.0 % |" in md
    assert "| gas-transfer parameterization | W14, W92, N00, H06 | 0.05 | 2.3 % |" in md
    assert "no spread from: xCO2 record (noaa-gml)." in md and "windsat: not in the demo footprint ecs" in md
    assert "did not write an ensemble" in rp.uncertainty_markdown(None)
    assert board.run_region() == REGION
    check_maps(view, region_bbox(REGION))


def test_missing_products_are_listed_not_fatal(tmp_path, run):
    products, summary = run
    demo.build(only="ecs_ocean", root=tmp_path)  # a store without the reference products
    refs, missing = dash.load_comparison(products, summary, root=tmp_path)
    assert refs is None and set(missing) == {s["label"] for s in rp.REFERENCES}
    assert all("satco2 demo" in v for v in missing.values())
    view = dash.dashboard(products, summary, references=refs, reference_missing=missing)
    assert type(view.get_root()).__name__ == "Column"


@pytest.mark.browser
def test_comparison_offline_in_browser(root, run, artifacts):
    """Served on loopback and opened in chromium, the dashboard with its comparison panels
    requests nothing from another host and shows the comparison heading (screenshot kept)."""
    from satco2.testing.dashboards import browse

    products, summary = run
    refs, missing = dash.load_comparison(products, summary, root=root)
    shot = artifacts / "pco2_flux_reference_comparison.png"
    assert browse(lambda: dash.dashboard(products, summary, references=refs, reference_missing=missing),
                  shot, wait_text="Reference carbon products", size=(1300, 1000)) == []
    assert shot.stat().st_size > 50_000
