"""Numba kernels of :mod:`satco2.analyses.matchups`: one pass over the observations instead of a
numpy pass per step (compiled on first use, cached on disk, without the GIL).

Each kernel gives exactly what the numpy expression in its docstring gives (tested bitwise in
``tests/test_matchups.py``); they are plain loops, no formula of their own.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def cell_positions(x, e):
    """``np.searchsorted(e, x, side="right") - 1`` for ascending edges ``e`` (NaN sorts after
    every edge, as in numpy). Regular edges: the cell from arithmetic, checked against its two
    edges (bisection when the check fails: rounding, irregular or infinite edges)."""
    n = x.size
    m = e.size
    out = np.empty(n, np.int64)
    f0 = float(e[0])
    f1 = float(e[m - 1])
    regular = m >= 3 and np.isfinite(f0) and np.isfinite(f1) and f1 > f0
    inv = (m - 1) / (f1 - f0) if regular else 0.0
    for p in range(n):
        v = x[p]
        if v != v:  # NaN
            out[p] = m - 1
            continue
        if v < e[0]:
            out[p] = -1
            continue
        if v >= e[m - 1]:
            out[p] = m - 1
            continue
        if regular:
            g = int((float(v) - f0) * inv)
            if g > m - 2:
                g = m - 2
            if g < 0:
                g = 0
            if e[g] <= v and v < e[g + 1]:
                out[p] = g
                continue
        lo, hi = 0, m  # first edge > v, in e[lo:hi]
        while lo < hi:
            mid = (lo + hi) >> 1
            if e[mid] <= v:
                lo = mid + 1
            else:
                hi = mid
        out[p] = lo - 1
    return out


@numba.njit(cache=True, nogil=True)
def cells(x, e, last_edge_inside):
    """Cell of each ``x`` between ascending edges ``e`` and whether it lies inside, in one pass:
    with ``pos = searchsorted(e, x, "right") - 1`` (:func:`cell_positions`), the cell is
    ``clip(pos, 0, e.size - 2)`` and inside is ``(0 <= pos < e.size - 1) & isfinite(x)``, or
    also ``x == e[-1]`` when ``last_edge_inside`` (the last edge belongs to the last cell)."""
    pos = cell_positions(x, e)
    m = e.size
    idx = np.empty(x.size, np.int64)
    ok = np.empty(x.size, np.bool_)
    last = e[m - 1]
    for p in range(x.size):
        q = pos[p]
        v = x[p]
        ok[p] = (q >= 0 and q < m - 1 and v - v == 0) or (last_edge_inside and v == last)
        idx[p] = 0 if q < 0 else (m - 2 if q > m - 2 else q)
    return idx, ok


@numba.njit(cache=True, nogil=True)
def wrap(x, e0):
    """``(x - e0) % 360.0 + e0`` (Python's and numpy's floored remainder)."""
    out = np.empty(x.size)
    for p in range(x.size):
        d = x[p] - e0
        if 0.0 < d < 360.0:  # already in range: the remainder is d itself
            out[p] = d + e0
        else:
            out[p] = d % 360.0 + e0
    return out


@numba.njit(cache=True, nogil=True)
def gather_into(block, o0, o1, o2, k, i, j, idx, out):
    """``out[idx] = block[k[idx] - o0, i[idx] - o1, j[idx] - o2]`` in one pass."""
    for q in range(idx.size):
        p = idx[q]
        out[p] = block[k[p] - o0, i[p] - o1, j[p] - o2]


@numba.njit(cache=True, nogil=True)
def group_by_chunk(k, i, j, tk, ti, tj, n1, n2, nkeys):
    """Observations grouped by chunk: the flat chunk key ``(tk[k] * n1 + ti[i]) * n2 + tj[j]``
    (``t*``: the chunk of every cell along an axis) and a counting sort of it, the same order as
    ``np.argsort(key, kind="stable")``. Returns that order and, per touched chunk in key order,
    its start and end in it and its key."""
    n = k.size
    key = np.empty(n, np.int64)
    counts = np.zeros(nkeys + 1, np.int64)
    for p in range(n):
        c = (tk[k[p]] * n1 + ti[i[p]]) * n2 + tj[j[p]]
        key[p] = c
        counts[c + 1] += 1
    ng = 0
    for c in range(nkeys):
        if counts[c + 1] > 0:
            ng += 1
        counts[c + 1] += counts[c]
    pos = counts[:nkeys].copy()
    order = np.empty(n, np.int64)
    for p in range(n):
        c = key[p]
        order[pos[c]] = p
        pos[c] += 1
    starts = np.empty(ng, np.int64)
    ends = np.empty(ng, np.int64)
    keys = np.empty(ng, np.int64)
    g = 0
    for c in range(nkeys):
        if counts[c + 1] > counts[c]:
            starts[g] = counts[c]
            ends[g] = counts[c + 1]
            keys[g] = c
            g += 1
    return order, starts, ends, keys
