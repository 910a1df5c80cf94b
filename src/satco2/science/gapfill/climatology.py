"""Per-pixel calendar-month climatology: a gap filler of its own and the baseline that DINEOF's
anomaly mode (:class:`~satco2.science.gapfill.dineof.DINEOF` ``anomaly="monthly"``) works around.

The climatology of pixel p and calendar month m is the mean of the observed values of p in month m.
Where p was never observed in month m it falls back to the mean of p plus the regional seasonal
anomaly of month m (the mean over pixels of their month-m mean minus their own mean); a pixel never
observed has no climatology (NaN; :class:`~satco2.science.gapfill.base.GapFiller` drops it as land).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ... import SatCO2Error
from .base import FillOutput, GapFiller


def calendar_months(time_values, n: int) -> np.ndarray:
    """Calendar months (1-12) of a datetime axis; an axis that is not datetime is refused."""
    t = np.asarray(time_values)
    if not np.issubdtype(t.dtype, np.datetime64):
        raise SatCO2Error("a monthly climatology needs a datetime time axis")
    return pd.DatetimeIndex(t).month.values[:n]


def monthly_climatology(X: np.ndarray, months: np.ndarray, use: np.ndarray | None = None):
    """Climatology (12, M) and counts (12, M) of ``X`` (time N, pixel M; NaN = missing) from the
    entries where ``use`` (N, M) is True (default: every finite entry); fall-backs as in the
    module docstring."""
    ok = np.isfinite(X) if use is None else (use & np.isfinite(X))
    V = np.where(ok, X, 0.0)
    sums = np.stack([V[months == m].sum(0) for m in range(1, 13)])
    cnt = np.stack([ok[months == m].sum(0) for m in range(1, 13)]).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cm = sums / cnt
        pix = sums.sum(0) / cnt.sum(0)
        season = np.nanmean(cm - pix[None], axis=1)  # regional seasonal anomaly per month
        season = np.where(np.isfinite(season), season, 0.0)
        clim = np.where(cnt > 0, cm, pix[None] + season[:, None])
    return clim, cnt


class Climatology(GapFiller):
    """Fill every gap with the pixel's calendar-month climatology (module docstring).

    The error estimate is, per pixel, the rms of the observed anomalies about the climatology
    (transformed units). Observed values are kept. Needs a datetime time axis.
    """

    name = "climatology"

    def _fill(self, X, times):
        months = calendar_months(self.time_values_, X.shape[0])
        clim, _ = monthly_climatology(X, months)
        C = clim[months - 1]
        obs = np.isfinite(X)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            err = np.sqrt(np.nanmean(np.where(obs, (X - C) ** 2, np.nan), axis=0))
        err = np.where(np.isfinite(err), err, np.nanmedian(err) if np.isfinite(err).any() else 0.0)
        return FillOutput(filled=np.where(obs, X, C), error=np.broadcast_to(err, X.shape).copy(),
                          info={"n_modes": 0}, keeps_observed=True)
