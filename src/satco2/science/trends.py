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
block ``(pixels, time)``; the block function is
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

import os

import numpy as np

from .. import SatCO2Error, io
from .. import cf
from ..cf import coord_name

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
              alpha: float, min_count: int) -> np.ndarray:
        """Apply to ``y`` of shape (..., time); returns (..., len(stats)) float64."""
        shape = y.shape[:-1]
        Y = np.ascontiguousarray(y.reshape(-1, y.shape[-1]))
        if Y.dtype not in (np.float32, np.float64):
            Y = Y.astype(np.float64)
        from scipy import special

        kw = dict(self.kernel_kwargs)
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


_COMMON = ("slope", "intercept", "p_value", "n", "mean")
_MK_STATS = _COMMON + ("z", "tau", "s", "var_s", "hr_factor")

METHODS: dict[str, Method] = {
    "ols": Method("ordinary least squares + t-test", "ols_block", _finish_ols,
                  _COMMON + ("stderr", "rvalue")),
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

_ATTRS = {
    "slope": ("{units} yr-1", "trend slope"),
    "intercept": ("{units}", "intercept at t = 0 (decimal year 0)"),
    "p_value": ("1", "two-sided p-value of a zero trend"),
    "n": ("1", "number of valid values"),
    "mean": ("{units}", "mean of the valid values over the period"),
    "stderr": ("{units} yr-1", "standard error of the OLS slope"),
    "rvalue": ("1", "Pearson correlation with time"),
    "z": ("1", "Mann-Kendall normal score"),
    "tau": ("1", "Kendall tau"),
    "s": ("1", "Mann-Kendall S"),
    "var_s": ("1", "variance of S"),
    "hr_factor": ("1", "Hamed-Rao variance factor n/n*"),
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
    t = decimal_year(da[dim].values)
    month = pd.DatetimeIndex(da[dim].values).month.values.astype(np.int64)
    res = xr.apply_ufunc(
        m.block, da, kwargs=dict(t=t, month=month, deseason=bool(deseason), alpha=float(alpha),
                                 min_count=int(min_count)),
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


# --------------------------------------------------------------------------------------------
# file to file, streamed (like `cdo trend`): no xarray/dask, bounded memory
def _decimal_years_cf(values, units: str, calendar: str = "standard") -> np.ndarray:
    import calendar as _cal

    import cftime

    out, months = [], []
    for d in cftime.num2date(values, units, calendar=calendar):
        dim = _cal.monthrange(d.year, d.month)[1] if calendar in ("standard", "gregorian",
                                                                 "proleptic_gregorian") else 30
        out.append(d.year + (d.month - 1 + (d.day - 1 + d.hour / 24.0) / dim) / 12.0)
        months.append(d.month)
    return np.asarray(out, dtype=np.float64), np.asarray(months, dtype=np.int64)

def trend_netcdf(inp, out, variable: str, method: str = "ols", *, deseason: bool = False,
                 alpha: float = 0.05, min_count: int = 3, block_bytes: float = 64e6,
                 stats=None) -> None:
    """Per-pixel trend of ``variable`` (dims time, y, x) from NetCDF file ``inp`` into NetCDF
    ``out`` in bounded memory (out-of-core), without xarray/dask: the file-to-file counterpart
    of ``cdo trend``.

    ``stats``: the outputs to write, among the method's statistics (:data:`METHODS`) plus
    ``slope_pct`` (% of the mean per year) and ``slope_per_step`` (per time step, as cdo writes
    ``b``); default all. All are float32, written to a temporary name renamed at the end.

    OLS without deseasonalization streams the file in its own order, whole time slabs of about
    ``block_bytes``, accumulating per-pixel sums with BLAS (:func:`_ols_stream_sums`, 48 bytes
    per pixel) - no numba, and the t-distribution only when ``p_value`` is asked for (``cdo
    trend`` computes neither). Every other case reads blocks of rows and runs the method's kernel
    as :func:`trend` does.
    """
    import netCDF4

    if method not in METHODS:
        raise SatCO2Error(f"unknown trend method {method!r}; choose one of {sorted(METHODS)}")
    m = METHODS[method]
    extra = ("slope_pct", "slope_per_step")
    names = list(m.stats) + list(extra) if stats is None else list(stats)
    unknown = [n for n in names if n not in m.stats and n not in extra]
    if unknown or not names:
        raise SatCO2Error(f"the statistics {unknown or names!r} are not outputs of the method {method!r}; "
                          f"choose among {list(m.stats) + list(extra)}")
    with io.atomic_path(out, suffix=".nc") as tmp:  # a failed or killed run leaves no partial file
        with netCDF4.Dataset(inp) as src:
            if variable not in src.variables:
                raise SatCO2Error(f"the file {inp} has no variable {variable!r}")
            v = src[variable]
            if v.ndim != 3:
                raise SatCO2Error(f"the variable {variable!r} in {inp} must have 3 dimensions (time, y, x)")
            tdim, ydim, xdim = v.dimensions
            tv = src[tdim]
            t, month = _decimal_years_cf(tv[:], tv.units, getattr(tv, "calendar", "standard"))
            nt, ny, nx = v.shape
            step = float(np.median(np.diff(t))) if nt > 1 else 1.0
            rows = max(1, int(block_bytes // (nt * nx * 4)))
            # CF decoding by hand (one pass less than netCDF4's masked arrays): fill -> NaN, then
            # scale_factor / add_offset
            v.set_auto_maskandscale(False)
            fill = getattr(v, "_FillValue", None)
            fill = None if fill is None or (np.issubdtype(np.asarray(fill).dtype, np.floating) and np.isnan(fill)) else fill
            scale, offset = getattr(v, "scale_factor", None), getattr(v, "add_offset", None)

            def read(*key):
                raw = np.asarray(v[key])
                a = raw if raw.dtype.kind == "f" and scale is None and offset is None else raw.astype(np.float32)
                if scale is not None:
                    a *= np.float32(scale)
                if offset is not None:
                    a += np.float32(offset)
                if fill is not None:
                    a[raw == fill] = np.nan
                return a

            with netCDF4.Dataset(tmp, "w", format="NETCDF4") as dst:
                dst.createDimension(ydim, ny)
                dst.createDimension(xdim, nx)
                for c in (ydim, xdim):
                    if c in src.variables:
                        cv = dst.createVariable(c, src[c].dtype, (c,))
                        cv.setncatts({k: src[c].getncattr(k) for k in src[c].ncattrs()})
                        cv[:] = src[c][:]
                outs = {n: dst.createVariable(n, "f4", (ydim, xdim), fill_value=np.float32(np.nan))
                        for n in names}
                units = getattr(v, "units", "1")
                for n in names:
                    if n in _ATTRS:
                        u, ln = _ATTRS[n]
                        outs[n].units, outs[n].long_name = u.format(units=units), ln
                if "slope_pct" in outs:
                    outs["slope_pct"].units = "% yr-1"
                if "slope_per_step" in outs:
                    outs["slope_per_step"].units = f"{units} per time step"
                dst.setncatts({"method": method, "method_title": m.title, "source_file": str(inp),
                               "variable": variable, "deseasonalized": int(bool(deseason)),
                               "alpha": float(alpha)})
                streamed = method == "ols" and not deseason
                if streamed:
                    t0 = float(t.mean())
                    tstep = max(1, int(block_bytes // (ny * nx * 4)))
                    with_r = bool({"p_value", "stderr", "rvalue"} & set(names))
                    acc, shift = _ols_stream_sums(read, nt, ny * nx, t - t0, tstep, need_syy=with_r)
                for j0 in range(0, ny, rows):
                    j1 = min(ny, j0 + rows)
                    if streamed:
                        sl = slice(j0 * nx, j1 * nx)
                        raw = _ols_stream_finish(acc[:, sl], shift[sl], t0, min_count, with_r)
                        if "p_value" in names:
                            res = _finish_ols(raw, alpha)
                        else:  # slope, intercept, p (not asked for), n, mean, stderr, r
                            res = raw[:, [0, 1, 2, 3, 6, 4, 5]]
                            res[:, 2] = np.nan
                            res[:, 3] += 2.0
                    else:
                        blk = read(slice(None), slice(j0, j1), slice(None))
                        Y = np.ascontiguousarray(blk.reshape(nt, -1).T)
                        res = m.block(Y, t, month, deseason=deseason, alpha=alpha, min_count=min_count)
                    shape = (j1 - j0, nx)
                    col = dict(zip(m.stats, res.T))
                    with np.errstate(divide="ignore", invalid="ignore"):
                        col["slope_pct"] = 100.0 * col["slope"] / np.abs(col["mean"])
                    col["slope_per_step"] = col["slope"] * step
                    for n in names:
                        outs[n][j0:j1, :] = col[n].reshape(shape).astype(np.float32)


def _ols_stream_sums(read, nt: int, npix: int, d: np.ndarray, tstep: int, need_syy: bool = True,
                     nthreads: int | None = None):
    """Per-pixel OLS sums over a (time, y, x) variable read in whole time slabs (file order).

    ``read(slice)`` returns the slab ``(k, y, x)`` with NaN for missing; ``d`` = time - t0.
    Returns ``(acc, shift)``: ``acc`` (6, pixels) float64 holds n, sum d, sum d^2, sum y',
    sum d*y', sum y'^2 (the last only if ``need_syy``), with y' = y - shift, ``shift`` being each
    pixel's first valid value (the "shifted data" algorithm for sums of squares, so values such as
    SST in kelvin lose no precision). Within a slab (``tstep`` steps) the sums are float32
    BLAS products, across slabs float64; NaN is skipped. Pixels are split over ``nthreads``
    threads (numpy and BLAS release the GIL; BLAS itself is held at one thread meanwhile).
    """
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    if nthreads is None:
        nthreads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    nthreads = max(1, min(int(nthreads), npix // 65536))
    bounds = np.linspace(0, npix, nthreads + 1).astype(int)
    acc = np.zeros((6, npix))
    shift = np.zeros(npix, np.float32)
    done = np.zeros(npix, bool)  # pixels whose shift is set

    def part(slab, D, a, b):
        s = slab[:, a:b]
        s -= shift[a:b]
        ok = np.isfinite(s)
        anyv = ok.any(axis=0)
        # pixels valid for the first time: their sums are still zero, so their shift (their first
        # valid value) can be set now and applied to this slab
        new = anyv & ~done[a:b]
        if new.any():
            first = np.take_along_axis(s, ok.argmax(axis=0)[None], axis=0)[0]
            first = np.where(new, first, np.float32(0))
            shift[a:b] += first
            done[a:b] |= new
            s -= first
        np.copyto(s, np.float32(0), where=~ok)
        # the sums of 1, d, d^2 over the valid steps: constants for pixels valid at every step
        # of the slab, zero for pixels valid at none; a product only for the others (clouds)
        full = ok.all(axis=0)
        acc[0:3, a:b] += np.outer(D.sum(axis=1, dtype=np.float64), full)
        mixed = np.flatnonzero(~full & anyv)
        if mixed.size:
            acc[0:3, a + mixed] += D @ ok[:, mixed].astype(np.float32)
        acc[3:5, a:b] += D[:2] @ s
        if need_syy:
            acc[5, a:b] += np.einsum("ij,ij->j", s, s)

    def load(k0):
        slab = np.ascontiguousarray(read(slice(k0, k0 + tstep)), dtype=np.float32)
        return slab.reshape(slab.shape[0], npix)

    # the next slab is read (netCDF4 releases the GIL) while this one is summed
    with ThreadPoolExecutor(nthreads) as ex, ThreadPoolExecutor(1) as reader, \
            threadpool_limits(1 if nthreads > 1 else None):
        nxt = reader.submit(load, 0)
        for k0 in range(0, nt, tstep):
            slab = nxt.result()
            if k0 + tstep < nt:
                nxt = reader.submit(load, k0 + tstep)
            dk = d[k0:k0 + tstep]
            D = np.stack([np.ones_like(dk), dk, dk * dk]).astype(np.float32)
            list(ex.map(lambda ab: part(slab, D, ab[0], ab[1]), zip(bounds[:-1], bounds[1:])))
    return acc, shift


def _ols_stream_finish(acc: np.ndarray, shift: np.ndarray, t0: float, min_count: int,
                       with_r: bool = True) -> np.ndarray:
    """Raw OLS statistics (pixels, 7) in the layout of ``ols_block`` (slope, intercept,
    t-statistic, degrees of freedom, stderr, rvalue, mean) from the sums of
    :func:`_ols_stream_sums` (the normal equations of least squares, as ``scipy.stats.linregress``).
    ``with_r=False`` leaves the t-statistic, stderr and rvalue NaN (their sum of y^2 was not
    accumulated)."""
    n, sd, sdd, sy, sdy, syy = acc
    with np.errstate(invalid="ignore", divide="ignore"):
        tm, ym = sd / n, sy / n
        sxx = sdd - n * tm * tm
        sxy = sdy - n * tm * ym
        syy = np.maximum(syy - n * ym * ym, 0.0)
        slope = sxy / sxx
        mean = ym + shift
        df = n - 2.0
        raw = np.full((n.size, 7), np.nan)
        raw[:, 0], raw[:, 1], raw[:, 3], raw[:, 6] = slope, mean - slope * (tm + t0), df, mean
        if with_r:
            r = np.where(syy > 0.0, np.clip(sxy / np.sqrt(sxx * syy), -1.0, 1.0), 0.0)
            raw[:, 2] = np.where(np.abs(r) == 1.0, np.copysign(np.inf, r),
                                 r * np.sqrt(df / ((1.0 - r) * (1.0 + r))))
            raw[:, 4] = np.sqrt(np.maximum(0.0, 1.0 - r * r) * syy / sxx / df)
            raw[:, 5] = r
    raw[(n < max(min_count, 3)) | ~(sxx > 0.0), :6] = np.nan
    raw[n == 0, 6] = np.nan
    return raw
