"""notebooks/marginal_sea_trends.ipynb on the (synthetic) eurasia demo: the injected per-sea trends
are recovered within their noise, the notebook runs under papermill, its dashboard is rebuilt from
the report folder, and bad parameters get one-sentence errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from satco2 import SatCO2Error

SEAS = ["persian_gulf", "baltic_sea", "south_china_sea", "sea_of_japan"]


@pytest.mark.slow
def test_injected_trends_recovered_within_noise(notebook_demo, tmp_path):
    from satco2.analyses import marginal_sea_trends
    from satco2.science import regions

    truth = json.loads((notebook_demo / "eurasia" / "truth" / "trends.json").read_text())
    seas = regions.names("bai2018")
    out = marginal_sea_trends.run_analysis(seas, ["sst", "par", "chlor_a", "sdd"], "2003-01", "2014-12",
                                           tmp_path, method="ols", maps=False)
    reg = out["regional"]
    n_sig = 0
    for v in ["sst", "par", "chlor_a", "sdd"]:
        for s in seas:
            est = float(reg[f"{v}_slope"].sel(region=s))
            se = float(reg[f"{v}_stderr"].sel(region=s))
            true = truth["seas"][s][v]["slope"]
            # OLS standard error of the regional anomaly series (noise + cloud gaps)
            assert abs(est - true) < 4.5 * se + 1e-6, (s, v, est, true, se)
            n_sig += bool(reg[f"{v}_significant"].sel(region=s))
    assert n_sig >= 36  # most injected trends are detectable
    # the paper's headline number: Persian Gulf SDD about 3 %/yr and 0.25 m/yr
    pg = out["table"].query("sea == 'persian_gulf' and variable == 'sdd'").iloc[0]
    assert 2.5 < pg.slope_pct < 3.5 and 0.2 < pg.slope < 0.3 and pg.p_value < 0.001


def test_bad_period_and_sea_are_clear_errors(notebook_demo, tmp_path):
    from satco2.analyses import marginal_sea_trends

    with pytest.raises(SatCO2Error, match="outside the demo data"):
        marginal_sea_trends.run_analysis(["persian_gulf"], ["sst"], "1995-01", "2000-12", tmp_path, maps=False)
    with pytest.raises(SatCO2Error, match="unknown region 'dead_sea'"):
        marginal_sea_trends.run_analysis(["dead_sea"], ["sst"], "2003-01", "2004-12", tmp_path, maps=False)
    with pytest.raises(SatCO2Error, match="unknown variable"):
        marginal_sea_trends.run_analysis(["persian_gulf"], ["salinity"], "2003-01", "2004-12", tmp_path, maps=False)
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_invalid_parameters_are_one_sentence(notebook_demo):
    import satco2.runs

    with pytest.raises(SatCO2Error, match="seas"):
        satco2.runs.params.validate("marginal_sea_trends", {"seas": ["atlantis"]})
    with pytest.raises(SatCO2Error, match="start"):
        satco2.runs.params.validate("marginal_sea_trends", {"start": "1990-01", "end": "1991-01"})
    with pytest.raises(SatCO2Error, match="method"):
        satco2.runs.params.validate("marginal_sea_trends", {"method": "spline"})


def test_notebook_defaults_match_schema():
    import satco2.runs

    satco2.runs.params.check_defaults("marginal_sea_trends")


@pytest.fixture(scope="module")
def report(notebook_demo):
    import satco2.runs

    return satco2.runs.run("marginal_sea_trends",
                           {"seas": SEAS, "variables": ["sdd", "sst"], "start": "2003-01",
                            "end": "2014-12", "method": "theil_sen_mk_hr", "n_workers": 1},
                           timeout=900)


@pytest.mark.notebook
@pytest.mark.slow
def test_notebook_runs_and_dashboard_rebuilds(report, notebook_demo):
    import holoviews as hv

    from satco2.analyses import marginal_sea_trends
    from satco2.dashboards import marginal_sea_trends as dash

    d = report.dir
    reg = xr.open_zarr(d / marginal_sea_trends.REGIONAL_FILE).load()
    assert list(reg.region.values) == SEAS and reg.attrs["method"] == "theil_sen_mk_hr"
    truth = json.loads((notebook_demo / "eurasia" / "truth" / "trends.json").read_text())
    # SDD rises in every sea, as injected; Theil-Sen close to the truth
    for s in SEAS:
        est = float(reg.sdd_slope_pct.sel(region=s))
        assert est == pytest.approx(truth["seas"][s]["sdd"]["slope_pct"], abs=0.5)
    m = xr.open_zarr(d / marginal_sea_trends.MAPS_FILE.format(variable="sdd")).load()
    inside = m.coverage.values > 0.99
    assert np.isfinite(m.slope_pct.values[inside]).mean() > 0.9
    assert np.isnan(m.slope_pct.values[m.coverage.values == 0]).all()
    board = dash.TrendsDashboard(*dash.load_report(d))
    t = board.summary()
    assert list(t.index) == SEAS and list(t.columns) == ["sdd (%/yr)", "sst (%/yr)"]
    assert t.loc["persian_gulf", "sdd (%/yr)"].endswith("***")
    board.sea, board.variable = "baltic_sea", "sst"
    assert isinstance(board.series(), hv.Overlay)
    assert board.trend_map() is not None
    assert dash.from_report(d) is not None
    with pytest.raises(SatCO2Error, match="marginal_sea_trends"):
        dash.from_report(d.parent)


@pytest.mark.slow
def test_dashboard_maps_show_the_analysis_region(report):
    """Every map of the dashboard built from the run: x/y ranges within the union of the seas' boxes (read from the Bokeh
    model), a title that fits, a colourbar with its units."""
    from satco2.dashboards import marginal_sea_trends as dash
    from satco2.testing.dashboards import check_maps, region_bbox

    check_maps(dash.from_report(report.dir), region_bbox(*SEAS))


@pytest.mark.slow
@pytest.mark.browser
def test_dashboard_offline_in_browser(report, artifacts):
    """Served on loopback and opened in chromium, the dashboard requests nothing from another host."""
    from satco2.dashboards import marginal_sea_trends as dash
    from satco2.testing.dashboards import browse

    assert browse(lambda: dash.from_report(report.dir), artifacts / "marginal_sea_trends_dashboard_offline.png") == []
