"""notebooks/matchups.ipynb under papermill with its defaults on the (synthetic) demo store: a
synthetic cruise sampled from the demo SST (+ 0.3 degC noise) is matched back, the statistics
recover the noise, and the dashboard is rebuilt from the report folder and reacts to its widget."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from satco2 import SatCO2Error

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def report(notebook_demo):
    import satco2.runs

    return satco2.runs.run("matchups", {"n_obs": 2000}, timeout=600)


def test_defaults_match_the_schema():
    from satco2.runs import params

    params.check_defaults("matchups")


def test_notebook_recovers_the_noise(report):
    d = report.dir
    t = pd.read_csv(d / "matchups.csv", parse_dates=["time"])
    summary = json.loads((d / "matchups.csv.summary.json").read_text())
    assert summary["synthetic_obs"] is True and summary["variable"] == "sst"
    assert summary["counts"]["observations"] == len(t) > 1000
    assert summary["counts"]["ok"] == (t.flag == "ok").sum() == len(t)  # sampled on valid pixels
    stats = pd.read_csv(d / "matchups.csv.stats.csv", dtype={"month": str})
    row = stats[(stats.region == "all") & (stats.month == "all")].iloc[0]
    assert abs(row.mean_bias) < 0.05 and 0.25 < row.rmse < 0.35  # the 0.3 degC noise
    var = t.model_sst.var()  # R² of truth + independent 0.3 degC noise: var / (var + 0.09)
    assert row.r2 == pytest.approx(var / (var + 0.09), abs=0.08)
    assert "ecs" in set(stats.region)
    assert sorted(stats[stats.month != "all"].month.unique()) == ["2010-05", "2010-06", "2010-07", "2010-08", "2010-09"]
    assert (t.dist_km <= 20).all() and (t.dt_days.abs() <= 16).all()  # 0.1 deg cells, monthly steps


def test_dashboard_from_report(report, tmp_path):
    import panel as pn

    from satco2.dashboards import matchups as dash
    from satco2.science import regions

    table, stats, summary = dash.load_report(report.dir)
    view = dash.MatchupsDashboard(table, stats, summary, {"ecs": regions.get("ecs").geometry})
    all_md = view.stats_markdown()
    assert "| all |" in all_md and "matched" in all_md
    n_all = len(view.selection())
    view.region = "ecs"
    assert 0 < len(view.selection()) <= n_all and "| ecs |" in view.stats_markdown()
    for piece in (view.obs_map(), view.scatter(), view.residuals_in_time()):
        pn.pane.HoloViews(piece).get_root()  # renders with bokeh
    # readable residual map: a marker per observation, big enough to see its colour, on a background
    # that is not the white of a zero residual (seen: one-pixel white dots on white, nothing visible)
    import holoviews as hv
    from bokeh.models import Scatter

    fig = hv.render(view.obs_map(), backend="bokeh")
    marks = [r.glyph for r in fig.renderers if isinstance(getattr(r, "glyph", None), Scatter)]
    assert marks and all(g.size >= 5 for g in marks)
    assert fig.background_fill_color not in ("white", "#ffffff", "#fff")
    assert isinstance(dash.from_report(report.dir), pn.viewable.Viewable)
    with pytest.raises(SatCO2Error, match="made by the matchups notebook"):
        dash.from_report(tmp_path)


@pytest.mark.slow
def test_offline_snapshot_of_the_dashboard(report):
    """What `satco2 publish` writes: the offline HTML snapshot, with the region states embedded."""
    from satco2.runs import publish

    html = publish.snapshot(report.dir).read_text()
    assert "Match-ups" in html and "ecs" in html and len(html) > 100_000
