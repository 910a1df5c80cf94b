"""Forecasts of gap-filled monthly fields, one per imputation, combined by Rubin's rules.

STIMP (Zhang et al. 2025) forecasts from each of its imputations and combines the forecasts
with Rubin's rules. Here every imputation (a gap-free history in transformed units, e.g. log10
mg m-3) is forecast by one of :data:`FORECASTERS` (name -> function(history (T, ...), months,
horizon, issue_month) -> (forecast (horizon, ...), residual variance (horizon, ...))):

- ``climatology``: the per-pixel calendar-month mean of the history; variance = the per-pixel
  variance of the anomalies about it in the forecast's calendar month;
- ``persistence``: the last 12 months repeated; variance = the mean squared difference between
  months k years apart in the history (k = years ahead);
- ``damped_anomaly``: climatology plus the mean anomaly of the last 12 months damped by its
  per-pixel lag-L autocorrelation r(L) (clipped to [0, 1]) estimated on the history (a first-order
  statistical forecast; Hasselmann 1976 / Frankignoul and Hasselmann 1977 red-noise model);
  variance = the calendar month's anomaly variance (1 - r(L)^2).

:func:`forecast` returns the Rubin mean, total variance and interval (``evaluate.rubin``);
:func:`forecast_skill` scores them at 1..n year horizons against what was observed after the
issue date.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from ... import SatCO2Error
from .evaluate import mae, pcc, rubin


def _nanmean(a, axis=0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=axis)


def _clim(history, months):
    c = np.stack([_nanmean(history[months == m]) if (months == m).any()
                  else np.full(history.shape[1:], np.nan) for m in range(1, 13)])
    return np.where(np.isfinite(c), c, _nanmean(history)[None])


def _month_var(anom, months):
    """Per-pixel variance of the anomalies of each calendar month (12, ...), the all-month
    variance where a month has fewer than 3 values (chlorophyll anomalies are larger in some
    seasons; on the Bay of Seine cube this changed the overall 90 % coverage little, see
    docs/gapfill.md)."""
    allv = _nanmean(anom**2)
    out = []
    for m in range(1, 13):
        sel = anom[months == m]
        cnt = np.isfinite(sel).sum(axis=0)
        out.append(np.where(cnt >= 3, _nanmean(sel**2), allv) if sel.shape[0] else allv)
    return np.stack(out)


def fc_climatology(history, months, horizon, issue_month):
    """Calendar-month climatology forecast (see module docstring)."""
    c = _clim(history, months)
    lead_months = (issue_month + np.arange(1, horizon + 1) - 1) % 12 + 1
    var = _month_var(history - c[months - 1], months)
    return c[lead_months - 1], var[lead_months - 1]


def fc_persistence(history, months, horizon, issue_month):
    """The last 12 months repeated (see module docstring)."""
    if history.shape[0] < 24:
        raise SatCO2Error("persistence needs at least 24 months of history")
    last = history[-12:]
    f = np.stack([last[i % 12] for i in range(horizon)])
    var = np.stack([_nanmean((history[12 * k:] - history[:-12 * k]) ** 2)
                    if history.shape[0] > 12 * k else _nanmean((history[12:] - history[:-12]) ** 2)
                    for k in (np.arange(horizon) // 12 + 1)])
    return f, var


def fc_damped_anomaly(history, months, horizon, issue_month):
    """Climatology + damped mean anomaly of the last year (see module docstring)."""
    c = _clim(history, months)
    anom = history - c[months - 1]
    a0 = _nanmean(anom[-12:])
    mvar = _month_var(anom, months)
    f, v = [], []
    for L in range(1, horizon + 1):
        # lag-L correlation of 12-month running-mean anomalies with the anomaly L months later
        n = anom.shape[0]
        if n - 12 - L < 3:
            r = np.zeros_like(a0)
        else:
            run = np.stack([_nanmean(anom[i - 12:i]) for i in range(12, n - L + 1)])
            nxt = anom[12 + L - 1:n]
            num = _nanmean(run * nxt)
            den = np.sqrt(_nanmean(run**2) * _nanmean(nxt**2))
            with np.errstate(invalid="ignore", divide="ignore"):
                r = np.clip(np.nan_to_num(num / den), 0.0, 1.0)
        lead_month = (issue_month + L - 1) % 12 + 1
        f.append(c[lead_month - 1] + r * np.nan_to_num(a0))
        v.append(mvar[lead_month - 1] * (1 - r**2))
    return np.stack(f), np.stack(v)


#: forecasters: name -> function(history, months, horizon, issue_month) -> (forecast, variance)
FORECASTERS = {"climatology": fc_climatology, "persistence": fc_persistence,
               "damped_anomaly": fc_damped_anomaly}


def forecast(imputations: np.ndarray, times, horizon: int, method: str = "damped_anomaly",
             level: float = 0.95) -> dict:
    """Forecast ``horizon`` months after the last time from each imputation and combine by
    Rubin's rules.

    ``imputations``: (m, T, ...) gap-free histories in transformed units (m >= 2); ``times``:
    their T month-start timestamps. Returns a dict with ``time`` (the forecast months) and the
    arrays of :func:`~satco2.science.gapfill.evaluate.rubin` (mean, total variance, lower, upper).
    """
    if method not in FORECASTERS:
        raise SatCO2Error(f"unknown forecaster {method!r}; choose one of {sorted(FORECASTERS)}")
    if horizon < 1:
        raise SatCO2Error(f"the forecast horizon must be at least 1 month, got {horizon}")
    t = pd.DatetimeIndex(times)
    months = t.month.values
    outs = [FORECASTERS[method](imp, months, horizon, months[-1]) for imp in imputations]
    f = np.stack([o[0] for o in outs])
    v = np.stack([o[1] for o in outs])
    res = rubin(f, v, level=level)
    res["time"] = pd.date_range(t[-1] + pd.offsets.MonthBegin(1), periods=horizon, freq="MS")
    res["members"] = f
    return res


def forecast_skill(imputations: np.ndarray, times, observed: np.ndarray, issue_index: int,
                   years: int = 3, methods=tuple(FORECASTERS), level: float = 0.95) -> pd.DataFrame:
    """Forecast skill at 1..``years`` year horizons, issued after time index ``issue_index``.

    ``imputations`` (m, T, ...) are the filled histories (only steps <= issue_index are used),
    ``observed`` (T, ...) the observations in the same units (NaN in gaps), which score the forecast
    months after the issue date. Returns one row per (method, lead year): MAE, PCC, the interval's
    empirical coverage, and MAE skill against climatology (1 - MAE / MAE_climatology).
    """
    T = observed.shape[0]
    horizon = min(12 * years, T - issue_index - 1)
    if horizon < 1:
        raise SatCO2Error("no observations after the issue date to score the forecast")
    hist = imputations[:, : issue_index + 1]
    rows = []
    for name in methods:
        fc = forecast(hist, pd.DatetimeIndex(times)[: issue_index + 1], horizon, name, level)
        for y in range(int(np.ceil(horizon / 12))):
            sl = slice(12 * y, min(12 * (y + 1), horizon))
            obs = observed[issue_index + 1:][sl]
            ok = np.isfinite(obs) & np.isfinite(fc["mean"][sl])
            inside = (obs[ok] >= fc["lower"][sl][ok]) & (obs[ok] <= fc["upper"][sl][ok])
            rows.append({"method": name, "lead_year": y + 1, "mae": mae(fc["mean"][sl][ok], obs[ok]),
                         "pcc": pcc(fc["mean"][sl][ok], obs[ok]), "coverage": float(inside.mean()),
                         "n": int(ok.sum())})
    df = pd.DataFrame(rows)
    ref = df[df.method == "climatology"].set_index("lead_year")["mae"] if "climatology" in methods else None
    if ref is not None:
        df["skill_vs_climatology"] = 1 - df["mae"] / df["lead_year"].map(ref)
    return df


def imputations_of(ds: xr.Dataset, n: int = 8, seed: int = 0, transform=np.log10) -> np.ndarray:
    """Several imputations (n, time, lat, lon) in transformed units from a filled Dataset: its
    ``samples`` when the method made them, else the filled field plus Gaussian noise of the
    method's error estimate at the gaps (observed pixels are kept)."""
    if "samples" in ds:
        return transform(ds["samples"].values)
    rng = np.random.default_rng(seed)
    base = transform(ds["filled"].values)
    gap = ~np.isfinite(ds["observed"].values)
    err = np.nan_to_num(ds["error"].values)
    return np.stack([np.where(gap, base + err * rng.standard_normal(base.shape), base) for _ in range(n)])
