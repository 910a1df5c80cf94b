"""Regional means and ensemble spread of observation-based reference carbon products (pure).

The pCO2/flux dashboard compares a run's regional pCO2 and flux with the reference products of
the registry (SeaFlux, the SOM-FFN coastal climatology, CMEMS-LSCE-FFNN, OceanSODA-ETHZ). The
functions here take Datasets/DataArrays and return numbers; opening the products is the
caller's business.

- :func:`regional_mean`: area-weighted mean over the valid cells (exact WGS84 cell areas,
  :func:`satco2.science.gas_exchange.cell_area_WGS84`, times the region's cell fractions);
- :func:`regional_budget`: area integral over the valid cells, mol m-2 yr-1 -> Tg C yr-1;
- :func:`ensemble_stats`: mean, population standard deviation, min and max over member
  dimensions (SeaFlux ``product`` x ``wind``), the band of the dashboard;
- :func:`to_mmol_m2_d`: mol m-2 yr-1 (the products' flux unit) -> mmol m-2 d-1 (the run's);
- :func:`align_months`: a reference series on the run's months (by month of year for a
  climatology).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .. import SatCO2Error
from . import gas_exchange as ge


def _area(da: xr.DataArray, weights: xr.DataArray | None) -> xr.DataArray:
    if "lat" not in da.dims or "lon" not in da.dims:
        raise SatCO2Error(f"{da.name or 'the field'} has no lat/lon dimensions (dims {da.dims}).")
    a = xr.DataArray(ge.cell_area_WGS84(da.lat.values, da.lon.values), dims=("lat", "lon"),
                     coords={"lat": da.lat, "lon": da.lon})
    if weights is not None:
        a = a * weights.reindex_like(a, method="nearest", tolerance=1e-6).fillna(0.0)
    return a


def regional_mean(da: xr.DataArray, weights: xr.DataArray | None = None) -> xr.DataArray:
    """Area-weighted mean over lat/lon of the valid (non-NaN) cells: sum(x a w) / sum(a w) with a
    the WGS84 cell area and w the region's cell fraction (None: 1). Other dims are kept; NaN where
    no cell is valid."""
    a = _area(da, weights)
    valid = da.notnull()
    num = (da.fillna(0.0) * a).sum(("lat", "lon"))
    den = (a * valid).sum(("lat", "lon"))
    return (num / den.where(den > 0)).assign_attrs(units=da.attrs.get("units", ""))


def regional_budget(fgco2: xr.DataArray, weights: xr.DataArray | None = None) -> xr.DataArray:
    """Area integral of a flux density in mol m-2 yr-1 over the valid cells, in Tg C yr-1
    (12.0107 g C per mol, :data:`satco2.science.gas_exchange.MOLAR_MASS_C`). Positive = source."""
    a = _area(fgco2, weights)
    total = (fgco2.fillna(0.0) * a).sum(("lat", "lon"))  # mol yr-1
    return (total * ge.MOLAR_MASS_C / 1e12).assign_attrs(units="Tg C yr-1")


def to_mmol_m2_d(mol_m2_yr):
    """mol m-2 yr-1 -> mmol m-2 d-1 (365.25 d yr-1, :data:`gas_exchange.DAYS_PER_YEAR`)."""
    return mol_m2_yr * 1e3 / ge.DAYS_PER_YEAR


def ensemble_stats(da: xr.DataArray, member_dims) -> xr.Dataset:
    """Mean, population standard deviation (ddof 0), min and max over ``member_dims`` (those
    present; a member that is NaN is skipped)."""
    dims = [d for d in ([member_dims] if isinstance(member_dims, str) else member_dims) if d in da.dims]
    if not dims:
        z = xr.zeros_like(da)
        return xr.Dataset({"mean": da, "std": z, "min": da, "max": da})
    return xr.Dataset({"mean": da.mean(dims), "std": da.std(dims), "min": da.min(dims), "max": da.max(dims)})


def align_months(series: xr.DataArray | xr.Dataset, months, climatology: bool = False):
    """``series`` (dim ``time``) on the months ``months`` (month starts): by month of year when
    ``climatology``, else by date (NaN where the series has no value)."""
    m = pd.DatetimeIndex(months)
    if climatology:
        by_month = series.groupby("time.month").mean("time")
        out = by_month.sel(month=xr.DataArray(m.month, dims="time")).drop_vars("month")
        return out.assign_coords(time=m.values)
    t = pd.DatetimeIndex(series["time"].values).to_period("M").to_timestamp()
    return series.assign_coords(time=t.values).reindex(time=m.values)


def mean_abs_difference(a, b) -> float:
    """Mean |a - b| over the months where both are valid (NaN when none)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.mean(np.abs(a[ok] - b[ok]))) if ok.any() else float("nan")
