"""Trend engine: regional means, deseasonalized anomalies, OLS and Theil–Sen/Mann–Kendall trends.

Methods (registry :data:`METHODS`, name -> :class:`Method`):

- ``ols``: ordinary least squares slope with the two-sided t-test of a zero slope (as
  ``scipy.stats.linregress``).
- ``theil_sen_mk``: Theil (1950) – Sen (1968) median-of-pairwise-slopes estimator with the
  Mann (1945) – Kendall (1975) rank test, variance corrected for ties (Kendall 1975; Gilbert 1987,
  eq. 16.4), as ``pymannkendall.original_test``.
- ``theil_sen_mk_hr``: the same with the Hamed & Rao (1998, J. Hydrol. 204:182-196) variance
  correction for serial correlation (effective sample size from the significant lags of the
  autocorrelation of the ranks of the detrended series), as
  ``pymannkendall.hamed_rao_modification_test``.

Every method runs one numba kernel over a 2-D block ``(pixels, time)``; the block function is
wrapped once with :func:`xarray.apply_ufunc` (``dask="parallelized"``), so the same call serves a
regional time series ``(region, time)`` and an out-of-core cube ``(time, lat, lon)`` chunked in
space. Missing values (NaN) are skipped series by series ("gaps"). Time enters as decimal years
(:func:`decimal_year`), so slopes are in units of the variable per year; ``slope_pct`` is the slope
in percent of the series' mean per year (the style of Bai et al. 2018).

Deseasonalization (``deseason=True``) subtracts, per series, the mean of each calendar month over
the valid values of the period (monthly climatology), leaving monthly anomalies.

Entry points: :func:`trend` (any DataArray, lazy on dask), :func:`regional_mean`,
:func:`deseasonalize`, :func:`select_period`, :func:`fitted_line`; :func:`run_analysis` (the
marginal-sea notebook: seas x variables from the catalog, written to Zarr/CSV); and
:func:`trend_netcdf`, the streamed file-to-file counterpart of ``cdo trend`` (bounded memory, no
xarray/dask).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numba
import numpy as np

from .. import SatCO2Error
from ..cf import coord_name

__all__ = [
    "METHODS", "decimal_year", "deseasonalize", "select_period", "regional_mean", "trend",
    "ols_block", "theil_sen_mk_block",
]


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
    """The name of the time dimension: CF ``axis: T`` / ``standard_name: time``, else ``time``."""
    for name in da.dims:
        c = da.coords.get(name)
        if c is not None and (c.attrs.get("axis") == "T" or c.attrs.get("standard_name") == "time"):
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
# numba kernels (one series per row of a 2-D block)
@numba.njit(cache=True, nogil=True)
def _valid_anomalies(y, month, deseason, tv, yv, t, yraw_mean):
    """Fill tv/yv with the valid (time, value) pairs, deseasonalized if asked; return count."""
    n = 0
    for i in range(y.shape[0]):
        if not np.isnan(y[i]):
            tv[n] = t[i]
            yv[n] = y[i]
            n += 1
    if deseason and n > 0:
        sums = np.zeros(13)
        cnts = np.zeros(13)
        for i in range(y.shape[0]):
            if not np.isnan(y[i]):
                sums[month[i]] += y[i]
                cnts[month[i]] += 1.0
        k = 0
        for i in range(y.shape[0]):
            if not np.isnan(y[i]):
                yv[k] = y[i] - sums[month[i]] / cnts[month[i]]
                k += 1
    return n


@numba.njit(cache=True, nogil=True)
def _mean_valid(y):
    s = 0.0
    c = 0
    for i in range(y.shape[0]):
        if not np.isnan(y[i]):
            s += y[i]
            c += 1
    return s / c if c > 0 else np.nan


@numba.njit(parallel=True, cache=True)
def ols_block(Y, t, month, deseason, min_count):
    """OLS per row of ``Y`` (pixels, time) against ``t`` (decimal years).

    Returns (pixels, 7): slope, intercept, t-statistic, degrees of freedom, stderr, rvalue, mean
    (of the raw valid values). Rows with fewer than ``min_count`` valid values give NaN.
    """
    npix, nt = Y.shape
    out = np.full((npix, 7), np.nan)
    for p in numba.prange(npix):
        tv = np.empty(nt)
        yv = np.empty(nt)
        n = _valid_anomalies(Y[p], month, deseason, tv, yv, t, 0.0)
        out[p, 6] = _mean_valid(Y[p])
        if n < max(min_count, 3):
            continue
        tm = 0.0
        ym = 0.0
        for i in range(n):
            tm += tv[i]
            ym += yv[i]
        tm /= n
        ym /= n
        sxx = 0.0
        sxy = 0.0
        syy = 0.0
        for i in range(n):
            dt = tv[i] - tm
            dy = yv[i] - ym
            sxx += dt * dt
            sxy += dt * dy
            syy += dy * dy
        if sxx == 0.0:
            continue
        slope = sxy / sxx
        df = n - 2.0
        if syy == 0.0:
            r = 0.0
        else:
            r = sxy / np.sqrt(sxx * syy)
            r = min(1.0, max(-1.0, r))
        out[p, 0] = slope
        out[p, 1] = ym - slope * tm
        if abs(r) == 1.0:
            tstat = np.inf if r > 0 else -np.inf
        else:
            tstat = r * np.sqrt(df / ((1.0 - r) * (1.0 + r)))
        out[p, 2] = tstat
        out[p, 3] = df
        out[p, 4] = np.sqrt((1.0 - r * r) * syy / sxx / df)
        out[p, 5] = r
    return out


@numba.njit(cache=True, nogil=True)
def _select(a, lo, hi, k):
    """Rearrange a[lo:hi+1] so that a[k] is its k-th smallest value (Hoare quickselect with a
    median-of-three pivot); return it."""
    while hi > lo:
        mid = (lo + hi) // 2
        x = a[lo]
        y = a[mid]
        z = a[hi]
        if x < y:
            piv = y if y < z else (z if x < z else x)
        else:
            piv = x if x < z else (z if y < z else y)
        i = lo
        j = hi
        while i <= j:
            while a[i] < piv:
                i += 1
            while a[j] > piv:
                j -= 1
            if i <= j:
                tmp = a[i]
                a[i] = a[j]
                a[j] = tmp
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return a[k]
    return a[k]


@numba.njit(cache=True, nogil=True)
def _median_inplace(a, m):
    """Exact median of a[:m] (mean of the two middle values when m is even), reordering a."""
    k = m // 2
    v = _select(a, 0, m - 1, k)
    if m % 2 == 1:
        return v
    w = a[0]
    for i in range(1, k):
        if a[i] > w:
            w = a[i]
    return 0.5 * (v + w)


@numba.njit(cache=True, nogil=True)
def _theil_sen_s(yv, idx, n, inv, samp, work):
    """Theil–Sen slope (exact median of the pairwise slopes) and Mann–Kendall S of yv[:n].

    ``idx``: positions of the valid values in the full time axis; ``inv[a, b] = 1/(t_b - t_a)``
    (times strictly increasing, so every pair counts, as in scipy.stats.theilslopes). The median is
    found without sorting the n(n-1)/2 slopes: a systematic subsample of pairs brackets it, one
    fused pass over all pairs computes S, counts the slopes below the bracket and keeps those in
    it, and a quickselect inside the bracket gives the exact order statistic(s); if the bracket
    misses (rare), every slope is kept and selected. Returns (slope, S, number of pairs).
    """
    # 1. pseudo-random subsample of pair slopes (fixed LCG, so results are deterministic)
    #    -> bracket [lo, hi] around the median at sample quantiles 0.44 and 0.56 (~4 sigma)
    m_all = n * (n - 1) // 2
    ns = 0
    lo = -np.inf
    hi = np.inf
    if m_all > 4096:
        state = np.uint64(88172645463325252)
        for k in range(1024):
            state = state * np.uint64(6364136223846793005) + np.uint64(1442695040888963407)
            i = np.int64(((state >> np.uint64(33)) * np.uint64(n)) >> np.uint64(31))
            state = state * np.uint64(6364136223846793005) + np.uint64(1442695040888963407)
            j = np.int64(((state >> np.uint64(33)) * np.uint64(n)) >> np.uint64(31))
            if i == j:
                continue
            if i > j:
                i, j = j, i
            samp[ns] = (yv[j] - yv[i]) * inv[idx[i], idx[j]]
            ns += 1
        klo = int(ns * 0.44)
        khi = int(ns * 0.56)
        lo = _select(samp, 0, ns - 1, klo)
        hi = _select(samp, klo, ns - 1, khi)
    # 2. fused, branch-free pass: S, slopes below / inside the bracket (every slope is written
    #    to work[nin], nin advances only when it lies inside the bracket)
    si = 0
    below = 0
    nin = 0
    for i in range(n - 1):
        yi = yv[i]
        row = inv[idx[i]]
        for j in range(i + 1, n):
            dy = yv[j] - yi
            si += (dy > 0.0) - (dy < 0.0)
            sl = dy * row[idx[j]]
            below += sl < lo
            work[nin] = sl
            nin += (sl >= lo) & (sl <= hi)
    m = m_all
    k_hi = m // 2
    k_lo = k_hi - 1 if m % 2 == 0 else k_hi
    if not (below <= k_lo and k_hi < below + nin):
        # bracket missed: keep every slope
        nin = 0
        for i in range(n - 1):
            row = inv[idx[i]]
            for j in range(i + 1, n):
                work[nin] = (yv[j] - yv[i]) * row[idx[j]]
                nin += 1
        below = 0
    v = _select(work, 0, nin - 1, k_hi - below)
    if k_lo == k_hi:
        return v, float(si), m
    u = work[0]
    for i in range(1, k_hi - below):
        if work[i] > u:
            u = work[i]
    return 0.5 * (u + v), float(si), m


@numba.njit(cache=True, nogil=True)
def _average_ranks(x, n, ranks):
    """Ranks (1-based, ties averaged, as scipy.stats.rankdata) of x[:n] into ranks[:n]."""
    order = np.argsort(x[:n], kind="mergesort")
    i = 0
    while i < n:
        j = i
        while j + 1 < n and x[order[j + 1]] == x[order[i]]:
            j += 1
        r = 0.5 * (i + j) + 1.0
        for k in range(i, j + 1):
            ranks[order[k]] = r
        i = j + 1


@numba.njit(parallel=True, cache=True)
def theil_sen_mk_block(Y, t, month, deseason, min_count, hamed_rao, hr_index, z_crit, nthreads):
    """Theil–Sen slope and Mann–Kendall statistics per row of ``Y`` (pixels, time).

    Returns (pixels, 7): slope (per unit of ``t``), intercept (median(y) - slope * median(t)),
    n (valid values), S, Var(S) (tie-corrected; Hamed–Rao corrected if ``hamed_rao``), mean of the
    raw valid values, n/n* (Hamed–Rao variance factor, 1 otherwise).

    ``hr_index``: detrend with the index 1..n of the valid values (pymannkendall's choice, which
    closes gaps) instead of their times. ``z_crit``: the normal quantile 1 - alpha/2 bounding the
    autocorrelations counted by Hamed–Rao.
    """
    npix, nt = Y.shape
    out = np.full((npix, 7), np.nan)
    inv = np.zeros((nt, nt))
    for a in range(nt):
        for b in range(a + 1, nt):
            if t[b] > t[a]:
                inv[a, b] = 1.0 / (t[b] - t[a])
    npairs_max = max(1, nt * (nt - 1) // 2)
    nblocks = max(1, min(npix, 64 * nthreads))
    for blk in numba.prange(nblocks):
        tv = np.empty(nt)
        yv = np.empty(nt)
        idx = np.empty(nt, dtype=np.int64)
        work = np.empty(npairs_max + 1)
        samp = np.empty(npairs_max + 1)
        srt = np.empty(nt)
        for p in range(blk * npix // nblocks, (blk + 1) * npix // nblocks):
            y = Y[p]
            n = _valid_anomalies(y, month, deseason, tv, yv, t, 0.0)
            out[p, 5] = _mean_valid(y)
            if n < max(min_count, 3):
                continue
            k = 0
            for i in range(nt):
                if not np.isnan(y[i]):
                    idx[k] = i
                    k += 1
            slope, s, m = _theil_sen_s(yv, idx, n, inv, samp, work)
            if m == 0:
                continue
            for i in range(n):
                srt[i] = yv[i]
            ymed = _median_copy(srt, n)
            for i in range(n):
                srt[i] = tv[i]
            tmed = _median_copy(srt, n)
            intercept = ymed - slope * tmed
            # tie-corrected variance of S
            srt[:n] = np.sort(yv[:n])
            tie = 0.0
            i = 0
            while i < n:
                j = i
                while j + 1 < n and srt[j + 1] == srt[i]:
                    j += 1
                tp = j - i + 1.0
                tie += tp * (tp - 1.0) * (2.0 * tp + 5.0)
                i = j + 1
            var_s = (n * (n - 1.0) * (2.0 * n + 5.0) - tie) / 18.0
            factor = 1.0
            if hamed_rao:
                factor = _hamed_rao_factor(yv, tv, n, slope, hr_index, z_crit)
                var_s = var_s * factor
            out[p, 0] = slope
            out[p, 1] = intercept
            out[p, 2] = n
            out[p, 3] = s
            out[p, 4] = var_s
            out[p, 6] = factor
    return out


@numba.njit(cache=True, nogil=True)
def _median_copy(a, n):
    """Median of a[:n] (reorders a)."""
    return _median_inplace(a, n)


@numba.njit(cache=True, nogil=True)
def _hamed_rao_factor(yv, tv, n, slope, hr_index, z_crit):
    """Hamed & Rao (1998) variance factor n/n* = 1 + 2/(n(n-1)(n-2)) sum over significant lags i
    of (n-i)(n-i-1)(n-i-2) rho_i, rho = autocorrelation of the ranks of the detrended series;
    a lag counts when |rho_i| > z_crit/sqrt(n) (as pymannkendall)."""
    det = np.empty(n)
    for i in range(n):
        det[i] = yv[i] - slope * ((i + 1.0) if hr_index else tv[i])
    rk = np.empty(n)
    _average_ranks(det, n, rk)
    rm = 0.0
    for i in range(n):
        rm += rk[i]
    rm /= n
    for i in range(n):
        rk[i] -= rm
    c0 = 0.0
    for i in range(n):
        c0 += rk[i] * rk[i]
    bound = z_crit / np.sqrt(n)
    sni = 0.0
    for lag in range(1, n):
        c = 0.0
        for i in range(n - lag):
            c += rk[i] * rk[i + lag]
        acf = c / c0
        if acf > bound or acf < -bound:
            sni += (n - lag) * (n - lag - 1.0) * (n - lag - 2.0) * acf
    return 1.0 + (2.0 / (n * (n - 1.0) * (n - 2.0))) * sni


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
    """A trend method: a numba block kernel, a finisher turning raw sums into statistics, and the
    names of the statistics it returns (the first five are common: slope, intercept, p_value, n,
    mean)."""

    title: str
    kernel: Callable
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
        if self.kernel is ols_block:
            raw = self.kernel(Y, t, month, deseason, min_count)
        else:
            raw = self.kernel(Y, t, month, deseason, min_count, kw["hamed_rao"], kw["hr_index"],
                              kw["z_crit"], numba.get_num_threads())
        return self.finish(raw, alpha).reshape(shape + (len(self.stats),))


_COMMON = ("slope", "intercept", "p_value", "n", "mean")
_MK_STATS = _COMMON + ("z", "tau", "s", "var_s", "hr_factor")

METHODS: dict[str, Method] = {
    "ols": Method("ordinary least squares + t-test", ols_block, _finish_ols,
                  _COMMON + ("stderr", "rvalue")),
    "theil_sen_mk": Method("Theil-Sen slope + Mann-Kendall test (tie-corrected)",
                           theil_sen_mk_block, _finish_mk, _MK_STATS,
                           {"hamed_rao": False, "hr_index": False, "z_crit": None}),
    "theil_sen_mk_hr": Method("Theil-Sen slope + Mann-Kendall test with the Hamed-Rao (1998) "
                              "autocorrelation correction", theil_sen_mk_block, _finish_mk,
                              _MK_STATS, {"hamed_rao": True, "hr_index": False, "z_crit": None}),
    # pymannkendall's variant: detrend over the gap-closed index (equal to the above without gaps)
    "theil_sen_mk_hr_index": Method("Theil-Sen + Mann-Kendall, Hamed-Rao detrended on the "
                                    "gap-closed index (pymannkendall)", theil_sen_mk_block,
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
# the marginal-sea analysis (notebooks/marginal_sea_trends.ipynb)
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


def _write_zarr_atomic(ds: xr.Dataset, path) -> None:
    import shutil
    import uuid
    from pathlib import Path

    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    ds.to_zarr(tmp, mode="w", consolidated=True)
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)


def _union_bbox(seas) -> tuple[float, float, float, float]:
    from . import regions

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
    import xarray as xr
    import pandas as pd
    from pathlib import Path

    from .. import catalog
    from . import regions

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
            _write_zarr_atomic(mp, out_dir / MAPS_FILE.format(variable=v))
            maps_out[v] = mp
    reg = xr.merge(regional, compat="override", join="outer")
    reg.attrs = {"seas": ",".join(seas), "variables": ",".join(variables), "method": method,
                 "method_title": METHODS[method].title, "alpha": float(alpha),
                 "deseasonalized": int(bool(deseason)), "period": f"{p0:%Y-%m}..{p1:%Y-%m}",
                 "source": source, "title": "Marginal-sea trends (satco2.science.trends)"}
    for s_attr in ("region",):
        reg[s_attr] = reg[s_attr].astype(str)
    _write_zarr_atomic(reg, out_dir / REGIONAL_FILE)
    table = pd.DataFrame(rows)
    tmp = out_dir / f".{TABLE_FILE}.tmp"
    table.to_csv(tmp, index=False)
    tmp.rename(out_dir / TABLE_FILE)
    return {"regional": reg, "table": table, "maps": maps_out, "inputs": inputs}


@numba.njit(parallel=True, cache=True)
def ols_rows(B, t, t0, acc):
    """Accumulate OLS sums over a block ``B`` (time, pixels) in file order (no transpose):
    ``acc`` (7, pixels) holds n, sum dt, sum dt^2, sum y, sum y^2, sum dt*y (dt = t - t0);
    NaN skipped. Call once per time slab, then :func:`ols_finish`. Pixels are split into
    chunks (parallel), time is walked row by row inside a chunk (streaming memory access)."""
    nt, npix = B.shape
    csize = 2048
    nchunks = (npix + csize - 1) // csize
    for c in numba.prange(nchunks):
        p0 = c * csize
        p1 = min(npix, p0 + csize)
        for k in range(nt):
            d = t[k] - t0
            dd = d * d
            for p in range(p0, p1):
                y = B[k, p]
                if not np.isnan(y):
                    acc[0, p] += 1.0
                    acc[1, p] += d
                    acc[2, p] += dd
                    acc[3, p] += y
                    acc[4, p] += y * y
                    acc[5, p] += d * y


@numba.njit(parallel=True, cache=True)
def ols_finish(acc, t0, min_count):
    """Raw OLS statistics (pixels, 7) as :func:`ols_block` from the sums of :func:`ols_rows`."""
    npix = acc.shape[1]
    out = np.full((npix, 7), np.nan)
    for p in numba.prange(npix):
        n = acc[0, p]
        if n > 0:
            out[p, 6] = acc[3, p] / n
        if n < max(min_count, 3):
            continue
        tm = acc[1, p] / n
        ym = acc[3, p] / n
        sxx = acc[2, p] - n * tm * tm
        sxy = acc[5, p] - n * tm * ym
        syy = acc[4, p] - n * ym * ym
        if sxx <= 0.0:
            continue
        slope = sxy / sxx
        df = n - 2.0
        r = 0.0 if syy <= 0.0 else min(1.0, max(-1.0, sxy / np.sqrt(sxx * syy)))
        out[p, 0] = slope
        out[p, 1] = ym - slope * (tm + t0)
        out[p, 2] = (np.inf if r > 0 else -np.inf) if abs(r) == 1.0 else r * np.sqrt(df / ((1.0 - r) * (1.0 + r)))
        out[p, 3] = df
        out[p, 4] = np.sqrt(max(0.0, (1.0 - r * r)) * syy / sxx / df)
        out[p, 5] = r
    return out


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
                 pvalues: bool = True) -> None:
    """Per-pixel trend of ``variable`` (dims time, y, x) from NetCDF file ``inp`` into NetCDF
    ``out``, streamed in blocks of rows of about ``block_bytes`` (out-of-core, bounded memory).

    The same kernels as :func:`trend` (the method registry), without xarray/dask: the file-to-file
    counterpart of ``cdo trend``. Writes every statistic of the method plus ``slope_pct`` as
    float32 (slope per year; ``slope_per_step`` per time step as cdo reports it), to a temporary
    name renamed at the end. ``pvalues=False`` (OLS only) skips the p-values (t-distribution
    evaluations dominate the cost of a plain slope, which is all ``cdo trend`` computes).
    """
    import os

    import netCDF4

    if method not in METHODS:
        raise SatCO2Error(f"unknown trend method {method!r}; choose one of {sorted(METHODS)}")
    m = METHODS[method]
    tmp = f"{out}.tmp{os.getpid()}"
    try:
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
            v.set_auto_mask(False)
            fill = getattr(v, "_FillValue", None)
            with netCDF4.Dataset(tmp, "w", format="NETCDF4") as dst:
                dst.createDimension(ydim, ny)
                dst.createDimension(xdim, nx)
                for c in (ydim, xdim):
                    if c in src.variables:
                        cv = dst.createVariable(c, src[c].dtype, (c,))
                        cv.setncatts({k: src[c].getncattr(k) for k in src[c].ncattrs()})
                        cv[:] = src[c][:]
                skip = {"p_value"} if (method == "ols" and not pvalues) else set()
                names = [n for n in m.stats if n not in skip] + ["slope_pct", "slope_per_step"]
                outs = {n: dst.createVariable(n, "f4", (ydim, xdim), fill_value=np.float32(np.nan))
                        for n in names}
                units = getattr(v, "units", "1")
                for n in m.stats:
                    if n in skip:
                        continue
                    u, ln = _ATTRS[n]
                    outs[n].units, outs[n].long_name = u.format(units=units), ln
                outs["slope_pct"].units = "% yr-1"
                outs["slope_per_step"].units = f"{units} per time step"
                dst.setncatts({"method": method, "method_title": m.title, "source_file": str(inp),
                               "variable": variable, "deseasonalized": int(bool(deseason)),
                               "alpha": float(alpha)})
                streamed = method == "ols" and not deseason
                t0 = float(t.mean())
                if streamed:
                    # file order: whole time slabs (contiguous reads, as cdo does), sums for every
                    # pixel (7 x 8 bytes each), then the statistics block by block
                    acc = np.zeros((7, ny * nx))
                    tstep = max(1, int(block_bytes // (ny * nx * 4)))
                    for k0 in range(0, nt, tstep):
                        slab = np.asarray(v[k0:k0 + tstep])
                        if fill is not None and not np.isnan(fill):
                            slab = np.where(slab == fill, np.nan, slab)
                        ols_rows(slab.reshape(slab.shape[0], -1), t[k0:k0 + tstep], t0, acc)
                for j0 in range(0, ny, rows):
                    j1 = min(ny, j0 + rows)
                    if streamed:
                        raw = ols_finish(np.ascontiguousarray(acc[:, j0 * nx:j1 * nx]), t0, min_count)
                        if pvalues:
                            stats = _finish_ols(raw, alpha)
                        else:  # slope, intercept, p (NaN), n, mean, stderr, r
                            stats = raw[:, [0, 1, 2, 3, 6, 4, 5]]
                            stats[:, 3] += 2.0
                    else:
                        blk = np.asarray(v[:, j0:j1, :])
                        if fill is not None and not np.isnan(fill):
                            blk = np.where(blk == fill, np.nan, blk)
                        Y = np.ascontiguousarray(blk.reshape(nt, -1).T)
                        stats = m.block(Y, t, month, deseason=deseason, alpha=alpha, min_count=min_count)
                    shape = (j1 - j0, nx)
                    for i, n in enumerate(m.stats):
                        if n not in skip:
                            outs[n][j0:j1, :] = stats[:, i].reshape(shape).astype(np.float32)
                    with np.errstate(divide="ignore", invalid="ignore"):
                        pct = 100.0 * stats[:, 0] / np.abs(stats[:, 4])
                    outs["slope_pct"][j0:j1, :] = pct.reshape(shape).astype(np.float32)
                    outs["slope_per_step"][j0:j1, :] = (stats[:, 0] * step).reshape(shape).astype(np.float32)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
