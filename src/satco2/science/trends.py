"""Trend engine: regional means, deseasonalized anomalies, OLS and Theil–Sen/Mann–Kendall trends.

Methods (registry :data:`METHODS`, name -> :class:`Method`):

- ``ols``: ordinary least squares slope with the two-sided t-test of a zero slope (as
  ``scipy.stats.linregress``).
- ``theil_sen_mk``: Theil (1950) – Sen (1968) median-of-pairwise-slopes estimator with the
  Mann (1945) – Kendall (1975) rank test, variance corrected for ties (Kendall 1975; Gilbert 1987,
  eq. 16.4), as ``pymannkendall.original_test``.
- ``theil_sen_mk_hr``: the same with the Hamed & Rao (1998, J. Hydrol. 204:182-196) variance
  correction for serial correlation (effective sample size from the significant lags of the
  autocorrelation of the ranks of the detrended series), detrended against time (y - b t, any
  unit and step of t); equal to ``pymannkendall.hamed_rao_modification_test`` on regular axes
  without gaps;
- ``theil_sen_mk_hr_index``: pymannkendall's Hamed-Rao recipe exactly (slope per axis position
  times the gap-closed index; independent of the time coordinate), equal to it with gaps too.
  See docs/trends.md, "Hamed-Rao: where it equals pymannkendall".

Every method runs one numba kernel (module ``_trend_kernels``, loaded on first use) over a 2-D
block ``(pixels, time)``; a small ``theil_sen_mk`` job (at most :data:`SMALL_PIXELS` pixels, numba
not loaded yet) runs instead on a numpy path (module ``_trend_small``) with bit-identical results,
so that the first call of a process does not pay numba's import and cache load. The block function is
wrapped once with :func:`xarray.apply_ufunc` (``dask="parallelized"``), so the same call serves a
regional time series ``(region, time)`` and an out-of-core cube ``(time, lat, lon)`` chunked in
space. Missing values (NaN) are skipped series by series ("gaps"). Time enters as decimal years
(:func:`decimal_year`), so slopes are in units of the variable per year; ``slope_pct`` is the slope
in percent of the series' mean per year (the style of Bai et al. 2018).

Deseasonalization (``deseason=True``) subtracts, per series, the mean of each calendar month over
the valid values of the period (monthly climatology), leaving monthly anomalies.

Entry points: :func:`trend` (any DataArray, lazy on dask), :func:`regional_mean`,
:func:`deseasonalize`, :func:`select_period`, :func:`fitted_line`; and :func:`trend_netcdf`, the streamed file-to-file counterpart of ``cdo trend`` (bounded memory, no
xarray/dask).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import SatCO2Error
from .trend_stream import _ATTRS, OLS_STATS, OLS_TITLE, trend_netcdf

__all__ = [
    "METHODS", "decimal_year", "deseasonalize", "select_period", "regional_mean", "trend",
    "ols_block", "theil_sen_mk_block", "trend_netcdf",
]


def __getattr__(name):
    # the numba kernels load on first use (importing numba costs ~0.3 s, loading its cache more)
    if name in ("ols_block", "theil_sen_mk_block"):
        from . import _trend_kernels

        return getattr(_trend_kernels, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------------------------
# time helpers
def decimal_year(time) -> np.ndarray:
    """Decimal years of datetimes: ``year + (month - 1 + (day - 1 + hour/24) / days_in_month) / 12``.

    Month starts are exactly 1/12 yr apart, so monthly series are evenly spaced and a slope per
    year is 12 times the slope per month step.
    """
    import pandas as pd
    t = pd.DatetimeIndex(np.asarray(time))
    frac_day = (t.day - 1 + t.hour / 24.0 + t.minute / 1440.0) / t.days_in_month
    return np.asarray(t.year + (t.month - 1 + frac_day) / 12.0, dtype=np.float64)


def _time_coord(da: xr.DataArray) -> str:
    """The name of the time dimension (:func:`satco2.cf.find`), else a datetime coordinate."""
    from .. import cf  # here, not at the top: cf imports xarray, which trend_netcdf never needs

    name = cf.find(da, "time", among=da.dims)
    if name is not None:
        return name
    for name in da.dims:
        if name in da.coords and np.issubdtype(da[name].dtype, np.datetime64):
            return name
    raise SatCO2Error(f"the data array {da.name!r} has no time dimension (CF axis T or a datetime coordinate)")


def select_period(obj, period=None, dim: str | None = None):
    """``obj`` restricted to ``period = (start, end)`` (strings ``YYYY-MM`` or dates, inclusive).

    Raises :class:`SatCO2Error` when the period is malformed or not inside the data's time range.
    """
    import xarray as xr
    import pandas as pd
    if period is None:
        return obj
    try:
        start, end = (pd.Timestamp(p) for p in period)
    except (TypeError, ValueError) as e:
        raise SatCO2Error(f"the period {period!r} is not a (start, end) pair of dates ({e})") from None
    if end < start:
        raise SatCO2Error(f"the period {period!r} ends before it starts")
    da = obj if isinstance(obj, xr.DataArray) else next(iter(obj.data_vars.values()))
    dim = dim or _time_coord(da)
    times = pd.DatetimeIndex(obj[dim].values)
    last = times.max() + pd.offsets.MonthEnd(0)
    if start < times.min() - pd.Timedelta(days=1) or end > last:
        raise SatCO2Error(
            f"the period {start:%Y-%m}..{end:%Y-%m} is outside the data, which cover "
            f"{times.min():%Y-%m}..{times.max():%Y-%m}"
        )
    end_incl = end + pd.offsets.MonthEnd(0) if end.day == 1 else end
    return obj.sel({dim: slice(start, end_incl + pd.Timedelta(hours=23, minutes=59))})


# --------------------------------------------------------------------------------------------
# block functions: numpy in, numpy out (..., time) -> (..., stat)
def _finish_ols(raw: np.ndarray, alpha: float) -> np.ndarray:
    from scipy import special

    slope, intercept, tstat, df, stderr, r, mean = raw.T
    with np.errstate(invalid="ignore"):
        p = 2.0 * special.stdtr(df, -np.abs(tstat))
    n = df + 2.0
    return np.stack([slope, intercept, p, n, mean, stderr, r], axis=-1)


def _finish_mk(raw: np.ndarray, alpha: float) -> np.ndarray:
    from scipy import special

    slope, intercept, n, s, var_s, mean, factor = raw.T
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(var_s)
        z = np.where(s > 0, (s - 1.0) / sd, np.where(s < 0, (s + 1.0) / sd, 0.0))
        z = np.where(np.isnan(s), np.nan, z)
        p = 2.0 * (1.0 - special.ndtr(np.abs(z)))  # as pymannkendall (two-sided)
        tau = s / (0.5 * n * (n - 1.0))
    return np.stack([slope, intercept, p, n, mean, z, tau, s, var_s, factor], axis=-1)


@dataclass(frozen=True)
class Method:
    """A trend method: the name of its numba block kernel (in ``_trend_kernels``), a finisher
    turning raw sums into statistics, and the
    names of the statistics it returns (the first five are common: slope, intercept, p_value, n,
    mean)."""

    title: str
    kernel: str
    finish: Callable
    stats: tuple[str, ...]
    kernel_kwargs: dict = field(default_factory=dict)

    def block(self, y: np.ndarray, t: np.ndarray, month: np.ndarray, *, deseason: bool,
              alpha: float, min_count: int, small: bool = False) -> np.ndarray:
        """Apply to ``y`` of shape (..., time); returns (..., len(stats)) float64. ``small``:
        the whole job is small (see :data:`SMALL_PIXELS`), so a numba-free path may serve it."""
        shape = y.shape[:-1]
        Y = np.ascontiguousarray(y.reshape(-1, y.shape[-1]))
        if Y.dtype not in (np.float32, np.float64):
            Y = Y.astype(np.float64)
        kw = dict(self.kernel_kwargs)
        if small and _use_numpy_path(self, Y):
            from . import _trend_small

            raw = _trend_small.theil_sen_mk_block(Y, t, month, deseason, min_count)
            return self.finish(raw, alpha).reshape(shape + (len(self.stats),))
        from scipy import special

        if "z_crit" in kw:
            kw["z_crit"] = float(special.ndtri(1.0 - alpha / 2.0))
        from . import _trend_kernels as K

        kernel = getattr(K, self.kernel)
        if self.kernel == "ols_block":
            raw = kernel(Y, t, month, deseason, min_count)
        else:
            raw = kernel(Y, t, month, deseason, min_count, kw["hamed_rao"], kw["hr_index"],
                         kw["z_crit"], K.numba.get_num_threads())
        return self.finish(raw, alpha).reshape(shape + (len(self.stats),))


#: ``trend()`` on at most this many pixels runs Theil-Sen + MK (without Hamed-Rao) on the
#: numba-free numpy path of :mod:`._trend_small` (identical results) unless the numba kernels are
#: loaded already: importing numba and loading its cached kernel costs ~0.9 CPU s (1.6 s wall
#: under load) in a fresh process, while the numpy path costs ~180 us per pixel of 144 steps
#: (the kernel 8-14 us, by CPU), so up to ~5,000 pixels it finishes before numba would have loaded.
SMALL_PIXELS = 4000


def _use_numpy_path(method: Method, Y: np.ndarray) -> bool:
    """Whether this block goes to the numba-free numpy path: Theil-Sen + MK without Hamed-Rao,
    while the numba kernels are not loaded yet."""
    import sys

    if method.kernel != "theil_sen_mk_block" or method.kernel_kwargs.get("hamed_rao"):
        return False
    return __package__ + "._trend_kernels" not in sys.modules


_COMMON = ("slope", "intercept", "p_value", "n", "mean")
_MK_STATS = _COMMON + ("z", "tau", "s", "var_s", "hr_factor")

METHODS: dict[str, Method] = {
    "ols": Method(OLS_TITLE, "ols_block", _finish_ols, OLS_STATS),
    "theil_sen_mk": Method("Theil-Sen slope + Mann-Kendall test (tie-corrected)",
                           "theil_sen_mk_block", _finish_mk, _MK_STATS,
                           {"hamed_rao": False, "hr_index": False, "z_crit": None}),
    "theil_sen_mk_hr": Method("Theil-Sen slope + Mann-Kendall test with the Hamed-Rao (1998) "
                              "autocorrelation correction", "theil_sen_mk_block", _finish_mk,
                              _MK_STATS, {"hamed_rao": True, "hr_index": False, "z_crit": None}),
    # pymannkendall's variant: detrend over the gap-closed index (equal to the above without gaps)
    "theil_sen_mk_hr_index": Method("Theil-Sen + Mann-Kendall, Hamed-Rao detrended on the "
                                    "gap-closed index (pymannkendall)", "theil_sen_mk_block",
                                    _finish_mk, _MK_STATS,
                                    {"hamed_rao": True, "hr_index": True, "z_crit": None}),
}



def trend(da: xr.DataArray, method: str = "theil_sen_mk", *, deseason: bool = True,
          alpha: float = 0.05, period=None, min_count: int = 12, dim: str | None = None,
          dtype=np.float64) -> xr.Dataset:
    """Trend of ``da`` along time, per every other index (pixel or region); lazy on dask input.

    Parameters
    ----------
    da : DataArray with a time dimension (CF axis T), any other dims; NaN = missing.
    method : a key of :data:`METHODS` (``ols``, ``theil_sen_mk``, ``theil_sen_mk_hr``, ...).
    deseason : subtract each series' monthly climatology first (monthly anomalies).
    alpha : significance level (two-sided), also the Hamed–Rao autocorrelation band.
    period : optional ``(start, end)``; outside the data -> :class:`SatCO2Error`.
    min_count : fewer valid values than this give NaN statistics.

    Returns
    -------
    Dataset with ``slope`` [units yr-1], ``slope_pct`` [% yr-1 of ``mean``], ``intercept``,
    ``p_value``, ``significant`` (p < alpha), ``n``, ``mean`` and the method's own statistics.
    """
    import xarray as xr
    import pandas as pd
    if method not in METHODS:
        raise SatCO2Error(f"unknown trend method {method!r}; choose one of {sorted(METHODS)}")
    if not (0.0 < float(alpha) < 1.0):
        raise SatCO2Error(f"the significance level alpha={alpha!r} must lie between 0 and 1")
    m = METHODS[method]
    dim = dim or _time_coord(da)
    da = select_period(da, period, dim)
    if da.sizes[dim] < 3:
        raise SatCO2Error(f"the series of {da.name!r} has {da.sizes[dim]} time steps; a trend needs at least 3")
    if da.chunks is not None:
        da = da.chunk({dim: -1})
    small = da.size <= SMALL_PIXELS * da.sizes[dim]
    t = decimal_year(da[dim].values)
    month = pd.DatetimeIndex(da[dim].values).month.values.astype(np.int64)
    res = xr.apply_ufunc(
        m.block, da, kwargs=dict(t=t, month=month, deseason=bool(deseason), alpha=float(alpha),
                                 min_count=int(min_count), small=small),
        input_core_dims=[[dim]], output_core_dims=[["stat"]], dask="parallelized",
        output_dtypes=[np.float64], dask_gufunc_kwargs={"output_sizes": {"stat": len(m.stats)}},
    )
    units = da.attrs.get("units", "1")
    ds = xr.Dataset()
    for i, name in enumerate(m.stats):
        v = res.isel(stat=i, drop=True).astype(dtype)
        u, ln = _ATTRS[name]
        v.attrs = {"units": u.format(units=units), "long_name": ln}
        ds[name] = v
    with np.errstate(divide="ignore", invalid="ignore"):
        ds["slope_pct"] = (100.0 * ds["slope"] / np.abs(ds["mean"])).assign_attrs(
            units="% yr-1", long_name="trend slope in percent of the period mean per year")
    ds["significant"] = (ds["p_value"] < alpha).assign_attrs(long_name=f"p < {alpha}")
    ds.attrs = {"method": method, "method_title": m.title, "deseasonalized": int(bool(deseason)),
                "alpha": float(alpha), "variable": str(da.name),
                "period": f"{pd.Timestamp(da[dim].values[0]):%Y-%m}..{pd.Timestamp(da[dim].values[-1]):%Y-%m}"}
    return ds


# --------------------------------------------------------------------------------------------
# regional means and anomalies
def regional_mean(da: xr.DataArray, masks: xr.DataArray, min_coverage: float = 0.0) -> xr.DataArray:
    """Area-weighted mean of ``da`` over each region of ``masks``, NaN-aware; lazy on dask input.

    ``masks``: fractional coverage (0..1) on the grid of ``da`` (from
    :func:`satco2.science.regions.mask`), optionally with a ``region`` dimension. Weights are
    coverage x cos(latitude) (cell area on a regular lon/lat grid). A time step whose valid
    weight is below ``min_coverage`` of the region's total weight gives NaN.
    """
    from ..cf import coord_name

    lat, lon = coord_name(da, "latitude"), coord_name(da, "longitude")
    w = masks * np.cos(np.deg2rad(da[lat]))
    w = w.fillna(0.0)
    valid = da.notnull()
    num = (da.fillna(0.0) * w).sum([lat, lon])
    den = (valid * w).sum([lat, lon])
    total = w.sum([lat, lon])
    out = (num / den).where((den > 0) & (den >= min_coverage * total))
    out.attrs = dict(da.attrs)
    out.attrs["cell_methods"] = "area: mean (fractional coverage x cos(lat) weights)"
    out.name = da.name
    return out


def deseasonalize(da: xr.DataArray, dim: str | None = None) -> xr.DataArray:
    """Monthly anomalies: ``da`` minus its mean for each calendar month (NaN-aware)."""
    import xarray as xr
    dim = dim or _time_coord(da)
    clim = da.groupby(f"{dim}.month").mean(dim)
    out = da.groupby(f"{dim}.month") - clim
    out = out.drop_vars("month", errors="ignore")
    out.attrs = dict(da.attrs, long_name=f"{da.attrs.get('long_name', da.name)} monthly anomaly")
    return out


def fitted_line(series: xr.DataArray, result: xr.Dataset, dim: str | None = None) -> xr.DataArray:
    """The fitted trend line ``intercept + slope * t`` on the time axis of ``series``."""
    import xarray as xr
    dim = dim or _time_coord(series)
    t = xr.DataArray(decimal_year(series[dim].values), dims=dim, coords={dim: series[dim]})
    return result["intercept"] + result["slope"] * t
