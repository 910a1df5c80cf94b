"""Evaluation harness for gap filling and prediction.

Protocols (:data:`MASKS`) hide a fraction ``rate`` (0-1) of the *observed* pixels, refill the cube
and score the filled values at the hidden pixels against what was observed there:

- ``"stimp"``: pixels hidden uniformly at random (the protocol of STIMP, Zhang et al. 2025,
  Nat. Commun., doi:10.1038/s41467-025-62901-9, dataset/dataset_imputation.py);
- ``"clouds"``: cloud-shaped masks taken from the data's own gaps: every image receives the gap
  masks of other, randomly chosen images (after DINEOF's Scripts/Matlab/dineof_cvp.m,
  Alvera-Azcarate et al. 2005) until ``rate`` of its observed pixels are hidden.

Metrics (:data:`METRICS`), computed in the transformed space (log10 chlorophyll as STIMP does):

- ``mae`` mean absolute error, ``rmse``, ``pcc`` Pearson correlation, ``bias``;
- ``crps``: continuous ranked probability score, closed form for a Gaussian forecast
  (Gneiting and Raftery 2007, J. Am. Stat. Assoc. 102, 359, eq. 5 / Gneiting et al. 2005) or the
  ensemble (energy) form E|X - y| - E|X - X'| / 2 (Gneiting and Raftery 2007, eq. 21).

Rubin's rules (Rubin 1987, Multiple Imputation for Nonresponse in Surveys, Wiley, ch. 3; the
degrees of freedom of Barnard and Rubin 1999 are not used, see :func:`rubin`) combine m estimates
from m imputations into one estimate and a total variance.
"""
from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from ... import SatCO2Error
from .base import TRANSFORMS, find_axes


# ------------------------------------------------------------------------------------------------
# masks
def mask_stimp(observed: np.ndarray, rate: float, rng) -> np.ndarray:
    """Hide ``rate`` of the observed pixels (True in ``observed``) uniformly at random."""
    idx = np.flatnonzero(observed)
    k = int(round(rate * idx.size))
    hide = np.zeros(observed.shape, dtype=bool)
    hide.flat[rng.choice(idx, size=k, replace=False)] = True
    return hide


def mask_clouds(observed: np.ndarray, rate: float, rng) -> np.ndarray:
    """Hide about ``rate`` of each image's observed pixels with other images' gap masks.

    ``observed`` is (time, lat, lon); pixels never observed (land) are not clouds. Donor images
    are taken in random order and their gaps added to the target until the fraction is reached;
    when the data's own gaps cannot reach it (few cloudy images), the donor gaps are dilated by one
    pixel per pass, so the masks stay cloud-shaped. The last donor is cut to the compact piece
    (nearest pixels to a random point of its clouds) that meets the rate exactly.
    """
    from scipy import ndimage

    nt = observed.shape[0]
    sea = observed.any(axis=0)
    gaps = ~observed & sea[None]
    hide = np.zeros(observed.shape, dtype=bool)
    for t in range(nt):
        n_obs = observed[t].sum()
        if n_obs == 0:
            continue
        target = rate * n_obs
        h = np.zeros(observed.shape[1:], dtype=bool)
        donors = [d for d in rng.permutation(nt) if d != t and gaps[d].any()]
        grow = 0
        need = int(round(target))
        while h.sum() < need:
            if not donors:
                grow += 1
                donors = [d for d in rng.permutation(nt) if d != t and gaps[d].any()]
                if grow > 20 or not donors:
                    break
            d = donors.pop()
            g = ndimage.binary_dilation(gaps[d], iterations=grow) if grow else gaps[d]
            new = g & observed[t] & ~h
            k = need - int(h.sum())
            if new.sum() > k:
                # keep the k new pixels nearest to a random point of the donor's clouds: a
                # compact piece of cloud rather than scattered pixels
                yy, xx = np.nonzero(new)
                s = rng.integers(yy.size)
                dist = (yy - yy[s]) ** 2 + (xx - xx[s]) ** 2
                keep = np.argsort(dist, kind="stable")[:k]
                new = np.zeros_like(new)
                new[yy[keep], xx[keep]] = True
            h |= new
        hide[t] = h
    return hide


#: evaluation protocols: name -> function(observed (time, lat, lon) bool, rate, rng) -> hide mask
MASKS = {"stimp": mask_stimp, "clouds": mask_clouds}


# ------------------------------------------------------------------------------------------------
# metrics (arrays of equal shape; NaN-aware through ``where``)
def mae(pred, truth):
    """Mean absolute error (units of the inputs)."""
    return float(np.mean(np.abs(np.asarray(pred) - np.asarray(truth))))


def rmse(pred, truth):
    """Root-mean-square error (units of the inputs)."""
    return float(np.sqrt(np.mean((np.asarray(pred) - np.asarray(truth)) ** 2)))


def bias(pred, truth):
    """Mean of pred - truth (units of the inputs)."""
    return float(np.mean(np.asarray(pred) - np.asarray(truth)))


def pcc(pred, truth):
    """Pearson correlation coefficient (dimensionless)."""
    p, t = np.asarray(pred, float).ravel(), np.asarray(truth, float).ravel()
    if p.size < 2 or p.std() == 0 or t.std() == 0:
        return float("nan")
    return float(np.corrcoef(p, t)[0, 1])


def crps_gaussian(mu, sigma, y):
    """CRPS of N(mu, sigma^2) for observation y (Gneiting and Raftery 2007, eq. 5), mean over
    points; units of y. sigma = 0 reduces to the absolute error."""
    mu, sigma, y = (np.atleast_1d(np.asarray(a, float)) for a in np.broadcast_arrays(mu, sigma, y))
    out = np.array(np.abs(y - mu))
    pos = sigma > 0
    z = (y[pos] - mu[pos]) / sigma[pos]
    out[pos] = sigma[pos] * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / math.sqrt(math.pi))
    return float(np.mean(out))


def crps_ensemble(samples, y, fair: bool = False):
    """CRPS of an ensemble (first axis = members) for observation y: E|X - y| - E|X - X'| / 2
    (Gneiting and Raftery 2007, eq. 21), mean over points; units of y.

    ``fair=True``: the "fair" CRPS (Ferro 2014, Q. J. R. Meteorol. Soc. 140:1917, eq. 6), whose
    E|X - X'| runs over distinct members only (a factor m / (m - 1)): an unbiased estimate of the
    CRPS of the distribution the members are drawn from. The standard form scores the m-member
    empirical distribution itself, which penalises a small ensemble when it is compared with a
    closed-form (e.g. Gaussian) forecast."""
    x = np.asarray(samples, float)
    y = np.asarray(y, float)
    m = x.shape[0]
    if fair and m < 2:
        raise SatCO2Error("the fair CRPS needs at least 2 ensemble members")
    term1 = np.mean(np.abs(x - y[None]), axis=0)
    xs = np.sort(x, axis=0)
    # E|X - X'| = 2 / m^2 * sum_i (2 i - m - 1) x_(i) for sorted members (i = 1..m)
    w = (2 * np.arange(1, m + 1) - m - 1).reshape((m,) + (1,) * (x.ndim - 1))
    term2 = 2.0 / m**2 * np.sum(w * xs, axis=0)
    if fair:
        term2 = term2 * m / (m - 1)
    return float(np.mean(term1 - 0.5 * term2))


#: deterministic metrics: name -> function(pred, truth)
METRICS = {"mae": mae, "rmse": rmse, "bias": bias, "pcc": pcc}


# ------------------------------------------------------------------------------------------------
def rubin(estimates, variances, level: float = 0.95, axis: int = 0) -> dict:
    """Combine m estimates from m imputations by Rubin's rules (Rubin 1987, ch. 3).

    Q_bar = mean(Q_i); W = mean(U_i) (within-imputation variance); B = var(Q_i, ddof=1)
    (between-imputation variance); T = W + (1 + 1/m) B (total variance). The interval is
    Q_bar +- t_nu sqrt(T) with Rubin's degrees of freedom nu = (m - 1) (1 + W / ((1 + 1/m) B))^2
    (infinite when B = 0: a normal quantile).

    Parameters: ``estimates`` and ``variances`` (squared units of the estimate) broadcast
    together, imputations along ``axis``; ``level`` the interval's coverage (0-1).
    Returns a dict of arrays: ``mean``, ``within``, ``between``, ``total``, ``df``, ``lower``,
    ``upper``.
    """
    Q = np.moveaxis(np.asarray(estimates, float), axis, 0)
    U = np.moveaxis(np.broadcast_to(np.asarray(variances, float), np.shape(estimates)), axis, 0)
    m = Q.shape[0]
    if m < 2:
        raise SatCO2Error(f"Rubin's rules need at least 2 imputations, got {m}")
    qbar = Q.mean(axis=0)
    W = U.mean(axis=0)
    B = Q.var(axis=0, ddof=1)
    T = W + (1 + 1 / m) * B
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (1 + 1 / m) * B / W
        df = np.where(B > 0, (m - 1) * (1 + 1 / r) ** 2, np.inf)
    q = np.where(np.isfinite(df), stats.t.ppf(0.5 + level / 2, np.where(np.isfinite(df), df, 1.0)),
                 stats.norm.ppf(0.5 + level / 2))
    half = q * np.sqrt(T)
    return {"mean": qbar, "within": W, "between": B, "total": T, "df": df,
            "lower": qbar - half, "upper": qbar + half}


# ------------------------------------------------------------------------------------------------
#: what :func:`evaluate_imputation` does with hidden points a method leaves unfilled (NaN)
UNFILLED = ("exclude", "nearest")


def _nearest_fill(arr: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """``arr`` (..., time, lat, lon) with the ``bad`` (time, lat, lon) points replaced by the value
    of the nearest (Euclidean, in grid cells) finite point of the same time step; a time step
    without any finite point stays NaN there."""
    from scipy import ndimage

    out = np.array(arr, dtype=float, copy=True)
    lead = out.shape[:-3]
    for t in np.flatnonzero(bad.any(axis=(1, 2))):
        ok = np.isfinite(out[(0,) * len(lead) + (t,)]) & ~bad[t]
        if not ok.any():
            continue
        _, (iy, ix) = ndimage.distance_transform_edt(~ok, return_indices=True)
        yy, xx = np.nonzero(bad[t])
        out[..., t, yy, xx] = out[..., t, iy[yy, xx], ix[yy, xx]]
    return out


def evaluate_imputation(da: xr.DataArray, methods: dict, rates=(0.1, 0.3, 0.5, 0.7, 0.9),
                        protocol: str = "stimp", transform: str = "log10", seed: int = 0,
                        return_fields: bool = False, reference: xr.DataArray | None = None,
                        unfilled: str = "exclude"):
    """Score gap-filling methods by hiding ``rates`` of the observed pixels of ``da``.

    Parameters
    ----------
    da : (time, lat, lon) field with NaN gaps, e.g. chlor_a in mg m-3.
    methods : name -> a callable returning a fresh :class:`GapFiller` (called once per rate).
    rates : fractions (0-1) of observed pixels hidden.
    protocol : a key of :data:`MASKS`.
    transform : space in which the metrics are computed ("log10" as STIMP).
    reference : optional field on the same grid and in the same units as ``da`` without the
        observation noise (e.g. the noise-free truth of synthetic data). Adds two columns:
        ``floor``, the MAE that the reference itself scores against the observations at the
        hidden pixels (the noise floor: no method can expect less when the noise is independent
        of everything it sees), and ``mae_ref``, the method's MAE against the reference.
    unfilled : what happens to hidden points a method leaves NaN (a pixel whose every
        observation was hidden is dropped by :class:`GapFiller` as if it were land; common at
        high rates on real gap patterns). ``"exclude"``: such points are left out of the score
        *of every method* at that rate (the methods stay scored on the same points);
        ``"nearest"``: each is given the filled value (and error, and samples) of the nearest
        filled pixel at the same time step, a declared fallback, and scored. Never silently NaN.

    Returns a DataFrame with one row per (method, rate): mae, rmse, bias, pcc, crps (from the
    samples when the method gives several imputations, else from the Gaussian error estimate),
    crps_fair (the fair ensemble CRPS, :func:`crps_ensemble`; equal to crps for a Gaussian),
    seconds, the achieved hidden fraction (and floor, mae_ref with ``reference``), and the
    bookkeeping of unfilled points: ``unfilled`` (the policy), ``n_hidden`` (hidden points),
    ``n_unfilled`` (hidden points this method left NaN), ``n_fallback`` (of them, filled by the
    nearest-pixel fallback), ``n_excluded`` (hidden points left out of the score: unfilled by
    any method under "exclude", or with no finite pixel at that time step under "nearest") and
    ``n_scored``; with ``return_fields`` also a dict (method, rate) -> filled Dataset.
    """
    if protocol not in MASKS:
        raise SatCO2Error(f"unknown evaluation protocol {protocol!r}; choose one of {sorted(MASKS)}")
    if unfilled not in UNFILLED:
        raise SatCO2Error(f"unknown unfilled-point policy {unfilled!r}; choose one of {list(UNFILLED)}")
    for r in rates:
        if not 0 < r < 1:
            raise SatCO2Error(f"missing rates must lie strictly between 0 and 1, got {r}")
    tdim, ydim, xdim = find_axes(da)
    da = da.transpose(tdim, ydim, xdim)
    fwd = TRANSFORMS[transform][0]
    values = np.asarray(da.values, float)
    observed = np.isfinite(values)
    ref = None
    if reference is not None:
        ref = np.asarray(reference.transpose(*find_axes(reference)).values, float)
        if ref.shape != values.shape:
            raise SatCO2Error(f"reference has shape {ref.shape}, the field {values.shape}; they must match")
        if not np.isfinite(ref[observed]).all():
            raise SatCO2Error("reference must be finite wherever the field is observed")
    rows, fields = [], {}
    for i, rate in enumerate(rates):
        rng = np.random.default_rng([seed, i])
        hide = MASKS[protocol](observed, rate, rng)
        masked = da.where(~hide)
        runs = []
        for name, factory in methods.items():
            t0 = time.perf_counter()
            ds = factory().fit(masked)
            seconds = time.perf_counter() - t0
            filled = np.asarray(ds["filled"].values, float)
            err = np.broadcast_to(np.asarray(ds["error"].values, float), filled.shape)
            smp = np.asarray(ds["samples"].values, float) if "samples" in ds else None
            bad = hide & ~np.isfinite(filled)
            n_unfilled = int(bad.sum())
            if unfilled == "nearest" and n_unfilled:
                filled = _nearest_fill(filled, bad)
                err = _nearest_fill(err, bad)
                smp = _nearest_fill(smp, bad) if smp is not None else None
            runs.append((name, ds, seconds, filled, err, smp, n_unfilled))
            if return_fields:
                fields[(name, rate)] = ds
        # the points scored: the same for every method
        score = hide.copy()
        for _, _, _, filled, _, _, _ in runs:
            score &= np.isfinite(filled)
        truth = fwd(values[score])
        for name, ds, seconds, filled, err, smp, n_unfilled in runs:
            pred = fwd(filled[score])
            row = {"method": name, "protocol": protocol, "rate": rate,
                   "hidden_fraction": hide.sum() / observed.sum(), "seconds": seconds,
                   "unfilled": unfilled, "n_hidden": int(hide.sum()), "n_unfilled": n_unfilled,
                   "n_fallback": n_unfilled - int((hide & ~np.isfinite(filled)).sum()),
                   "n_excluded": int(hide.sum() - score.sum()), "n_scored": int(score.sum())}
            for mname, f in METRICS.items():
                row[mname] = f(pred, truth) if truth.size else float("nan")
            if ref is not None:
                row["floor"] = mae(fwd(ref[score]), truth) if truth.size else float("nan")
                row["mae_ref"] = mae(pred, fwd(ref[score])) if truth.size else float("nan")
            if not truth.size:
                row["crps"] = row["crps_fair"] = float("nan")
            elif smp is not None:
                members = fwd(smp[:, score])
                row["crps"] = crps_ensemble(members, truth)
                row["crps_fair"] = crps_ensemble(members, truth, fair=True)
            else:  # a closed form: the distribution itself, nothing to correct
                row["crps"] = row["crps_fair"] = crps_gaussian(pred, err[score], truth)
            rows.append(row)
    table = pd.DataFrame(rows)
    return (table, fields) if return_fields else table
