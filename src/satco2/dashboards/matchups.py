"""Dashboard of ``notebooks/matchups.ipynb``: in-situ observations matched with a gridded product.

:class:`MatchupsDashboard` (state in ``param``, layout in ``__panel__``) shows, for the region
chosen with a selector (``all`` = every observation; the regions with match-ups otherwise):

- the observations on a map, coloured by the residual (product − observation) on a grey sea (a
  zero residual is white), one marker each up to :data:`MAX_MARKERS`, above that rasterized by
  datashader with isolated pixels spread (millions of points stay fast), under the land and
  coastlines of :func:`satco2.dashboards.maps.land`;
- the scatter of product against observation (rasterized counts) with the 1:1 line, and the
  statistics (N, mean bias, RMSE, R²) of the region, overall and per month;
- the residuals in time: every match-up (rasterized) and the monthly mean bias;
- the counts of the run: observations matched, outside the grid or period, without a valid pixel,
  flagged.

:func:`from_report` rebuilds it from a report folder (``matchups.csv`` and its ``.stats.csv`` and
``.summary.json``, written by :func:`satco2.analyses.matchups.match_file`).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import param

from .. import SatCO2Error
from ..science import regions as R

TITLE = "Match-ups: in-situ observations vs a gridded product"
TABLE = "matchups.csv"
STATS = TABLE + ".stats.csv"
SUMMARY = TABLE + ".summary.json"
#: up to this many observations the residual map draws one marker per observation (OBS_MARKER_SIZE
#: screen pixels); above it, it rasterizes with datashader and spreads isolated pixels (OBS_SPREAD_PX)
MAX_MARKERS = 20_000
OBS_MARKER_SIZE = 6
OBS_SPREAD_PX = 4
#: background of the residual map: a mid grey, so that the white of a zero residual stays visible
SEA_BACKGROUND = "#9aa5ad"


def _hv():
    import holoviews as hv
    import holoviews.plotting.bokeh  # noqa: F401

    return hv


def _fmt(x, d=2) -> str:
    return "–" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{d}f}"


class MatchupsDashboard(param.Parameterized):
    """The match-up dashboard of one run (see the module docstring)."""

    region = param.Selector(default="all", objects=["all"], doc="region of the plots and statistics")

    def __init__(self, table: pd.DataFrame, stats: pd.DataFrame, summary: dict, regions=None, **params):
        self.summary = summary
        self.obs_col = f"obs_{summary['quantity']}"
        self.model_col = f"model_{summary['variable']}"
        missing = [c for c in (self.obs_col, self.model_col, "flag", "lat", "lon", "time") if c not in table]
        if missing:
            raise SatCO2Error(f"the match-up table has no columns {missing}; was it written by satco2.analyses.matchups?")
        self.table = table
        self.ok = table[table["flag"] == "ok"].copy()
        self.ok["residual"] = self.ok[self.model_col] - self.ok[self.obs_col]
        self.stats = stats
        self.regions = regions or {}
        names = ["all"] + sorted(r for r in stats.region.unique() if r != "all" and r in self.regions)
        self.param.region.objects = names
        super().__init__(**params)

    # --- data of the selected region -------------------------------------------------------
    def selection(self) -> pd.DataFrame:
        if self.region == "all" or self.region not in self.regions:
            return self.ok
        import shapely

        g = self.regions[self.region]
        lon = ((self.ok.lon.values + 180.0) % 360.0) - 180.0
        return self.ok[shapely.contains_xy(g, lon, self.ok.lat.values)]

    def region_stats(self) -> pd.DataFrame:
        return self.stats[self.stats.region == self.region]

    @property
    def units(self) -> str:
        return self.summary.get("units", "")

    # --- pieces (each testable on its own) ---------------------------------------------------
    def obs_map(self):
        """Observations coloured by residual, over land and coastlines."""
        import datashader as ds
        from holoviews.operation.datashader import dynspread, rasterize

        from . import maps

        hv = _hv()
        d = self.selection()
        lon = d.lon.values
        if len(d):
            lon = np.where(lon > 180, lon - 360, lon)
        pts = hv.Points((lon, d.lat.values, d.residual.values), kdims=["x", "y"], vdims=["residual"])
        m = float(np.nanpercentile(np.abs(d.residual), 95)) if len(d) else 1.0
        style = dict(cmap="RdBu_r", clim=(-m or -1.0, m or 1.0), colorbar=True, width=520, height=420,
                     clabel=f"product − observation ({self.units})",
                     bgcolor=SEA_BACKGROUND)  # the diverging map is white at zero: visible on grey
        if len(d) <= MAX_MARKERS:
            # each observation a marker of its own, big enough to read its colour
            r = pts.opts(color="residual", size=OBS_MARKER_SIZE, line_color=None, **style)
        else:
            # millions: rasterized (datashader), each isolated pixel spread up to OBS_SPREAD_PX
            r = dynspread(rasterize(pts, aggregator=ds.mean("residual")), threshold=0.5,
                          max_px=OBS_SPREAD_PX).opts(**style)
        r = r.opts(
            tools=["hover"], xlabel="longitude (°E)", ylabel="latitude (°N)",
            title=f"Residual product − observation ({self.units}), {self.region}")
        if len(d):
            pad = 1.0
            bbox = (float(lon.min()) - pad, float(d.lat.min()) - pad, float(lon.max()) + pad,
                    float(d.lat.max()) + pad)
            return r * maps.land(bbox)
        return r

    def scatter(self):
        """Product against observation (rasterized counts), 1:1 line."""
        import datashader as ds
        from holoviews.operation.datashader import rasterize

        hv = _hv()
        d = self.selection()
        o, m = d[self.obs_col].values, d[self.model_col].values
        if len(d):
            lo = float(np.nanmin([o.min(), m.min()]))
            hi = float(np.nanmax([o.max(), m.max()]))
        else:
            lo, hi = 0.0, 1.0
        pts = hv.Points((o, m), kdims=["observation", "product"])
        r = rasterize(pts, aggregator=ds.count(), x_range=(lo, hi), y_range=(lo, hi)).opts(
            cmap="viridis", cnorm="log", colorbar=True, width=420, height=420, tools=["hover"])
        one = hv.Curve([(lo, lo), (hi, hi)], label="1:1").opts(color="black", line_dash="dashed")
        return (r * one).opts(title=f"{self.summary['variable']} vs in situ {self.summary['quantity']}, "
                                    f"{self.region}", xlabel=f"observation ({self.units})",
                              ylabel=f"product ({self.units})")

    def residuals_in_time(self):
        """Every residual against time (rasterized) and the monthly mean bias."""
        import datashader as ds
        from holoviews.operation.datashader import rasterize

        hv = _hv()
        d = self.selection()
        t = pd.DatetimeIndex(d.time)
        pts = hv.Points((t, d.residual.values), kdims=["time", "residual"])
        r = rasterize(pts, aggregator=ds.count()).opts(cmap="Greys", cnorm="log", width=620, height=300)
        s = self.region_stats()
        s = s[s.month != "all"]
        curve = hv.Curve((pd.to_datetime(s.month.values) + pd.Timedelta(days=14), s.mean_bias.values),
                         "time", "mean bias", label="monthly mean bias").opts(color="firebrick", line_width=2)
        zero = hv.HLine(0).opts(color="black", line_dash="dotted")
        return (r * curve * zero).opts(title=f"Residuals in time ({self.units}), {self.region}",
                                       ylabel=f"product − observation ({self.units})")

    def stats_markdown(self) -> str:
        s = self.region_stats()
        c = self.summary.get("counts", {})
        lines = [
            f"**{Path(self.summary.get('obs_file', '')).name}** ({self.summary.get('format')}) vs "
            f"**{self.summary.get('variable')}** of `{self.summary.get('product')}` "
            f"(source {self.summary.get('source')}; window ±{self.summary.get('window_days')} d, "
            f"±{self.summary.get('window_pixels')} px, {self.summary.get('stat')})",
            "",
            f"{c.get('observations', 0)} observations: {c.get('ok', 0)} matched, "
            f"{c.get('outside_grid', 0)} outside the grid, {c.get('outside_period', 0)} outside the "
            f"period, {c.get('no_valid_pixel', 0)} without a valid pixel, "
            f"{c.get('obs_missing', 0)} without a value, {c.get('obs_quality', 0)} flagged.",
            "", f"| {self.region} | N | mean bias | RMSE | R² |", "| --- | ---: | ---: | ---: | ---: |",
        ]
        for _, r in s.iterrows():
            lines.append(f"| {r.month} | {int(r.n)} | {_fmt(r.mean_bias)} | {_fmt(r.rmse)} | {_fmt(r.r2, 3)} |")
        return "\n".join(lines)

    @param.depends("region")
    def _body(self):
        import panel as pn

        return pn.Column(
            pn.Row(pn.pane.HoloViews(self.obs_map()), pn.pane.HoloViews(self.scatter())),
            pn.Row(pn.pane.HoloViews(self.residuals_in_time()), pn.pane.Markdown(self.stats_markdown())),
        )

    def __panel__(self):
        import panel as pn

        select = pn.widgets.Select.from_param(self.param.region, name="Region")
        synthetic = self.summary.get("synthetic") == "yes" or self.summary.get("synthetic_obs")
        head = f"## {TITLE}" + ("\n\n**Synthetic demo data.**" if synthetic else "")
        return pn.Column(pn.pane.Markdown(head), select, self._body)


def load_report(report_dir):
    """(table, stats, summary) from a report folder of ``notebooks/matchups.ipynb``."""
    d = Path(report_dir)
    files = [d / TABLE, d / STATS, d / SUMMARY]
    if not all(f.exists() for f in files):
        raise SatCO2Error(f"the report folder {d} has no {TABLE} with its statistics; "
                          "was it made by the matchups notebook?")
    summary = json.loads(files[2].read_text())
    table = pd.read_csv(files[0], parse_dates=["time"])
    stats = pd.read_csv(files[1], dtype={"month": str, "region": str})
    return table, stats, summary


def dashboard(table: pd.DataFrame, stats: pd.DataFrame, summary: dict):
    """The Panel dashboard of a match-up table, its statistics and summary."""
    import panel as pn

    names = [r for r in stats.region.unique() if r != "all"]
    geoms = {}
    for n in names:
        try:
            geoms[n] = R.get(n).geometry
        except SatCO2Error:
            continue
    return pn.panel(MatchupsDashboard(table, stats, summary, geoms))


def from_report(report_dir):
    """Rebuild the dashboard from a report folder of ``notebooks/matchups.ipynb``."""
    return dashboard(*load_report(report_dir))
