"""The marginal-sea trend analysis of ``notebooks/marginal_sea_trends.ipynb``: seas x variables
from the catalog, regional means and trends (:mod:`satco2.science.trends`), written to Zarr/CSV.

:func:`run_analysis` is the notebook's one call; :data:`VARIABLE_PRODUCTS` maps each analysis
variable to its registry product.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import SatCO2Error, catalog, io
from ..science import regions
from ..science.trends import METHODS, deseasonalize, fitted_line, regional_mean, trend

#: analysis variable -> product id of the registry (variable name inside the opened Dataset)
VARIABLE_PRODUCTS: dict[str, str] = {
    "sst": "global-sst-oisst-25km",
    "par": "global-par-modis-aqua-4km",
    "chlor_a": "global-chl-modis-aqua-4km",
    "sdd": "extra-sdd-modis-aqua-4km",
    "Kd_490": "extra-kd490-modis-aqua-4km",
}
#: the demo store's footprint holding the trends demo (satco2.demo.eurasia.FOOTPRINT)
DEMO_FOOTPRINT = "eurasia"
REGIONAL_FILE = "regional_trends.zarr"
MAPS_FILE = "trend_maps_{variable}.zarr"
TABLE_FILE = "trend_table.csv"


def _union_bbox(seas) -> tuple[float, float, float, float]:
    bbs = np.array([regions.bbox(s) for s in seas])
    return (float(bbs[:, 0].min()), float(bbs[:, 1].min()), float(bbs[:, 2].max()), float(bbs[:, 3].max()))


def run_analysis(seas, variables, start: str, end: str, out_dir, *, method: str = "theil_sen_mk_hr",
                 alpha: float = 0.05, deseason: bool = True, maps: bool = True,
                 source: str = "demo", footprint: str | None = None) -> dict:
    """Trends of ``variables`` in ``seas`` over ``start``..``end`` (months, inclusive).

    For each variable: open its product lazily (``satco2.catalog.open``) over the seas' bounding
    box, rasterize the seas with fractional coverage, form area-weighted regional monthly means,
    and fit the trend of their deseasonalized anomalies (``method``); optionally the same per
    pixel (trend maps, masked to the seas). Writes ``regional_trends.zarr`` (series, anomalies and
    statistics per variable and sea), ``trend_maps_<variable>.zarr`` and ``trend_table.csv`` into
    ``out_dir`` (each written to a temporary name, then renamed).

    Returns ``{"regional": Dataset, "table": DataFrame, "maps": {variable: Dataset}, "inputs": [...]}``.
    Unknown seas / variables / methods and periods outside the data raise :class:`SatCO2Error`.
    """
    seas = [seas] if isinstance(seas, str) else list(seas)
    variables = [variables] if isinstance(variables, str) else list(variables)
    if not seas:
        raise SatCO2Error("no sea was given; name at least one region of catalogs/regions.yaml")
    for s in seas:
        regions.get(s)  # unknown names raise here
    for v in variables:
        if v not in VARIABLE_PRODUCTS:
            raise SatCO2Error(f"unknown variable {v!r}; choose among {', '.join(VARIABLE_PRODUCTS)}")
    if method not in METHODS:
        raise SatCO2Error(f"unknown trend method {method!r}; choose one of {sorted(METHODS)}")
    p0, p1 = pd.Timestamp(start), pd.Timestamp(end) + pd.offsets.MonthEnd(0)
    if p1 <= p0:
        raise SatCO2Error(f"the period {start}..{end} is empty")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bbox = _union_bbox(seas)
    regional, rows, maps_out, inputs = [], [], {}, []
    for v in variables:
        pid = VARIABLE_PRODUCTS[v]
        c0, c1 = (pd.Timestamp(x) for x in catalog.coverage(pid, source=source))
        if p0 < c0 - pd.Timedelta(days=1) or p1 > c1 + pd.offsets.MonthEnd(0):
            raise SatCO2Error(
                f"the period {start}..{end} is outside the {source} data of {pid}, which cover "
                f"{c0:%Y-%m}..{c1:%Y-%m}")
        fpt = footprint or (DEMO_FOOTPRINT if source == "demo" else None)
        kw = {"footprint": fpt} if fpt else {}
        ds = catalog.open(pid, source=source, bbox=bbox, time=(f"{p0:%Y-%m-%d}", f"{p1:%Y-%m-%d}"), **kw)
        inputs.append(ds)
        da = ds[v]
        m = regions.masks(seas, ds)
        series = regional_mean(da, m).compute()
        res = trend(series, method=method, deseason=deseason, alpha=alpha).compute()
        anom = deseasonalize(series)
        line = fitted_line(anom, res)
        rg = xr.Dataset({f"{v}_series": series, f"{v}_anomaly": anom, f"{v}_fit": line})
        for name in res.data_vars:
            rg[f"{v}_{name}"] = res[name]
        regional.append(rg)
        for s in seas:
            r = res.sel(region=s)
            rows.append({"sea": s, "variable": v, "units": da.attrs.get("units", ""),
                         "slope": float(r.slope), "slope_pct": float(r.slope_pct),
                         "p_value": float(r.p_value), "significant": bool(r.significant),
                         "mean": float(r["mean"]), "n": int(r.n) if np.isfinite(r.n) else 0})
        if maps:
            cover = m.max("region")
            pix = trend(da.where(cover > 0), method=method, deseason=deseason, alpha=alpha,
                        dtype=np.float32)
            keep = ["slope", "slope_pct", "p_value", "significant", "mean", "n"]
            mp = pix[keep].compute()
            mp["coverage"] = cover.astype(np.float32)
            mp.attrs.update(pix.attrs, product_id=pid, source=source)
            io.write_zarr(mp, out_dir / MAPS_FILE.format(variable=v), consolidated=True)
            maps_out[v] = mp
    reg = xr.merge(regional, compat="override", join="outer")
    reg.attrs = {"seas": ",".join(seas), "variables": ",".join(variables), "method": method,
                 "method_title": METHODS[method].title, "alpha": float(alpha),
                 "deseasonalized": int(bool(deseason)), "period": f"{p0:%Y-%m}..{p1:%Y-%m}",
                 "source": source, "title": "Marginal-sea trends (satco2.science.trends)"}
    for s_attr in ("region",):
        reg[s_attr] = reg[s_attr].astype(str)
    io.write_zarr(reg, out_dir / REGIONAL_FILE, consolidated=True)
    table = pd.DataFrame(rows)
    with io.atomic_path(out_dir / TABLE_FILE) as tmp:
        table.to_csv(tmp, index=False)
    return {"regional": reg, "table": table, "maps": maps_out, "inputs": inputs}
