"""Dashboard of ``notebooks/pco2_flux.ipynb``: MeSAA pCO2 and air-sea CO2 flux.

:class:`PCO2FluxDashboard` (state in ``param``, layout in ``__panel__``) shows

- datashaded maps (:func:`satco2.dashboards.maps.raster`, land and coastlines drawn) of the four
  products (pCO2 air, pCO2 sea, ΔpCO2, flux) for the month chosen with a slider;
- the seasonal cycle of the regional mean flux with the spread across the gas-transfer
  parameterizations (W14, W92, N00, H06) as an uncertainty band;
- the annual budget (Tg C yr-1) per region and year, with the parameterization spread as error bars;
- the validation scatter (in-situ vs product pCO2, with the 1:1 line) and its statistics
  (N, mean bias, RMSE, R²) when the run had an observation file;
- the comparison with the reference carbon products (:mod:`satco2.dashboards.reference_panels`):
  regional pCO2 and flux time series of the run vs each product with its spread, budget bars,
  and the flux uncertainty (mean ± σ per source) when the run wrote one.

:func:`from_report` rebuilds it from a report folder (the files written by
:func:`satco2.analyses.pco2_flux.run_analysis`).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import param
import xarray as xr

from .. import SatCO2Error
from ..analyses import pco2_flux
from ..science import air_sea_flux, regions
from . import reference_panels as rp

TITLE = "MeSAA pCO2 and air-sea CO2 flux"
MAP_STYLE = {
    "pco2air": {"cmap": "viridis", "what": "Atmospheric pCO2", "units": "µatm"},
    "pco2sw": {"cmap": "viridis", "what": "Sea-surface pCO2, MeSAA", "units": "µatm"},
    "dpco2": {"cmap": "RdBu_r", "what": "ΔpCO2 sea − air", "units": "µatm", "symmetric": True},
    "flux": {"cmap": "RdBu_r", "what": "Air-sea CO2 flux, + to air", "units": "mmol m⁻² d⁻¹", "symmetric": True},
}
MAP_WIDTH = 470


def _hv():
    """holoviews with the bokeh backend registered (options need a loaded plotting extension)."""
    import holoviews as hv
    import holoviews.plotting.bokeh  # noqa: F401

    return hv


def _clim(da: xr.DataArray, symmetric: bool):
    """Colour limits shared by every month of a product (2-98 percentiles of the whole run)."""
    from .maps import robust_clim

    return robust_clim(da.values, symmetric=symmetric)


class PCO2FluxDashboard(param.Parameterized):
    """The pCO2/flux dashboard of one run (see the module docstring)."""

    month = param.Selector(default=None, objects=[], doc="month shown on the maps (YYYY-MM)")
    k_param = param.Selector(default="W14", objects=["W14"], doc="parameterization of the central line")
    region = param.Selector(default=None, objects=[], doc="region of the seasonal cycle")

    def __init__(self, products: xr.Dataset, summary: xr.Dataset, matchups: pd.DataFrame | None = None,
                 stats: dict | None = None, references: xr.Dataset | None = None,
                 reference_missing: dict | None = None, uncertainty: dict | None = None, **params):
        self.references, self.reference_missing = references, reference_missing or {}
        self.uncertainty = uncertainty
        self.products = products
        self.summary = summary
        self.matchups = matchups
        self.stats = stats
        months = [pd.Timestamp(t).strftime("%Y-%m") for t in products.time.values]
        self.param.month.objects = months
        ks = [str(k) for k in summary.k_param.values]
        self.param.k_param.objects = ks
        regions = [str(r) for r in summary.region.values]
        self.param.region.objects = regions
        params.setdefault("region", regions[0])
        params.setdefault("month", months[0])
        params.setdefault("k_param", products.attrs.get("k_param", ks[0]))
        super().__init__(**params)
        self._clims = {v: _clim(products[v], MAP_STYLE[v].get("symmetric", False)) for v in MAP_STYLE}

    # --- pieces (each testable on its own) ---------------------------------------------------
    def product_map(self, var: str):
        from . import maps

        if var not in MAP_STYLE:
            raise SatCO2Error(f"no map for {var!r}; choose one of {', '.join(MAP_STYLE)}")
        da = self.products[var].sel(time=self.month).squeeze(drop=True).load()
        st = MAP_STYLE[var]
        return maps.raster(da, cmap=st["cmap"], clim=self._clims[var], clabel=st["units"],
                           title=maps.map_title(st["what"], st["units"], self.month), width=MAP_WIDTH)

    def seasonal_cycle(self):
        """Monthly-climatology regional mean flux: band = min..max over parameterizations."""
        hv = _hv()

        f = self.summary.flux_mean.sel(region=self.region)
        clim = f.groupby("time.month").mean("time")
        df = pd.DataFrame({
            "month": clim.month.values,
            "low": clim.min("k_param").values, "high": clim.max("k_param").values,
            "central": clim.sel(k_param=self.k_param).values,
        })
        band = hv.Area(df, kdims="month", vdims=["low", "high"], label="k spread").opts(alpha=0.3)
        line = hv.Curve(df, kdims="month", vdims="central", label=self.k_param)
        from .maps import wrap_title

        return (band * line).opts(
            title=wrap_title(f"Seasonal cycle of the mean flux, {self.region}", 420 - 70),
            ylabel="flux (mmol m⁻² d⁻¹)", xlabel="month", width=420, height=300,
            xticks=[int(m) for m in df.month], shared_axes=False)

    def budget_table(self) -> pd.DataFrame:
        """Annual budget (Tg C yr-1) per region and year: central value and min/max over k."""
        b = self.summary.budget.groupby("time.year").mean("time")
        rows = []
        for r in b.region.values:
            for y in b.year.values:
                v = b.sel(region=r, year=y)
                rows.append({"region": str(r), "year": int(y),
                             "budget": float(v.sel(k_param=self.k_param)),
                             "low": float(v.min()), "high": float(v.max())})
        return pd.DataFrame(rows)

    def annual_budget(self):
        hv = _hv()

        df = self.budget_table()
        df["label"] = df.region + " " + df.year.astype(str)
        width = max(420, 90 * len(df))
        bars = hv.Bars(df, kdims="label", vdims="budget")
        err = hv.ErrorBars((df.label, df.budget, df.budget - df.low, df.high - df.budget),
                           vdims=["y", "yerrneg", "yerrpos"])
        from .maps import wrap_title

        return (bars * err).opts(title=wrap_title("Annual CO2 budget (Tg C yr⁻¹, + = source)", width - 70),
                                 ylabel="Tg C yr⁻¹", xlabel="", width=width, height=300,
                                 xrotation=30, shared_axes=False)

    def validation_scatter(self):
        hv = _hv()

        if self.matchups is None or len(self.matchups) == 0:
            from .maps import empty

            return empty("Validation: no observation file was given, or it has no match-ups in this "
                         "region and period.", width=420)
        m = self.matchups
        lo = float(np.nanmin([m.obs_pco2sw.min(), m.model_pco2sw.min()]))
        hi = float(np.nanmax([m.obs_pco2sw.max(), m.model_pco2sw.max()]))
        pts = hv.Scatter(m, kdims="obs_pco2sw", vdims=["model_pco2sw"], label="match-ups")
        one = hv.Curve([(lo, lo), (hi, hi)], label="1:1").opts(color="black", line_dash="dashed")
        return (pts * one).opts(title="Validation: sea-surface pCO2", xlabel="in situ (µatm)",
                                ylabel="MeSAA (µatm)", width=420, height=300, shared_axes=False)

    def stats_markdown(self) -> str:
        if not self.stats:
            return "No validation file was given."
        lines = [f"Validation against `{Path(self.stats.get('obs_file', '')).name}` "
                 f"({self.stats.get('format')}, {self.stats.get('n_observations')} observations)",
                 "", "| product | N | mean bias | RMSE | R² |", "| --- | ---: | ---: | ---: | ---: |"]
        for k in ("pco2sw", "pco2air"):
            s = self.stats.get(k)
            if s:
                f = {m: ("–" if s.get(m) is None or not np.isfinite(s[m]) else f"{s[m]:.{d}f}")
                     for m, d in (("mean_bias", 2), ("rmse", 2), ("r2", 3))}
                lines.append(f"| {k} (µatm) | {s['n']} | {f['mean_bias']} | {f['rmse']} | {f['r2']} |")
        return "\n".join(lines)

    def run_region(self) -> str:
        """The run's own region (its parameters), else the summary's first region."""
        try:
            r = json.loads(self.products.attrs.get("parameters", "{}")).get("region")
        except ValueError:
            r = None
        regions = [str(x) for x in self.summary.region.values]
        return r if r in regions else regions[0]

    @param.depends("k_param")
    def reference_views(self):
        """The run vs the reference carbon products (time series, budget bars) and the flux
        uncertainty; the run's flux and budget are those of the chosen ``k_param``."""
        import panel as pn

        s = self.summary.sel(region=self.run_region())
        months = pd.DatetimeIndex(s.time.values)
        pco2 = pd.Series(s.pco2sw_mean.values, index=months)
        flux = pd.Series(s.flux_mean.sel(k_param=self.k_param).values, index=months)
        b = s.budget.mean("time")
        table = rp.budget_table(float(b.sel(k_param=self.k_param)), float(b.min()), float(b.max()), self.references)
        note = "".join(f"\n- {k}: {v}" for k, v in self.reference_missing.items())
        head = (f"### Reference carbon products, {self.run_region()}\n"
                "Regional means over the run's region; bands: SeaFlux min..max over products × winds, "
                "±1σ of CMEMS-LSCE and OceanSODA-ETHZ; the SOM-FFN climatology by month of year; "
                "run bar: the gas-transfer spread."
                + (f"\n\nNot shown:{note}" if note else ""))
        return pn.Column(
            pn.pane.Markdown(head),
            pn.panel(rp.timeseries(pco2, self.references, "pco2", "Sea-surface pCO2: run vs reference products")),
            pn.panel(rp.timeseries(flux, self.references, "flux", "Air-sea CO2 flux: run vs reference products (+ = to air)")),
            pn.Row(pn.panel(rp.budget_bars(table)), pn.pane.Markdown(rp.uncertainty_markdown(self.uncertainty))),
        )

    @param.depends("month")
    def _maps(self):
        import panel as pn

        return pn.GridBox(*[pn.pane.HoloViews(self.product_map(v), linked_axes=False) for v in MAP_STYLE], ncols=2)

    @param.depends("k_param", "region")
    def _budgets(self):
        import panel as pn

        return pn.Row(pn.pane.HoloViews(self.seasonal_cycle()), pn.pane.HoloViews(self.annual_budget()))

    def __panel__(self):
        import panel as pn

        slider = pn.widgets.DiscreteSlider.from_param(self.param.month, name="Month")
        k = pn.widgets.RadioButtonGroup.from_param(self.param.k_param, name="gas-transfer k")
        region = pn.widgets.Select.from_param(self.param.region, name="Region (seasonal cycle)")
        synthetic = self.products.attrs.get("synthetic") == "yes"
        head = (f"## {TITLE}\n{self.products.attrs.get('input_products', '')}"
                + ("\n\n**Synthetic demo inputs.**" if synthetic else ""))
        return pn.Column(
            pn.pane.Markdown(head), pn.Row(slider, k, region), self._maps, self._budgets,
            pn.Row(pn.panel(self.validation_scatter()), pn.pane.Markdown(self.stats_markdown())),
            self.reference_views,
        )


def dashboard(products: xr.Dataset, summary: xr.Dataset, matchups=None, stats=None, references=None,
              reference_missing=None, uncertainty=None):
    """The Panel dashboard of a run's products and summary (and reference comparison)."""
    import panel as pn

    return pn.panel(PCO2FluxDashboard(products, summary, matchups, stats, references=references,
                                      reference_missing=reference_missing, uncertainty=uncertainty))


UNCERTAINTY_FILE = pco2_flux.UNCERTAINTY_FILE


def load_comparison(products: xr.Dataset, summary: xr.Dataset, root=None):
    """(references, missing) for a run: :func:`reference_panels.load_references` over the run's
    region, months and source (its ``parameters`` attribute)."""
    try:
        par = json.loads(products.attrs.get("parameters", "{}"))
    except ValueError:
        par = {}
    region = par.get("region") or str(summary.region.values[0])
    source = par.get("source", "demo")
    return rp.load_references(summary.time.values, lambda da: air_sea_flux.region_weights(region, da),
                              tuple(map(float, regions.bbox(region))), source=source, root=root)


def load_report(report_dir):
    """(products, summary, matchups or None, stats or None) from a report folder."""
    d = Path(report_dir)
    p, s = d / pco2_flux.PRODUCTS_FILE, d / pco2_flux.SUMMARY_FILE
    if not p.exists() or not s.exists():
        raise SatCO2Error(f"the report folder {d} has no {pco2_flux.PRODUCTS_FILE}/{pco2_flux.SUMMARY_FILE}; "
                          "was it made by the pco2_flux notebook?")
    products = xr.open_zarr(p)
    summary = xr.open_zarr(s).load()
    m = d / pco2_flux.MATCHUPS_FILE
    matchups = pd.read_csv(m, parse_dates=["time"]) if m.exists() else None
    st = d / pco2_flux.STATS_FILE
    stats = json.loads(st.read_text()) if st.exists() else None
    return products, summary, matchups, stats


def from_report(report_dir):
    """Rebuild the dashboard from a report folder of ``notebooks/pco2_flux.ipynb`` (with the
    reference products of the run's source and its ``pco2_flux_uncertainty.json`` if any)."""
    products, summary, matchups, stats = load_report(report_dir)
    refs, missing = load_comparison(products, summary)
    u = Path(report_dir) / UNCERTAINTY_FILE
    unc = json.loads(u.read_text()) if u.exists() else None
    return dashboard(products, summary, matchups, stats, references=refs, reference_missing=missing,
                     uncertainty=unc)
