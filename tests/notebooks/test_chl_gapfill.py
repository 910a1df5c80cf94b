"""notebooks/chl_gapfill.ipynb under papermill on the (synthetic) demo store with a tiny training
budget: it runs, DINEOF recovers the demo's cloud-free chlorophyll (the ecs_surface truth) at the
real cloud gaps better than a per-pixel mean, the learned weights are saved beside the run, the
forecast interval covers the later observations, and the dashboard is rebuilt from the report."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from satco2 import SatCO2Error

pytestmark = pytest.mark.notebook

PARAMS = {"region": "changjiang_estuary", "start": "2009-01", "end": "2014-12", "method": "learned",
          "missing_rate": 0.5, "rates": [0.5], "protocol": "clouds", "horizon": 2,
          "train_end": "2012-12", "train_steps": 4, "n_samples": 3}


@pytest.fixture(scope="module")
def report(notebook_demo):
    import satco2.runs

    return satco2.runs.run("chl_gapfill", PARAMS, timeout=1200)


@pytest.mark.slow
def test_notebook_fills_and_scores(report, notebook_demo):
    d = report.dir
    filled = xr.open_zarr(d / "filled.zarr", consolidated=False).load()
    assert filled.attrs["gapfill_method"] == "learned"
    assert (d / "weights" / "learned_imputer.pt").exists()  # weights beside the run
    assert filled.sizes["sample"] == 3 and filled.sizes["time"] == 72
    obs = filled.observed.values
    assert np.isfinite(filled.filled.values[np.isfinite(obs).any(axis=0)[None].repeat(72, 0)]).all()
    np.testing.assert_array_equal(filled.filled.values[np.isfinite(obs)], obs[np.isfinite(obs)])

    # DINEOF at the real cloud gaps against the demo's cloud-free truth
    truth = xr.open_zarr(notebook_demo / "ecs" / "truth" / "flux.zarr").chlor_a
    truth = truth.sel(time=filled.time, lat=filled.lat, lon=filled.lon, method="nearest").load().values
    from satco2.science.gapfill import DINEOF

    dn = DINEOF().fit(filled.observed)
    gap = ~np.isfinite(obs) & np.isfinite(truth)
    err = np.abs(np.log10(dn.filled.values) - np.log10(truth))[gap].mean()
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):  # land pixels: empty means
        pixmean = np.nanmean(np.log10(obs), axis=0)
    naive = np.abs(pixmean[None] - np.log10(truth))[gap & np.isfinite(pixmean)[None]].mean()
    assert err < naive and err < 0.2  # the demo's white pixel noise is 0.15 dex (floor ~0.12)

    import pandas as pd

    m = pd.read_csv(d / "metrics.csv")
    assert set(m.method) == {"dineof", "learned"} and set(m.rate) == {0.5}
    assert (m.hidden_fraction.sub(0.5).abs() < 0.02).all()
    assert (m.mae < 0.3).all() and (m.pcc > 0.5).all()
    s = pd.read_csv(d / "skill.csv")
    assert set(s.lead_year) == {1, 2}
    assert set(s.method) == {"climatology", "persistence", "damped_anomaly"}
    assert (s.coverage > 0.5).all()
    fc = xr.open_zarr(d / "forecast.zarr", consolidated=False).load()
    ok = np.isfinite(fc["mean"].values)
    assert fc.sizes["time"] == 24 and ok.sum() > 10000
    assert (fc["upper"].values[ok] >= fc["lower"].values[ok]).all()


@pytest.mark.slow
def test_dashboard_from_report(report):
    import holoviews as hv

    from satco2.dashboards import chl_gapfill as dash

    view = dash.from_report(report.dir)
    assert type(view.get_root()).__name__ == "Column"
    board = dash.GapfillDashboard(dash.load_report(report.dir))
    layout = board.maps()
    assert len(layout) == 3
    first = board.series()
    board.lat = board.param.lat.objects[0]
    board.lon = board.param.lon.objects[-1]
    second = board.series()
    assert isinstance(second, hv.Overlay) and first is not second
    area = second.get(0)
    assert (area.data["upper"] >= area.data["lower"]).all()
    assert set(board.metric_table().method) == {"dineof", "learned"}
    with pytest.raises(SatCO2Error, match="chl_gapfill"):
        dash.from_report(report.dir.parent)


def test_invalid_parameters_are_one_sentence():
    import satco2.runs

    with pytest.raises(SatCO2Error, match="method"):
        satco2.runs.params.validate("chl_gapfill", {"method": "kriging"})
    with pytest.raises(SatCO2Error, match="missing_rate"):
        satco2.runs.params.validate("chl_gapfill", {"missing_rate": 1.5})


def test_notebook_defaults_match_schema():
    import satco2.runs

    satco2.runs.params.check_defaults("chl_gapfill")


@pytest.mark.slow
def test_dashboard_maps_show_the_analysis_region(report):
    """Every map of the dashboard built from the run: x/y ranges within the run's region (read from the Bokeh
    model), a title that fits, a colourbar with its units."""
    from satco2.dashboards import chl_gapfill as dash
    from satco2.testing.dashboards import check_maps, region_bbox

    check_maps(dash.from_report(report.dir), region_bbox(PARAMS['region']))


@pytest.mark.slow
@pytest.mark.browser
def test_dashboard_offline_in_browser(report, artifacts):
    """Served on loopback and opened in chromium, the dashboard requests nothing from another host."""
    from satco2.dashboards import chl_gapfill as dash
    from satco2.testing.dashboards import browse

    assert browse(lambda: dash.from_report(report.dir), artifacts / "chl_gapfill_dashboard_offline.png") == []
