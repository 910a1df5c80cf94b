"""Comparison panels of the pCO2/flux dashboard: a run against the reference carbon products.

:func:`load_references` opens each product of :data:`REFERENCES` from the catalog over the run's
region and months and reduces it with :mod:`satco2.science.reference` to regional series
(pCO2 in uatm, flux in mmol m-2 d-1, budget in Tg C yr-1), each with a band: the ensemble
min..max (SeaFlux: product x wind), or +-1 sigma (CMEMS-LSCE ``*_uncertainty``; OceanSODA's
``spco2_uncert``). A product that cannot be opened (not in the store, outside its coverage) is
listed in ``missing`` with its one-sentence reason instead of failing the dashboard.

:func:`timeseries` (the run vs each product, bands shaded), :func:`budget_bars` (period-mean
budget with error bars) and :func:`uncertainty_markdown` (mean +- sigma with the contribution of
each source, :func:`satco2.science.flux_uncertainty.decompose`) build the views.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .. import SatCO2Error, catalog
from ..science import reference as ref

#: reference products compared (id, label, variables, member dims, sigma variables, climatology)
REFERENCES = [
    {"label": "SeaFlux ensemble", "pco2": ("extra-spco2-seaflux-1deg", "spco2"),
     "flux": ("extra-fgco2-seaflux-1deg", "fgco2"), "members": ("product", "wind")},
    {"label": "SOM-FFN coastal clim.", "pco2": ("extra-spco2-somffn-coastal-25km", "spco2"),
     "climatology": True},
    {"label": "CMEMS-LSCE-FFNN", "pco2": ("extra-carbonate-cmems-lsce-25km", "spco2"),
     "flux": ("extra-carbonate-cmems-lsce-25km", "fgco2"),
     "sigma": {"spco2": "spco2_uncertainty", "fgco2": "fgco2_uncertainty"}},
    {"label": "OceanSODA-ETHZ", "pco2": ("extra-carbonate-oceansoda-1deg", "spco2"),
     "flux": ("extra-carbonate-oceansoda-1deg", "fgco2"), "sigma": {"spco2": "spco2_uncert"}},
]
QUANTITIES = ("pco2", "flux", "budget")
UNITS = {"pco2": "µatm", "flux": "mmol m⁻² d⁻¹", "budget": "Tg C yr⁻¹"}


def _series(ds, var, months, weights_of, spec, kind):
    """(mean, low, high) regional series of one variable on the run's months."""
    da = ds[var]
    w = weights_of(da)
    clim = bool(spec.get("climatology"))
    sig_name = spec.get("sigma", {}).get(var)
    if kind == "budget":
        r = ref.regional_budget(da, w)
    else:
        r = ref.regional_mean(da, w)
        if kind == "flux":
            r = ref.to_mmol_m2_d(r)
    st = ref.ensemble_stats(r, spec.get("members", ()))
    mean, low, high = st["mean"], st["min"], st["max"]
    if sig_name and sig_name in ds:
        s = ref.regional_mean(ds[sig_name], w)  # the regional mean of the 1-sigma field (upper bound)
        if kind == "flux":
            s = ref.to_mmol_m2_d(s)
        elif kind == "budget":
            s = ref.regional_budget(ds[sig_name], w)
        low, high = mean - s, mean + s
    return tuple(ref.align_months(x.compute(), months, clim) for x in (mean, low, high))


def load_references(months, region_weights, bbox, source: str = "demo", root=None) -> tuple[xr.Dataset | None, dict]:
    """Regional series of every reference product on ``months``: a Dataset with dims
    (``reference``, ``time``) and variables ``<q>_mean``, ``<q>_low``, ``<q>_high`` for q in pco2,
    flux (mmol m-2 d-1), budget (Tg C yr-1); and ``{label: reason}`` of the products skipped.

    ``region_weights(da) -> DataArray(lat, lon)``: the region's cell fractions on a product grid."""
    months = pd.DatetimeIndex(months)
    t = (str(months.min().date()), str((months.max() + pd.offsets.MonthEnd(0)).date()))
    kw = {"root": root} if root else {}
    rows, missing = [], {}
    for spec in REFERENCES:
        out = {}
        try:
            for q, key in (("pco2", "pco2"), ("flux", "flux"), ("budget", "flux")):
                if key not in spec:
                    continue
                pid, var = spec[key]
                ds = catalog.open(pid, source=source, bbox=bbox,
                                  time=None if spec.get("climatology") else t, **kw)
                m, lo, hi = _series(ds, var, months, region_weights, spec, q)
                out.update({f"{q}_mean": m, f"{q}_low": lo, f"{q}_high": hi})
        except SatCO2Error as e:
            missing[spec["label"]] = str(e)
            continue
        rows.append(xr.Dataset(out).expand_dims(reference=[spec["label"]]))
    if not rows:
        return None, missing
    ds = xr.concat(rows, dim="reference", join="outer")
    for q in QUANTITIES:
        for s in ("mean", "low", "high"):
            if f"{q}_{s}" in ds:
                ds[f"{q}_{s}"].attrs["units"] = UNITS[q]
    return ds, missing


def _hv():
    import holoviews as hv
    import holoviews.plotting.bokeh  # noqa: F401

    return hv


COLOURS = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]


def timeseries(run: pd.Series, refs: xr.Dataset | None, quantity: str, title: str, width: int = 820):
    """The run's regional series (black) and each reference product (its band shaded)."""
    hv = _hv()
    from .maps import empty, wrap_title

    if refs is None or f"{quantity}_mean" not in refs:
        return empty(f"{title}: no reference product could be opened for this run.", width=width)
    t = pd.DatetimeIndex(run.index)
    layers = []
    for i, r in enumerate(refs.reference.values):
        sel = refs.sel(reference=r)
        mean = sel[f"{quantity}_mean"].values
        if not np.isfinite(mean).any():
            continue
        c = COLOURS[i % len(COLOURS)]
        df = pd.DataFrame({"time": t, "low": sel[f"{quantity}_low"].values, "high": sel[f"{quantity}_high"].values,
                           "mean": mean})
        if np.nanmax(df.high - df.low) > 0:
            layers.append(hv.Area(df, kdims="time", vdims=["low", "high"]).opts(color=c, alpha=0.2, line_alpha=0))
        layers.append(hv.Curve(df, kdims="time", vdims="mean", label=str(r)).opts(color=c))
    layers.append(hv.Curve(pd.DataFrame({"time": t, "run": run.values}), kdims="time", vdims="run",
                           label="this run").opts(color="black", line_width=3))
    return hv.Overlay(layers).opts(
        title=wrap_title(title, width - 70), ylabel=f"{quantity if quantity != 'pco2' else 'pCO2'} ({UNITS[quantity]})",
        xlabel="month", width=width, height=320, legend_position="right", xrotation=30, shared_axes=False)


def budget_table(run_budget: float, run_low: float, run_high: float, refs: xr.Dataset | None) -> pd.DataFrame:
    """Period-mean budget (Tg C yr-1) of the run and each reference, with low/high."""
    rows = [{"source": "this run", "budget": run_budget, "low": run_low, "high": run_high}]
    if refs is not None and "budget_mean" in refs:
        for r in refs.reference.values:
            s = refs.sel(reference=r)
            b = float(s.budget_mean.mean())
            if np.isfinite(b):
                rows.append({"source": str(r), "budget": b, "low": float(s.budget_low.mean()),
                             "high": float(s.budget_high.mean())})
    return pd.DataFrame(rows)


def budget_bars(table: pd.DataFrame, width: int = 520):
    hv = _hv()
    from .maps import wrap_title

    bars = hv.Bars(table, kdims="source", vdims="budget")
    err = hv.ErrorBars((table.source, table.budget, table.budget - table.low, table.high - table.budget),
                       vdims=["y", "yerrneg", "yerrpos"])
    return (bars * err).opts(title=wrap_title("Regional CO2 budget, period mean (Tg C yr⁻¹, + = source)", width - 70),
                             ylabel="Tg C yr⁻¹", xlabel="", width=width, height=320, xrotation=20, shared_axes=False)


def uncertainty_markdown(unc: dict | None) -> str:
    """The flux budget as mean ± σ and the share of each source with its levels (a
    :func:`flux_uncertainty.decompose` dict, as written by a run into ``pco2_flux_uncertainty.json``),
    and the levels the run's source could not give."""
    if not unc:
        return ("**Flux uncertainty:** this run did not write an ensemble (`pco2_flux_uncertainty.json`); "
                "the budget bars show the spread of the gas-transfer parameterizations only.")
    names = {"k_param": "gas-transfer parameterization", "wind": "wind product", "xco2": "xCO2 record",
             "draw": "MeSAA end members"}
    levels = dict(unc.get("levels", {}))
    if unc.get("end_member_draws", 1) > 1:
        levels["draw"] = [f"{unc['end_member_draws']} draws"]
    lines = [f"**Flux budget: {unc['mean']:.3g} ± {unc['sigma']:.2g} Tg C yr⁻¹** "
             f"({unc.get('n_members', '?')} members)", "",
             "| source | levels | σ (Tg C yr⁻¹) | share of variance |", "| --- | --- | ---: | ---: |"]
    for k, c in unc.get("contributions", {}).items():
        lines.append(f"| {names.get(k, k)} | {', '.join(levels.get(k, [])) or '–'} | {c['sigma']:.2g} | "
                     f"{100 * c['share']:.1f} % |")
    if "interactions" in unc and unc.get("variance"):
        lines.append(f"| interactions | – | – | {100 * unc['interactions'] / unc['variance']:.1f} % |")
    single = [f"{names.get(k, k)} ({', '.join(v)})" for k, v in unc.get("levels", {}).items() if len(v) == 1]
    if unc.get("end_member_draws") == 1:
        single.append("MeSAA end members (the configuration states no 1σ)")
    if single:
        lines += ["", "One level only in this run, so no spread from: " + "; ".join(single) + "."]
    missing = unc.get("unavailable") or {}
    if missing:
        lines += ["", "Left out (the run's source does not hold them for its region and period): "
                  + "; ".join(f"{k}: {v}" for k, v in missing.items())]
    return "\n".join(lines)
