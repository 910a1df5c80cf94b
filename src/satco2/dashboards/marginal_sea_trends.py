"""Dashboard of ``notebooks/marginal_sea_trends.ipynb``: marginal-sea trends.

:class:`TrendsDashboard` (state in ``param``, layout in ``__panel__``) shows

- the seas × variables table: slope in % of the mean per year with significance marks
  (``*`` p < alpha, ``**`` p < alpha/5, ``***`` p < alpha/50), and the absolute slopes and p-values;
- the per-pixel trend map (%/yr) of the chosen variable, datashaded with land and coastlines
  (:func:`satco2.dashboards.maps.raster`), non-significant pixels optionally hidden;
- the regional series of the chosen sea and variable: deseasonalized monthly anomalies with the
  fitted trend line.

:func:`from_report` rebuilds it from a report folder (the files written by
:func:`satco2.analyses.marginal_sea_trends.run_analysis`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import param
import xarray as xr

from .. import SatCO2Error
from ..analyses import marginal_sea_trends
from . import maps as _maps

TITLE = "Marginal-sea trends"


def _hv():
    import holoviews as hv
    import holoviews.plotting.bokeh  # noqa: F401

    return hv


def marks(p: float, alpha: float) -> str:
    """Significance marks of a p-value: '***' < alpha/50, '**' < alpha/5, '*' < alpha, else ''."""
    if p is None or not np.isfinite(p):
        return "?"
    return "***" if p < alpha / 50 else "**" if p < alpha / 5 else "*" if p < alpha else ""


def summary_table(table: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Seas (rows) × variables (columns) of '<slope %/yr><marks>' strings."""
    if table.empty:
        return pd.DataFrame()
    cell = table.apply(lambda r: f"{r.slope_pct:+.2f}{marks(r.p_value, alpha)}"
                       if np.isfinite(r.slope_pct) else "n/a", axis=1)
    t = table.assign(cell=cell).pivot(index="sea", columns="variable", values="cell")
    t = t.reindex(index=list(dict.fromkeys(table.sea)), columns=list(dict.fromkeys(table.variable)))
    t.columns = [f"{c} (%/yr)" for c in t.columns]
    return t


def load_report(report_dir) -> tuple[xr.Dataset, pd.DataFrame, dict[str, xr.Dataset]]:
    """(regional Dataset, table, {variable: map Dataset}) from a report folder."""
    d = Path(report_dir)
    reg = d / marginal_sea_trends.REGIONAL_FILE
    tab = d / marginal_sea_trends.TABLE_FILE
    if not reg.exists() or not tab.exists():
        raise SatCO2Error(f"the folder {d} holds no output of the marginal_sea_trends notebook "
                          f"({marginal_sea_trends.REGIONAL_FILE}, {marginal_sea_trends.TABLE_FILE})")
    regional = xr.open_zarr(reg).load()
    table = pd.read_csv(tab)
    maps = {}
    for v in regional.attrs.get("variables", "").split(","):
        p = d / marginal_sea_trends.MAPS_FILE.format(variable=v)
        if v and p.exists():
            maps[v] = xr.open_zarr(p).load()
    return regional, table, maps


class TrendsDashboard(param.Parameterized):
    """The trends dashboard of one run (see the module docstring)."""

    variable = param.Selector(default=None, objects=[], doc="variable of the map and the series")
    sea = param.Selector(default=None, objects=[], doc="sea of the regional series")
    significant_only = param.Boolean(default=False, doc="hide pixels whose trend is not significant")

    def __init__(self, regional: xr.Dataset, table: pd.DataFrame, maps: dict | None = None, **kw):
        self.regional = regional
        self.table = table
        self.maps = maps or {}
        self.alpha = float(regional.attrs.get("alpha", 0.05))
        variables = [v for v in regional.attrs.get("variables", "").split(",") if v]
        seas = [str(s) for s in regional.region.values]
        super().__init__(**kw)
        self.param.variable.objects = variables
        self.param.sea.objects = seas
        if self.variable is None and variables:
            self.variable = variables[0]
        if self.sea is None and seas:
            self.sea = seas[0]

    # --- pieces (tests call them) -----------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        return summary_table(self.table, self.alpha)

    def trend_map(self):
        """Per-pixel trend (% of the mean per year) of the chosen variable, or a note."""
        m = self.maps.get(self.variable)
        if m is None:
            return _maps.empty(f"No trend map of {self.variable} in this run.", width=700)
        da = m["slope_pct"]
        if self.significant_only:
            da = da.where(m["significant"].astype(bool))
        da = da.where(m["coverage"] > 0)
        if not np.isfinite(da.values).any():
            return _maps.empty(f"No pixel of the {self.variable} trend map has data"
                               + (" that is significant." if self.significant_only else "."), width=700)
        da = da.rename(f"{self.variable}_trend")
        da.attrs = {"long_name": f"{self.variable} trend, % of the mean per year", "units": "% yr-1"}
        return _maps.raster(da, cmap="RdBu_r", symmetric=True, width=900,
                            when=str(self.regional.attrs.get("period", "")))

    def series(self):
        """Deseasonalized anomalies of the chosen sea and variable with the fitted trend line."""
        hv = _hv()
        v, s = self.variable, self.sea
        anom = self.regional[f"{v}_anomaly"].sel(region=s)
        fit = self.regional[f"{v}_fit"].sel(region=s)
        units = self.regional[f"{v}_series"].attrs.get("units", "")
        row = self.table[(self.table.sea == s) & (self.table.variable == v)].iloc[0]
        label = (f"trend {row.slope:+.3g} {units}/yr ({row.slope_pct:+.2f} %/yr, "
                 f"p = {row.p_value:.2g}{marks(row.p_value, self.alpha)})")
        t = pd.DatetimeIndex(anom.time.values)
        c = hv.Curve((t, anom.values), "time", f"{v} anomaly ({units})", label="monthly anomaly")
        f = hv.Curve((t, fit.values), "time", f"{v} anomaly ({units})", label=label)
        return (c.opts(color="#1f77b4", line_width=1) * f.opts(color="#d62728", line_width=2)).opts(
            title=f"{s}: {v}", width=700, height=300, legend_position="top_left", show_grid=True)

    @param.depends("variable", "significant_only")
    def _map_view(self):
        return self.trend_map()

    @param.depends("variable", "sea")
    def _series_view(self):
        return self.series()

    def __panel__(self):
        import panel as pn

        a = self.regional.attrs
        head = pn.pane.Markdown(
            f"## {TITLE}\nMethod: {a.get('method_title', a.get('method'))}; period {a.get('period')}; "
            f"alpha = {self.alpha}; source: {a.get('source')}. Marks: * p < {self.alpha}, "
            f"** p < {self.alpha / 5:g}, *** p < {self.alpha / 50:g}.")
        table = pn.pane.DataFrame(self.summary(), sizing_mode="stretch_width")
        details = pn.pane.DataFrame(self.table.round(5), sizing_mode="stretch_width", max_height=300)
        controls = pn.Param(self.param, parameters=["variable", "sea", "significant_only"],
                            widgets={"variable": pn.widgets.RadioButtonGroup,
                                     "sea": pn.widgets.Select}, show_name=False)
        return pn.Column(head, pn.Row(controls, table),
                         pn.Tabs(("Trend map", self._map_view), ("Regional series", self._series_view),
                                 ("All statistics", details)))


def from_report(report_dir):
    """The dashboard of a marginal_sea_trends report folder (a Panel viewable)."""
    import panel as pn

    board = TrendsDashboard(*load_report(report_dir))
    return pn.panel(board)
