"""notebooks/pco2_flux.ipynb under papermill on the (synthetic) demo store: it runs, recovers the
injected flux field of the ecs_surface generator, validates against a cruise file, and its
dashboard is rebuilt from the report folder."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from satco2 import SatCO2Error
from satco2.testing import chromium_page, serve_panel

pytestmark = pytest.mark.notebook

REGION, START, END = "changjiang_estuary", "2010-07", "2010-08"


def _no_nan(name):
    raise AssertionError(f"the statistics file is not strict JSON ({name})")


@pytest.fixture(scope="module")
def cruise_csv(notebook_demo, tmp_path_factory):
    """A SYNTHETIC underway file (documented here): 60 points sampled from the demo's true pCO2
    in the region and period, reported as fCO2 (Weiss 1974 virial factor at SST) with 4 µatm
    Gaussian noise (seed 5), so the validation path, including fCO2 -> pCO2, is exercised."""
    from satco2.science.gas_exchange import pco2_to_fco2

    t = xr.open_zarr(notebook_demo / "ecs" / "truth" / "flux.zarr")
    sst = xr.open_zarr(notebook_demo / "ecs" / "global-sst-oisst-25km.zarr").sst
    chl = xr.open_zarr(notebook_demo / "ecs" / "global-chl-modis-aqua-4km.zarr").chlor_a
    box = dict(lat=slice(28.0, 32.0), lon=slice(121.0, 124.0), time=slice(START, END))
    p, s, c = (a.sel(**box).load() for a in (t.pco2sw, sst, chl))
    ok = np.argwhere(np.isfinite(p.values) & np.isfinite(c.values))
    rng = np.random.default_rng(5)
    pick = ok[rng.choice(len(ok), 60, replace=False)]
    rows = []
    for k, i, j in pick:
        pco2 = float(p.values[k, i, j]) + rng.normal(0, 4)
        sstv = float(s.values[k, i, j])
        day = pd.Timestamp(p.time.values[k]) + pd.Timedelta(days=int(rng.integers(0, 28)), hours=3)
        rows.append({"time": day.isoformat(), "latitude": float(p.lat[i]) + rng.uniform(-0.04, 0.04),
                     "longitude": float(p.lon[j]) + rng.uniform(-0.04, 0.04), "SST": sstv,
                     "fCO2": pco2_to_fco2(pco2, sstv)})
    f = tmp_path_factory.mktemp("obs") / "synthetic_cruise.csv"
    pd.DataFrame(rows).to_csv(f, index=False)
    return f


@pytest.fixture(scope="module")
def report(notebook_demo, cruise_csv):
    import satco2.runs

    return satco2.runs.run("pco2_flux", {"region": REGION, "start": START, "end": END,
                                         "obs_file": str(cruise_csv), "n_workers": 1}, timeout=900)


@pytest.mark.slow
def test_notebook_recovers_injected_flux(report, notebook_demo):
    from satco2.analyses import pco2_flux

    d = report.dir
    ds = xr.open_zarr(d / pco2_flux.PRODUCTS_FILE).load()
    assert ds.sizes["time"] == 2 and float(ds.lat.min()) >= 28.0 and float(ds.lon.max()) <= 124.0
    truth = xr.open_zarr(notebook_demo / "ecs" / "truth" / "flux.zarr")
    truth = truth.sel(time=ds.time, lat=ds.lat, lon=ds.lon, method="nearest").load()
    ok = np.isfinite(ds.flux.values)
    assert ok.sum() > 300
    np.testing.assert_allclose(ds.flux.values[ok], truth.flux.values[ok], rtol=5e-3, atol=0.05)
    np.testing.assert_allclose(ds.pco2sw.values[ok], truth.pco2sw.values[ok], rtol=5e-3)
    # provenance in the product and the run's inputs record
    assert "chl=global-chl-modis-aqua-4km" in ds.attrs["input_products"]
    assert json.loads(ds.attrs["parameters"])["region"] == REGION
    inputs = json.loads((d / "inputs.json").read_text())
    assert {r["id"] for r in inputs} >= {"global-sst-oisst-25km", "extra-xco2-noaa-gml"}
    # summary: the four parameterizations, budget consistent with the mean flux
    s = xr.open_zarr(d / pco2_flux.SUMMARY_FILE).load()
    assert set(s.k_param.values) == {"W14", "W92", "N00", "H06"}
    assert float(s.budget.std("k_param").min()) > 0
    # validation against the synthetic cruise: small bias and RMSE (4 µatm noise + sub-cell offsets)
    st = json.loads((d / pco2_flux.STATS_FILE).read_text(), parse_constant=_no_nan)["pco2sw"]
    assert st["n"] >= 30
    assert abs(st["mean_bias"]) < 3.0 and st["rmse"] < 8.0 and st["r2"] > 0.8


@pytest.mark.slow
def test_dashboard_from_report(report):
    import holoviews as hv

    from satco2.dashboards import pco2_flux as dash

    view = dash.from_report(report.dir)
    assert type(view.get_root()).__name__ == "Column"  # the Bokeh model builds
    board = dash.PCO2FluxDashboard(*dash.load_report(report.dir))
    assert board.param.month.objects == ["2010-07", "2010-08"]
    jul = board.product_map("flux")
    board.month = "2010-08"
    aug = board.product_map("flux")
    assert jul is not aug
    band = board.seasonal_cycle()
    assert isinstance(band, hv.Overlay)
    area = band.get(0)
    assert (area.data["high"] >= area.data["low"]).all() and (area.data["high"] > area.data["low"]).any()
    table = board.budget_table()
    assert list(table.columns) == ["region", "year", "budget", "low", "high"] and len(table) == 1
    assert (table.low <= table.budget).all() and (table.budget <= table.high).all()
    assert "| pco2sw (µatm) |" in board.stats_markdown()
    assert isinstance(board.validation_scatter(), hv.Overlay)
    with pytest.raises(SatCO2Error, match="pco2_flux notebook"):
        dash.from_report(report.dir.parent)


def test_invalid_parameters_are_one_sentence(notebook_demo):
    import satco2.runs

    with pytest.raises(SatCO2Error, match="k_param"):
        satco2.runs.params.validate("pco2_flux", {"k_param": "L86"})
    with pytest.raises(SatCO2Error, match="end"):
        satco2.runs.params.validate("pco2_flux", {"start": "2010-05", "end": "2010-01"})
    with pytest.raises(SatCO2Error, match="start"):
        satco2.runs.params.validate("pco2_flux", {"start": "1990-01", "end": "1990-02"})


def test_notebook_defaults_match_schema():
    import satco2.runs

    satco2.runs.params.check_defaults("pco2_flux")


@pytest.mark.slow
@pytest.mark.browser
def test_dashboard_in_browser(report, artifacts):
    """The dashboard served by Panel on loopback renders in chromium: title, four map canvases
    not blank, and choosing another gas-transfer parameterization redraws the page."""
    import time

    from PIL import Image

    from satco2.dashboards import pco2_flux as dash

    with serve_panel(lambda: dash.from_report(report.dir)) as url, \
            chromium_page(viewport={"width": 1100, "height": 1800}) as page:
        page.goto(url, timeout=60_000)
        page.get_by_text("MeSAA pCO2 and air-sea CO2 flux").first.wait_for(timeout=60_000)
        page.get_by_text("N00").first.wait_for(timeout=60_000)
        canvas = page.locator("canvas").first
        canvas.wait_for(timeout=60_000)
        time.sleep(4)  # datashader's rasterized images arrive after the first render
        assert page.locator("canvas").count() >= 4
        shot = artifacts / "pco2_flux_dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        img = np.asarray(Image.open(shot).convert("RGB"))
        box = canvas.bounding_box()
        crop = (slice(int(box["y"]), int(box["y"] + box["height"])),
                slice(int(box["x"]), int(box["x"] + box["width"])))
        assert img[crop].std() > 10, "the first map is blank"
        page.get_by_text("N00").first.click()
        time.sleep(4)
        shot2 = artifacts / "pco2_flux_dashboard_n00.png"
        page.screenshot(path=str(shot2), full_page=True)
        img2 = np.asarray(Image.open(shot2).convert("RGB"))
        h = min(img.shape[0], img2.shape[0])
        assert np.abs(img2[:h].astype(int) - img[:h].astype(int)).mean() > 0.01, \
            "the page did not change with the parameterization"


@pytest.mark.slow
def test_dashboard_maps_show_the_analysis_region(report):
    """Every map of the dashboard built from the run: x/y ranges within the run's region (read from the Bokeh
    model), a title that fits, a colourbar with its units."""
    from satco2.dashboards import pco2_flux as dash
    from satco2.testing.dashboards import check_maps, region_bbox

    check_maps(dash.from_report(report.dir), region_bbox(REGION))


@pytest.mark.slow
@pytest.mark.browser
def test_dashboard_offline_in_browser(report, artifacts):
    """Served on loopback and opened in chromium, the dashboard requests nothing from another host."""
    from satco2.dashboards import pco2_flux as dash
    from satco2.testing.dashboards import browse

    assert browse(lambda: dash.from_report(report.dir), artifacts / "pco2_flux_dashboard_offline.png") == []
