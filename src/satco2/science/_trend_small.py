"""Theil–Sen + Mann–Kendall for a few hundred series in numpy, bit-identical to the numba kernel.

Loading numba and its cached kernels costs more than a second in a fresh process, far more than
fitting a small cube; :meth:`satco2.science.trends.Method.block` therefore sends small blocks
here (no numba import) until the process has fitted enough pixels for the kernel to pay off.
Every statistic equals :func:`satco2.science._trend_kernels.theil_sen_mk_block` (without the
Hamed–Rao correction) bit for bit: the same float64 operations in the same order (sequential
sums over time, slope = (y_j - y_i) * 1/(t_j - t_i), the median as the exact order statistic(s)
of all pair slopes by :func:`numpy.partition`), vectorized over pixels instead of time.
The methods and their sources are documented in :mod:`satco2.science.trends`.
"""
from __future__ import annotations

import numpy as np

#: pair slopes held at once (float64 each): bounds the memory of one call to ~32 MB
MAX_PAIRS = 1 << 22


def _pairs(nt: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(nt, 1)


def theil_sen_mk_block(Y: np.ndarray, t: np.ndarray, month: np.ndarray, deseason: bool,
                       min_count: int) -> np.ndarray:
    """Same output as ``_trend_kernels.theil_sen_mk_block(Y, t, month, deseason, min_count,
    False, False, z_crit, nthreads)``: (pixels, 7) slope, intercept, n, S, Var(S), mean, 1."""
    Y = np.asarray(Y, dtype=np.float64)
    npix, nt = Y.shape
    out = np.full((npix, 7), np.nan)
    if npix == 0:
        return out
    ii, jj = _pairs(nt)
    dt = t[jj] - t[ii]
    with np.errstate(divide="ignore"):
        inv = np.where(dt > 0, 1.0 / np.where(dt > 0, dt, 1.0), 0.0)
    step = max(1, MAX_PAIRS // max(1, ii.size))
    for p0 in range(0, npix, step):
        out[p0:p0 + step] = _block(Y[p0:p0 + step], t, np.asarray(month), deseason, min_count,
                                   ii, jj, inv)
    return out


#: quantiles of a sample of pair slopes that bracket the median (as the kernel's bracket)
_SAMPLE, _QLO, _QHI = 1024, 0.44, 0.56


def _median_slopes(d: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Per row of ``d`` (NaN = no pair), the median of its ``m`` finite values: exact order
    statistics (mean of the two middle ones when ``m`` is even). The values between two sample
    quantiles are selected (few); rows whose bracket misses the median rank are partitioned whole."""
    npix, npairs = d.shape
    k_hi = m // 2
    k_lo = np.where(m % 2 == 0, k_hi - 1, k_hi)
    out = np.empty(npix)
    r = np.arange(npix)
    good = np.zeros(npix, bool)
    if npairs > 4 * _SAMPLE:
        cols = np.sort(np.random.default_rng(0).choice(npairs, _SAMPLE, replace=False))
        smp = np.sort(d[:, cols], axis=1)  # NaN last
        nv = _SAMPLE - np.isnan(smp).sum(axis=1)
        lo = smp[r, (nv * _QLO).astype(np.int64)]
        hi = smp[r, np.minimum(nv - 1, (nv * _QHI).astype(np.int64))]
        below = (d < lo[:, None]).sum(axis=1)
        inside = (d >= lo[:, None]) & (d <= hi[:, None])
        nin = inside.sum(axis=1)
        good = (nv >= 64) & (below <= k_lo) & (k_hi < below + nin)
        if good.any():
            g = np.flatnonzero(good)
            inside &= good[:, None]
            vals = d[inside]  # row by row
            cnt = nin[g]
            pad = np.full((g.size, int(cnt.max())), np.inf)
            rowi = np.repeat(np.arange(g.size), cnt)
            coli = np.arange(vals.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            pad[rowi, coli] = vals
            a, b = k_lo[g] - below[g], k_hi[g] - below[g]
            rg = np.arange(g.size)
            if (a == a[0]).all() and (b == b[0]).all():
                pad = np.partition(pad, (int(a[0]), int(b[0])), axis=1)
            else:
                pad.sort(axis=1)
            u, v = pad[rg, a], pad[rg, b]
            out[g] = np.where(a == b, u, 0.5 * (u + v))
    for p in np.flatnonzero(~good):
        row = d[p]
        row = row[~np.isnan(row)]
        a, b = int(k_lo[p]), int(k_hi[p])
        part = np.partition(row, (a, b))
        out[p] = part[a] if a == b else 0.5 * (part[a] + part[b])
    return out


def _block(Y, t, month, deseason, min_count, ii, jj, inv):
    npix, nt = Y.shape
    out = np.full((npix, 7), np.nan)
    valid = ~np.isnan(Y)
    n = valid.sum(axis=1)
    # mean of the raw valid values: a sequential sum over time (as the kernel)
    s = np.zeros(npix)
    for k in range(nt):
        s += np.where(valid[:, k], Y[:, k], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[:, 5] = np.where(n > 0, s / np.where(n > 0, n, 1), np.nan)
    yv = Y
    if deseason:
        sums = np.zeros((npix, 13))
        cnts = np.zeros((npix, 13))
        for k in range(nt):
            sums[:, month[k]] += np.where(valid[:, k], Y[:, k], 0.0)
            cnts[:, month[k]] += valid[:, k]
        with np.errstate(invalid="ignore", divide="ignore"):
            yv = Y - sums[:, month] / cnts[:, month]
    ok = n >= max(min_count, 3)
    if not ok.any():
        return out
    rows = np.flatnonzero(ok)
    yv, n = yv[rows], n[rows]
    d = np.empty((rows.size, ii.size))
    o = 0
    for i in range(nt - 1):  # (y_j - y_i) for j > i, NaN where either value is missing
        np.subtract(yv[:, i + 1:], yv[:, i:i + 1], out=d[:, o:o + nt - 1 - i])
        o += nt - 1 - i
    pos = (d > 0.0).sum(axis=1)
    neg = (d < 0.0).sum(axis=1)
    d *= inv
    slope = _median_slopes(d, n * (n - 1) // 2)
    del d
    # median of y and the tie correction from the sorted values (NaN last)
    srt = np.sort(yv, axis=1)
    r = np.arange(rows.size)
    h = n // 2
    odd = n % 2 == 1
    ymed = np.where(odd, srt[r, h], 0.5 * (srt[r, h - 1] + srt[r, h]))
    tv_sorted = np.broadcast_to(t, yv.shape)[~np.isnan(yv)]  # valid times, row by row
    starts = np.concatenate(([0], np.cumsum(n)[:-1]))
    tmed = np.where(odd, tv_sorted[starts + h], 0.5 * (tv_sorted[starts + h - 1] + tv_sorted[starts + h]))
    # runs of equal values: tp (tp - 1) (2 tp + 5) per run (Kendall 1975 tie correction)
    eq = srt[:, 1:] == srt[:, :-1]
    tie = np.zeros(rows.size)
    if eq.any():
        for p in np.flatnonzero(eq.any(axis=1)):
            vals = srt[p, :n[p]]
            _, tp = np.unique(vals, return_counts=True)
            tp = tp.astype(np.float64)
            tie[p] = float(np.sum(tp * (tp - 1.0) * (2.0 * tp + 5.0)))
    nf = n.astype(np.float64)
    res = out[rows]
    res[:, 0] = slope
    res[:, 1] = ymed - slope * tmed
    res[:, 2] = nf
    res[:, 3] = (pos - neg).astype(np.float64)
    res[:, 4] = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - tie) / 18.0
    res[:, 6] = 1.0
    out[rows] = res
    return out
