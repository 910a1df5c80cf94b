"""The chlorophyll gap-filling analysis of notebooks/chl_gapfill.ipynb, as one function.

:func:`run_analysis` opens ``global-chl-modis-aqua-4km`` for a region and period, fills it with the
chosen method, scores DINEOF and the method across missing rates (STIMP or cloud protocol),
forecasts the years after ``train_end`` from several imputations (Rubin's rules) and writes the
products to the report folder:

- ``filled.zarr``: ``observed``, ``filled``, ``error`` (log10 units) [, ``samples``]
- ``metrics.csv``: one row per (method, missing rate): MAE, RMSE, bias, PCC, CRPS, seconds
- ``forecast.zarr``: ``mean``, ``lower``, ``upper`` (log10 mg m-3) and ``observed`` over the
  forecast months; ``skill.csv`` (MAE/PCC/coverage per method and lead year)
- ``meta.json``: parameters and diagnostics; the learned model's weights go to ``weights/``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import SatCO2Error, catalog, io
from ..science import regions
from ..science.gapfill import METHODS
from ..science.gapfill.evaluate import evaluate_imputation
from ..science.gapfill.forecast import forecast, forecast_skill, imputations_of

PRODUCT = "global-chl-modis-aqua-4km"


def _write_zarr(ds: xr.Dataset, path: Path):
    for v in ds.variables.values():
        v.encoding.clear()
    io.write_zarr(ds, path, consolidated=False)


def method_options(method: str, out_dir: Path, train_end: str, train_steps: int, n_samples: int,
                   seed: int) -> dict:
    """Constructor options of ``method`` for this analysis."""
    if method == "learned":
        return dict(train_end=train_end, steps=train_steps, n_samples=n_samples, seed=seed,
                    out_dir=out_dir / "weights")
    return dict(seed=seed)


def run_analysis(region: str, start: str, end: str, out_dir, method: str = "dineof",
                 missing_rate: float = 0.5, rates=(0.1, 0.3, 0.5, 0.7, 0.9), protocol: str = "clouds",
                 horizon: int = 3, train_end: str = "2011-12", train_steps: int = 300,
                 n_samples: int = 8, source: str = "demo", seed: int = 0, da: xr.DataArray | None = None) -> dict:
    """Run the analysis (see the module docstring); ``horizon`` in years. Returns a dict of the
    products (Datasets and DataFrames) and ``inputs`` (what was opened)."""
    if method not in METHODS:
        raise SatCO2Error(f"unknown gap-filling method {method!r}; choose one of {sorted(METHODS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if da is None:
        ds_in = catalog.open(PRODUCT, source=source, bbox=regions.bbox(region), time=(start, end))
        da = ds_in["chlor_a"].load()
        da.attrs.setdefault("synthetic", ds_in.attrs.get("synthetic", "no"))
    inputs = [{"id": PRODUCT, "source": source, "region": region, "start": start, "end": end}]
    times = pd.DatetimeIndex(da.time.values)
    issue = int(np.searchsorted(times, pd.Timestamp(train_end) + pd.offsets.MonthEnd(0), side="right")) - 1
    if issue < 24 or issue >= times.size - 1:
        raise SatCO2Error(f"train_end {train_end} must leave at least 24 months before it and one month "
                          f"after it inside {start}..{end}")
    opts = lambda m: method_options(m, out_dir, train_end, train_steps, n_samples, seed)  # noqa: E731

    # 1. fill the record with the chosen method
    filler = METHODS[method](**opts(method))
    filled = filler.fit(da)
    _write_zarr(filled, out_dir / "filled.zarr")

    # 2. score methods across missing rates (DINEOF always, as the baseline)
    names = ["dineof"] + ([method] if method != "dineof" else [])
    rate_list = sorted(set(float(r) for r in rates) | {float(missing_rate)})
    metrics, fields = evaluate_imputation(
        da, {m: (lambda m=m: METHODS[m](**{**opts(m), "out_dir": None} if m == "learned" else opts(m)))
             for m in names},
        rates=rate_list, protocol=protocol, seed=seed, return_fields=True)
    with io.atomic_path(out_dir / "metrics.csv") as tmp:
        metrics.to_csv(tmp, index=False)
    # the fields at the chosen missing rate, for the maps
    for m in names:
        f = fields[(m, float(missing_rate))]
        _write_zarr(f[["observed", "filled", "error"]], out_dir / f"eval_{m}.zarr")

    # 3. forecast the years after train_end from several imputations (Rubin's rules)
    imps = imputations_of(filled, n=n_samples, seed=seed)
    obs = np.log10(da.values)
    skill = forecast_skill(imps, times, obs, issue, years=horizon)
    with io.atomic_path(out_dir / "skill.csv") as tmp:
        skill.to_csv(tmp, index=False)
    n_lead = min(12 * horizon, times.size - issue - 1)
    fc = forecast(imps[:, : issue + 1], times[: issue + 1], n_lead, "damped_anomaly")
    dims = ("time", "lat", "lon")
    coords = {"time": fc["time"], "lat": da.lat, "lon": da.lon}
    unit = {"units": "log10(mg m-3)"}
    fds = xr.Dataset({k: (dims, fc[k], {**unit, "long_name": f"forecast {k} (Rubin's rules)"})
                      for k in ("mean", "lower", "upper")}, coords=coords)
    fds["observed"] = (dims, obs[issue + 1: issue + 1 + n_lead], {**unit, "long_name": "observed"})
    fds.attrs.update(method="damped_anomaly", issued_after=str(times[issue].date()), level=0.95,
                     synthetic=da.attrs.get("synthetic", "no"))
    _write_zarr(fds, out_dir / "forecast.zarr")
    meta = {"region": region, "start": start, "end": end, "method": method, "missing_rate": missing_rate,
            "rates": rate_list, "protocol": protocol, "horizon_years": horizon, "train_end": train_end,
            "train_steps": train_steps, "n_samples": n_samples, "source": source,
            "diagnostics": {k: v for k, v in filled.attrs.items()}}
    io.write_json(out_dir / "meta.json", meta, indent=1)
    return {"filled": filled, "metrics": metrics, "skill": skill, "forecast": fds, "inputs": inputs,
            "meta": meta}
