"""Dashboard of notebooks/chl_gapfill.ipynb: gap-filled chlorophyll, metrics and forecast.

:func:`from_report` rebuilds it from a report folder written by
:func:`satco2.analyses.chl_gapfill.run_analysis` (``filled.zarr``, ``metrics.csv``,
``forecast.zarr``, ``skill.csv``, ``meta.json``). :class:`GapfillDashboard` holds the state in
``param`` parameters (month, point) and lays out:

- observed / filled / uncertainty maps of the selected month (log10 chlorophyll; the uncertainty is
  the method's one-sigma error estimate), via :func:`satco2.dashboards.maps.raster`;
- the metric table and curves of MAE and PCC across missing rates, one line per method;
- the time series at the selected point: observations, the filled series with its 95 % band
  (+-1.96 sigma) and the forecast after the training period with its Rubin's-rules interval.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import param
import xarray as xr

from .. import SatCO2Error

FILES = ("filled.zarr", "metrics.csv", "forecast.zarr", "skill.csv", "meta.json")


def load_report(report_dir) -> dict:
    """The products of a chl_gapfill report folder (raises SatCO2Error when one is missing)."""
    d = Path(report_dir)
    missing = [f for f in FILES if not (d / f).exists()]
    if missing:
        raise SatCO2Error(f"the report folder {d} lacks {', '.join(missing)}; was it made by chl_gapfill?")
    return {
        "filled": xr.open_zarr(d / "filled.zarr", consolidated=False).load(),
        "metrics": pd.read_csv(d / "metrics.csv"),
        "forecast": xr.open_zarr(d / "forecast.zarr", consolidated=False).load(),
        "skill": pd.read_csv(d / "skill.csv"),
        "meta": json.loads((d / "meta.json").read_text()),
    }


class GapfillDashboard(param.Parameterized):
    """State and views of the gap-filling dashboard (see the module docstring)."""

    month = param.Selector(default=None, objects=[], doc="month shown on the maps (YYYY-MM)")
    lat = param.Selector(default=None, objects=[], doc="latitude of the time-series point (degrees north)")
    lon = param.Selector(default=None, objects=[], doc="longitude of the time-series point (degrees east)")

    def __init__(self, products: dict, **params):
        self.p = products
        f = products["filled"]
        months = [pd.Timestamp(t).strftime("%Y-%m") for t in f.time.values]
        lats = [round(float(v), 4) for v in f.lat.values]
        lons = [round(float(v), 4) for v in f.lon.values]
        self.param.month.objects, self.param.lat.objects, self.param.lon.objects = months, lats, lons
        # default point: the pixel with most gaps that is sometimes observed
        obs = np.isfinite(f.observed.values)
        gaps = np.where(obs.any(axis=0), (~obs).sum(axis=0), -1)
        i, j = np.unravel_index(np.argmax(gaps), gaps.shape)
        # default month: the cloudiest month that still shows a quarter of the sea observed (an
        # almost empty observed map shows nothing to compare the filled one with)
        sea = obs.any(axis=0)
        frac = obs[:, sea].mean(axis=1) if sea.any() else np.zeros(len(months))
        ok = np.flatnonzero(frac >= 0.25)
        cloudiest = int(ok[np.argmin(frac[ok])]) if ok.size else int(np.argmax(frac))
        params.setdefault("month", months[cloudiest])
        params.setdefault("lat", lats[i])
        params.setdefault("lon", lons[j])
        super().__init__(**params)

    # --- views ---------------------------------------------------------------------------------
    def period(self) -> tuple[str, str]:
        """First and last month of the data actually shown (the request may start before the
        product's record, e.g. 2000-01 for MODIS-Aqua chlorophyll that starts in 2003)."""
        f = self.p["filled"]
        obs = np.isfinite(f.observed.values).any(axis=(1, 2))
        t = pd.DatetimeIndex(f.time.values)[obs] if obs.any() else pd.DatetimeIndex(f.time.values)
        return t.min().strftime("%Y-%m"), t.max().strftime("%Y-%m")

    def maps(self):
        """Observed, filled and uncertainty maps of the selected month (HoloViews layout).

        Chlorophyll on a log colour scale in mg m-3 with limits shared by the observed and filled
        maps (2-98 percentiles of every observation of the run); the uncertainty is the method's
        one-sigma error of log10 chlorophyll, on its own robust limits from 0.
        """
        from . import maps

        f = self.p["filled"].sel(time=self.month).squeeze(drop=True)
        clim = maps.robust_clim(self.p["filled"].observed.values, log=True)
        method = self.p["meta"]["method"]
        chl = dict(units="mg m-3", standard_name="mass_concentration_of_chlorophyll_a_in_sea_water")
        obs = f.observed.rename("chlor_a").assign_attrs(long_name="observed chlorophyll-a", **chl)
        fill = f.filled.rename("chlor_a").assign_attrs(long_name=f"gap-filled chlorophyll-a ({method})", **chl)
        err = f.error.rename("error").assign_attrs(long_name="uncertainty (1σ) of log10 chlorophyll-a",
                                                   units="log10 mg m-3")
        e = self.p["filled"].error.values
        eclim = maps.robust_clim(e[e > 0])  # observed pixels have 0: scale on the filled ones
        eclim = (0.0, eclim[1]) if eclim else None
        kw = dict(width=380, when=self.month)
        return (maps.raster(obs, clim=clim, **kw)
                + maps.raster(fill, clim=clim, **kw)
                + maps.raster(err, cmap="magma", clim=eclim, logz=False, **kw)).opts(shared_axes=False)

    def metric_curves(self):
        """MAE and PCC against the missing rate, one line per method."""
        import holoviews as hv

        m = self.p["metrics"]
        curves = []
        for stat, label in (("mae", "MAE (log10 mg m-3)"), ("pcc", "PCC")):
            over = hv.Overlay([hv.Curve(g.sort_values("rate"), "rate", stat, label=name).opts(tools=["hover"])
                               * hv.Scatter(g.sort_values("rate"), "rate", stat, label=name).opts(size=6)
                               for name, g in m.groupby("method")])
            curves.append(over.opts(width=420, height=280, title=f"{label} vs missing rate",
                                    xlabel="missing rate", ylabel=label, legend_position="top_left",
                                    xlim=(0, 1), shared_axes=False))
        return curves[0] + curves[1]

    def metric_table(self):
        """The metrics as a table (rounded)."""
        m = self.p["metrics"]
        cols = [c for c in ["method", "protocol", "rate", "mae", "rmse", "bias", "pcc", "crps", "crps_fair",
                            "seconds"] if c in m]  # crps_fair: reports since session 3
        return m[cols].round(4)

    def series(self):
        """Time series at the selected point with 95 % bands (filled) and the forecast interval."""
        import holoviews as hv

        f = self.p["filled"].sel(lat=self.lat, lon=self.lon, method="nearest")
        t = pd.DatetimeIndex(f.time.values)
        y = np.log10(f.filled.values)
        e = 1.96 * np.nan_to_num(f.error.values)
        band = hv.Area((t, y - e, y + e), "time", ["lower", "upper"], label="filled 95 %").opts(alpha=0.3)
        line = hv.Curve((t, y), "time", "log10 chl", label="filled")
        obs = hv.Scatter((t, np.log10(f.observed.values)), "time", "log10 chl", label="observed").opts(size=4, color="black")
        fc = self.p["forecast"].sel(lat=self.lat, lon=self.lon, method="nearest")
        tf = pd.DatetimeIndex(fc.time.values)
        fband = hv.Area((tf, fc["lower"].values, fc["upper"].values), "time", ["lower", "upper"],
                        label="forecast 95 % (Rubin)").opts(alpha=0.3, color="orange")
        fline = hv.Curve((tf, fc["mean"].values), "time", "log10 chl", label="forecast").opts(color="orange")
        fobs = hv.Scatter((tf, fc["observed"].values), "time", "log10 chl", label="observed after issue").opts(size=4, color="red")
        return (band * line * obs * fband * fline * fobs).opts(
            width=900, height=300, ylabel="log10 chlorophyll (log10 mg m-3)", legend_position="top_left",
            title=f"point {self.lat:.2f}N {self.lon:.2f}E")

    def __panel__(self):
        import panel as pn

        meta = self.p["meta"]
        synth = self.p["filled"].attrs.get("synthetic", "no")
        first, last = self.period()
        asked = "" if (first, last) == (meta["start"], meta["end"]) else \
            f" (requested {meta['start']}..{meta['end']}; the product's record covers only this)"
        head = pn.pane.Markdown(
            f"## Chlorophyll-a gap filling: {meta['region']} {first}..{last}{asked}\n"
            f"Method **{meta['method']}**, protocol **{meta['protocol']}**, forecast after "
            f"{meta['train_end']}." + (" Synthetic demo data." if str(synth).startswith("yes") else ""))
        widgets = pn.Param(self.param, widgets={"month": pn.widgets.Select, "lat": pn.widgets.Select,
                                                "lon": pn.widgets.Select}, show_name=False)
        return pn.Column(
            head,
            pn.Row(widgets, pn.panel(pn.bind(lambda m: self.maps(), self.param.month))),
            pn.panel(pn.bind(lambda a, b: self.series(), self.param.lat, self.param.lon)),
            pn.pane.Markdown("### Imputation metrics across missing rates"),
            pn.panel(self.metric_curves()),
            pn.pane.DataFrame(self.metric_table(), index=False),
            pn.pane.Markdown("### Forecast skill (lead years)"),
            pn.pane.DataFrame(self.p["skill"].round(4), index=False),
        )


def dashboard(products: dict):
    """The Panel dashboard of a chl_gapfill report's products."""
    import panel as pn

    return pn.panel(GapfillDashboard(products))


def from_report(report_dir):
    """Rebuild the dashboard from a report folder written by notebooks/chl_gapfill.ipynb."""
    return dashboard(load_report(report_dir))
