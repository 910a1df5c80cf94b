"""Numba kernels of :mod:`satco2.science.trends` (one series per row of a 2-D block).

Kept apart so that importing :mod:`satco2.science.trends` (and the streamed OLS of
:func:`satco2.science.trends.trend_netcdf`, which is numpy/BLAS) does not pay for numba's import and
cache loading; :class:`satco2.science.trends.Method` resolves its kernel here on first use.
The methods and their sources are documented in :mod:`satco2.science.trends`.
"""
from __future__ import annotations

import llvmlite.binding as llvm_binding
import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: compile the in-bracket compaction (and the pair pass of gapless series) with AVX-512's compress
#: instruction (vcompresspd) when the CPU has it; elsewhere LLVM would emulate the compress lane by
#: lane with branches, and the branch-free scalar loops are kept (a compile-time constant for numba; off when
#: NUMBA_CPU_NAME asks for another CPU than this one)
_COMPRESS = (numba.config.CPU_NAME in (None, "host")
             and "avx512f" in llvm_binding.get_host_cpu_features().flatten())


@intrinsic
def _compress8(typingctx, src, i, dst, c, lo, hi):
    """Store the values v of src[i:i+8] with lo <= v <= hi (in order) at dst[c:], return how many:
    LLVM's ``llvm.experimental.vector.compress`` (one vcompresspd into a register on AVX-512),
    then all 8 lanes stored at dst[c:c+8] (the lanes past the count are junk), so dst must have
    room for 8 values at c. ``dst`` may be ``src`` with c <= i (the 8 values are loaded before
    any is stored, and the store ends at or before i + 8)."""
    sig = types.int64(src, i, dst, c, lo, hi)

    def codegen(context, builder, signature, args):
        s_, i_, d_, c_, lo_, hi_ = args
        sa = context.make_array(signature.args[0])(context, builder, s_)
        da = context.make_array(signature.args[2])(context, builder, d_)
        dbl = ir.DoubleType()
        vty = ir.VectorType(dbl, 8)
        mty = ir.VectorType(ir.IntType(1), 8)
        v = builder.load(builder.bitcast(builder.gep(sa.data, [i_]), vty.as_pointer()), align=8)
        lov = ir.Constant(vty, ir.Undefined)
        hiv = ir.Constant(vty, ir.Undefined)
        for k in range(8):
            lov = builder.insert_element(lov, lo_, ir.Constant(ir.IntType(32), k))
            hiv = builder.insert_element(hiv, hi_, ir.Constant(ir.IntType(32), k))
        m = builder.and_(builder.fcmp_ordered(">=", v, lov), builder.fcmp_ordered("<=", v, hiv))
        # compress into a register, then one unaligned store of all 8 lanes: the compress-store
        # to memory (llvm.masked.compressstore, vcompresspd m512) is microcoded on AMD Zen 4,
        # where the whole kernel took ~4.8x as long with it (54 us per pixel of 144 steps,
        # against 11.4 us)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vty, [vty, mty, vty]), "llvm.experimental.vector.compress.v8f64")
        packed = builder.call(fn, [v, m, ir.Constant(vty, ir.Undefined)])
        builder.store(packed, builder.bitcast(builder.gep(da.data, [c_]), vty.as_pointer()), align=8)
        pop = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.IntType(8), [ir.IntType(8)]), "llvm.ctpop.i8")
        return builder.zext(builder.call(pop, [builder.bitcast(m, ir.IntType(8))]), ir.IntType(64))

    return sig, codegen


@intrinsic
def _row_pass8(typingctx, yv, base, yi, row, cnt, work, c, lo, hi):
    """One row of :func:`_theil_sen`'s pair pass for a gapless series, 8 pairs per step (AVX-512):
    for j < cnt, d = yv[base + j] - yi and the slope d * row[base + j]; returns (new length of
    ``work``, slopes below ``lo``, d > 0, d < 0) after appending the slopes inside [lo, hi] to
    work[c:] in order (compressed in a register, 8 lanes stored: work needs room for 8 values past
    the new length). The same float operations as the scalar loop (no FMA), so the same bits; the
    last partial step uses masked loads (nothing is read past cnt)."""
    if any(getattr(a, "layout", None) != "C" for a in (yv, row, work)):
        return None  # the pointer arithmetic below needs contiguous arrays
    sig = types.UniTuple(types.int64, 4)(yv, base, yi, row, cnt, work, c, lo, hi)

    def codegen(context, builder, signature, args):
        yv_, base_, yi_, row_, cnt_, work_, c_, lo_, hi_ = args
        ya = context.make_array(signature.args[0])(context, builder, yv_)
        ra = context.make_array(signature.args[3])(context, builder, row_)
        wa = context.make_array(signature.args[5])(context, builder, work_)
        i64, i32, i8, i1 = ir.IntType(64), ir.IntType(32), ir.IntType(8), ir.IntType(1)
        dbl = ir.DoubleType()
        vty, mty, qty = ir.VectorType(dbl, 8), ir.VectorType(i1, 8), ir.VectorType(i64, 8)

        def splat(x, ty):
            out = ir.Constant(ty, ir.Undefined)
            for k in range(8):
                out = builder.insert_element(out, x, ir.Constant(i32, k))
            return out

        mod = builder.module
        mload = cgutils.get_or_insert_function(
            mod, ir.FunctionType(vty, [vty.as_pointer(), i32, mty, vty]), "llvm.masked.load.v8f64.p0")
        compress = cgutils.get_or_insert_function(
            mod, ir.FunctionType(vty, [vty, mty, vty]), "llvm.experimental.vector.compress.v8f64")
        ctpop = cgutils.get_or_insert_function(mod, ir.FunctionType(i8, [i8]), "llvm.ctpop.i8")
        vyi, vlo, vhi = splat(yi_, vty), splat(lo_, vty), splat(hi_, vty)
        zero = ir.Constant(vty, 0.0)
        # the counts (c, below, d > 0, d < 0) as scalars (mask popcounts run on the integer
        # units, beside the vector work)
        accs = [cgutils.alloca_once_value(builder, x) for x in (c_, ir.Constant(i64, 0),
                                                                 ir.Constant(i64, 0), ir.Constant(i64, 0))]
        ptr_y = builder.gep(ya.data, [base_])
        ptr_r = builder.gep(ra.data, [base_])

        def count(mask):
            return builder.zext(builder.call(ctpop, [builder.bitcast(mask, i8)]), i64)

        def step(j, live):
            py = builder.bitcast(builder.gep(ptr_y, [j]), vty.as_pointer())
            pr = builder.bitcast(builder.gep(ptr_r, [j]), vty.as_pointer())
            if live is None:
                yj, rj = builder.load(py, align=8), builder.load(pr, align=8)
            else:  # the row's last partial step: nothing read past cnt
                yj = builder.call(mload, [py, ir.Constant(i32, 8), live, zero])
                rj = builder.call(mload, [pr, ir.Constant(i32, 8), live, zero])
            d = builder.fsub(yj, vyi)
            sl = builder.fmul(d, rj)
            below = builder.fcmp_ordered("<", sl, vlo)
            # inside = not below and <= hi (ordered compares: a NaN slope is neither)
            inside = builder.and_(builder.not_(below), builder.fcmp_ordered("<=", sl, vhi))
            masks = [inside, below, builder.fcmp_ordered(">", d, zero), builder.fcmp_ordered("<", d, zero)]
            if live is not None:
                masks = [builder.and_(mk, live) for mk in masks]
            packed = builder.call(compress, [sl, masks[0], ir.Constant(vty, ir.Undefined)])
            cc = builder.load(accs[0])
            builder.store(packed, builder.bitcast(builder.gep(wa.data, [cc]), vty.as_pointer()), align=8)
            for acc, mk in zip(accs, masks):
                builder.store(builder.add(builder.load(acc), count(mk)), acc)

        nfull = builder.and_(cnt_, ir.Constant(i64, -8))
        with cgutils.for_range_slice(builder, ir.Constant(i64, 0), nfull, ir.Constant(i64, 8)) as (j, _):
            step(j, None)
        with builder.if_then(builder.icmp_signed("<", nfull, cnt_)):
            lanes = ir.Constant(qty, list(range(8)))
            step(nfull, builder.icmp_signed("<", lanes, splat(builder.sub(cnt_, nfull), qty)))
        outs = [builder.load(acc) for acc in accs]
        return context.make_tuple(builder, signature.return_type, outs)

    return sig, codegen


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
def _filter(a, n, lo, hi):
    """Keep the values v of a[:n] with lo <= v <= hi, in order, at the start of a; return how
    many: :func:`_compress8` per 8 values on AVX-512, else a branch-free compaction (a store at
    every element and a cursor advanced by the comparison)."""
    c = 0
    done = 0
    if _COMPRESS:
        while done + 8 <= n:
            c += _compress8(a, done, a, c, lo, hi)
            done += 8
    for i in range(done, n):
        v = a[i]
        a[c] = v
        c += (v >= lo) & (v <= hi)
    return c


@numba.njit(cache=True, nogil=True)
def _filter_into(src, n, dst, c, lo, hi):
    """Append the values v of src[:n] with lo <= v <= hi to dst[c:] (in order); return the new
    length. With AVX-512, src must hold 8 readable values past n that never pass (NaN), and dst
    room for 8 values past the new length."""
    if _COMPRESS:
        for done in range(0, n, 8):
            c += _compress8(src, done, dst, c, lo, hi)
        return c
    for i in range(n):
        v = src[i]
        dst[c] = v
        c += (v >= lo) & (v <= hi)
    return c


@numba.njit(cache=True, nogil=True)
def _select2(a, n, k, both):
    """The k-th smallest value of a[:n] (0-based) and, if ``both``, the (k+1)-th; a[:n] is
    overwritten. Quickselect whose partition steps are branch-free filters: a vectorized count
    decides which side of the pivot holds the rank(s), and only that side is kept, compacted in
    place by :func:`_filter` (no data-dependent branch, so random data costs no branch
    misprediction; "v < piv" is "v <= the float below piv", exactly)."""
    while n > 16:
        x = a[0]
        y = a[n // 2]
        z = a[n - 1]
        if x < y:
            piv = y if y < z else (z if x < z else x)
        else:
            piv = x if x < z else (z if y < z else y)
        nl = 0
        ne = 0
        for i in range(n):
            v = a[i]
            nl += v < piv
            ne += v == piv
        kk = k + 1 if both else k
        if kk < nl:  # everything wanted is below the pivot
            n = _filter(a, n, -np.inf, np.nextafter(piv, -np.inf))
        elif k < nl:  # k = nl - 1 and k + 1 = the pivot: k-th is the largest below the pivot
            mx = -np.inf
            for i in range(n):
                v = a[i]
                mx = max(mx, v if v < piv else -np.inf)
            return mx, piv
        elif kk < nl + ne:
            return piv, piv
        elif k < nl + ne:  # k is the pivot (its last copy), k + 1 the smallest above it
            mn = np.inf
            for i in range(n):
                v = a[i]
                mn = min(mn, v if v > piv else np.inf)
            return piv, mn
        else:
            n = _filter(a, n, np.nextafter(piv, np.inf), np.inf)
            k -= nl + ne
    for i in range(1, n):
        x = a[i]
        j = i - 1
        while j >= 0 and a[j] > x:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = x
    return a[k], (a[k + 1] if both else a[k])


@numba.njit(cache=True, nogil=True)
def _draw_pairs(n, nsamp, pairs):
    """The sample of :func:`_theil_sen`: ``nsamp`` pseudo-random pairs i < j of positions 0..n-1
    (a fixed LCG, so results are deterministic; draws with i == j are skipped), i into
    pairs[:nsamp], j into pairs[nsamp:2 * nsamp]; returns how many."""
    state = np.uint64(88172645463325252)
    ns = 0
    for k in range(nsamp):
        state = state * np.uint64(6364136223846793005) + np.uint64(1442695040888963407)
        i = np.int64(((state >> np.uint64(33)) * np.uint64(n)) >> np.uint64(31))
        state = state * np.uint64(6364136223846793005) + np.uint64(1442695040888963407)
        j = np.int64(((state >> np.uint64(33)) * np.uint64(n)) >> np.uint64(31))
        if i == j:
            continue
        if i > j:
            i, j = j, i
        pairs[ns] = i
        pairs[nsamp + ns] = j
        ns += 1
    return ns


@numba.njit(cache=True, nogil=True)
def _theil_sen(yv, idx, n, inv, samp, work, rowbuf, pairs, nsamp=256):
    """Theil–Sen slope (exact median of the pairwise slopes) of yv[:n] and the Mann–Kendall pair
    counts.

    ``idx``: positions of the valid values in the full time axis; ``inv[a, b] = 1/(t_b - t_a)``
    (times strictly increasing, so every pair counts, as in scipy.stats.theilslopes). The median is
    found without sorting the n(n-1)/2 slopes: a pseudo-random subsample of pairs brackets it, one
    vectorized pass over all pairs computes the slopes row by row into ``rowbuf`` (>= n + 8
    values) and counts the slopes below the bracket, the slopes inside it are appended to ``work``
    (:func:`_filter_into`: one vcompresspd per 8 slopes on AVX-512, else branch-free), and a
    selection inside the bracket gives the exact order statistic(s); if the bracket misses
    (rare), every slope is kept and selected. ``pairs`` (int64, 2 * nsamp + 2 values, the last
    two -1 at first) keeps the sample's pairs of positions, which depend on n only, between calls
    (a scratch array per thread). The same pass counts the pairs j > i with y_j > y_i and with y_j < y_i (Mann–Kendall's S is their
    difference). Selections are :func:`_select2`.
    Returns (slope, number of pairs, pairs rising, pairs falling).
    """
    # 1. pseudo-random subsample of ``nsamp`` pair slopes (fixed LCG, so results are deterministic)
    #    -> bracket [lo, hi] around the median at sample quantiles 0.375 and 0.625 (~4 sigma: the
    #    sd of a sample quantile near the median is 0.5 / sqrt(256) = 0.031)
    m_all = n * (n - 1) // 2
    ns = 0
    lo = -np.inf
    hi = np.inf
    if m_all > 4 * nsamp:
        if pairs[2 * nsamp] != n:  # the pairs depend on n only: drawn once per n and thread
            pairs[2 * nsamp + 1] = _draw_pairs(n, nsamp, pairs)
            pairs[2 * nsamp] = n
        ns = pairs[2 * nsamp + 1]
        for k in range(ns):
            i = pairs[k]
            j = pairs[nsamp + k]
            samp[k] = (yv[j] - yv[i]) * inv[idx[i], idx[j]]
        klo = int(ns * 0.375)
        khi = int(ns * 0.625)
        for i in range(ns):
            work[i] = samp[i]
        lo = _select2(work, ns, klo, False)[0]
        hi = _select2(samp, ns, khi, False)[0]
    # 2. per i: the slopes to every later j (into rowbuf, which stays in the L1 cache), the count
    #    below the bracket and the signs of y_j - y_i (loops the compiler vectorizes; contiguous
    #    when the series has no gaps), then the slopes inside the bracket appended to work
    below = 0
    nin = 0
    pos = 0
    neg = 0
    gapless = idx[n - 1] == n - 1
    for i in range(n - 1):
        yi = yv[i]
        row = inv[idx[i]]
        cnt = n - 1 - i
        if _COMPRESS and gapless:
            nin, b, p, q = _row_pass8(yv, i + 1, yi, row, cnt, work, nin, lo, hi)
            below += b
            pos += p
            neg += q
            continue
        b = 0
        p = 0
        q = 0
        if gapless:
            for j in range(cnt):
                d = yv[i + 1 + j] - yi
                sl = d * row[i + 1 + j]
                rowbuf[j] = sl
                b += sl < lo
                p += d > 0.0
                q += d < 0.0
        else:
            for j in range(cnt):
                d = yv[i + 1 + j] - yi
                sl = d * row[idx[i + 1 + j]]
                rowbuf[j] = sl
                b += sl < lo
                p += d > 0.0
                q += d < 0.0
        for j in range(cnt, cnt + 8):
            rowbuf[j] = np.nan  # never inside the bracket: pads the row's last block of 8
        below += b
        pos += p
        neg += q
        nin = _filter_into(rowbuf, cnt, work, nin, lo, hi)
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
    u, v = _select2(work, nin, k_lo - below, k_lo != k_hi)
    return (u if k_lo == k_hi else 0.5 * (u + v)), m, pos, neg


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

    Hamed–Rao detrending (``hamed_rao``): by default the valid values y_k minus slope * t_k
    (slope per unit of ``t``, so the detrended series, its ranks and the variance factor do not
    depend on the unit or the step of ``t``). ``hr_index``: pymannkendall 1.4.3's recipe instead:
    the Theil–Sen slope per *position* on the full axis (pairs (y_j - y_i) / (j - i), j, i the
    time indices, gaps included), times the gap-closed index 1..n of the valid values; it ignores
    ``t`` altogether, so it equals pymannkendall whatever the unit and step, gaps included (with
    gaps the two indices disagree: pymannkendall's own inconsistency, kept on purpose).
    ``z_crit``: the normal quantile 1 - alpha/2 bounding the autocorrelations counted by Hamed–Rao.
    """
    npix, nt = Y.shape
    out = np.full((npix, 7), np.nan)
    inv = np.zeros((nt, nt))
    for a in range(nt):
        for b in range(a + 1, nt):
            if t[b] > t[a]:
                inv[a, b] = 1.0 / (t[b] - t[a])
    # 1 / (j - i): the position slopes of the ``hr_index`` variant (only allocated for it)
    npos = nt if (hamed_rao and hr_index) else 1
    invp = np.zeros((npos, npos))
    for a in range(npos):
        for b in range(a + 1, npos):
            invp[a, b] = 1.0 / (b - a)
    npairs_max = max(1, nt * (nt - 1) // 2)
    nblocks = max(1, min(npix, 64 * nthreads))
    for blk in numba.prange(nblocks):
        tv = np.empty(nt)
        yv = np.empty(nt)
        idx = np.empty(nt, dtype=np.int64)
        work = np.empty(npairs_max + 8)  # + 8: the last compressed store's full vector
        samp = np.empty(256)
        pairs = np.full(2 * 256 + 2, -1, dtype=np.int64)
        srt = np.empty(nt + 8)
        for p in range(blk * npix // nblocks, (blk + 1) * npix // nblocks):
            y = Y[p]
            if deseason:
                n = _valid_anomalies(y, month, deseason, tv, yv, t, 0.0)
                out[p, 5] = _mean_valid(y)
                k = 0
                for i in range(nt):
                    if not np.isnan(y[i]):
                        idx[k] = i
                        k += 1
            else:  # one pass: the valid (time, value, index) triples and the mean
                n = 0
                sm = 0.0
                for i in range(nt):
                    v = y[i]
                    if not np.isnan(v):
                        tv[n] = t[i]
                        yv[n] = v
                        idx[n] = i
                        sm += v
                        n += 1
                out[p, 5] = sm / n if n > 0 else np.nan
            if n < max(min_count, 3):
                continue
            slope, m, pos, neg = _theil_sen(yv, idx, n, inv, samp, work, srt, pairs)
            if m == 0:
                continue
            # Mann-Kendall S from the pair counts of the slope pass; the median of y (for the
            # intercept) by selection, or, when values tie, from a sort that also gives the ties
            tied_pairs = m - pos - neg
            for i in range(n):
                srt[i] = yv[i]
            h = n // 2
            tie = 0.0
            if tied_pairs == 0:
                a_, b_ = _select2(srt, n, h - 1 if n % 2 == 0 else h, n % 2 == 0)
                ymed = 0.5 * (a_ + b_)
            else:
                srt[:n].sort()
                ymed = srt[h] if n % 2 == 1 else 0.5 * (srt[h - 1] + srt[h])
                i = 0
                while i < n:
                    j = i
                    while j + 1 < n and srt[j + 1] == srt[i]:
                        j += 1
                    tp = j - i + 1.0
                    tie += tp * (tp - 1.0) * (2.0 * tp + 5.0)
                    i = j + 1
            # tv is ascending
            tmed = tv[h] if n % 2 == 1 else 0.5 * (tv[h - 1] + tv[h])
            intercept = ymed - slope * tmed
            s = float(pos - neg)
            var_s = (n * (n - 1.0) * (2.0 * n + 5.0) - tie) / 18.0
            factor = 1.0
            if hamed_rao:
                if hr_index:  # pymannkendall: slope per axis position, times the gap-closed index
                    slope_pos = _theil_sen(yv, idx, n, invp, samp, work, srt, pairs)[0]
                    factor = _hamed_rao_factor(yv, tv, n, slope_pos, True, z_crit)
                else:  # slope per unit of t, times t: independent of the unit and the step
                    factor = _hamed_rao_factor(yv, tv, n, slope, False, z_crit)
                var_s = var_s * factor
            out[p, 0] = slope
            out[p, 1] = intercept
            out[p, 2] = n
            out[p, 3] = s
            out[p, 4] = var_s
            out[p, 6] = factor
    return out


@numba.njit(cache=True, nogil=True)
def _hamed_rao_factor(yv, tv, n, slope, hr_index, z_crit):
    """Hamed & Rao (1998, J. Hydrol. 204:182-196) variance factor n/n* = 1 + 2/(n(n-1)(n-2)) sum over significant lags i of
    (n-i)(n-i-1)(n-i-2) rho_i, rho = autocorrelation of the ranks of the detrended series
    det_k = yv_k - slope * x_k, with x_k = k + 1 (``hr_index``; ``slope`` must then be per
    position) or x_k = tv_k (``slope`` per unit of tv); lags are counted over the valid values
    (gap-closed, as pymannkendall); a lag counts when |rho_i| > z_crit/sqrt(n) (as
    pymannkendall). Not clipped below 1 (pymannkendall 1.4.3 does not either). A constant detrended
    series gives 1 (pymannkendall's autocorrelations are then NaN and no lag counts)."""
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
    if c0 <= 0.0:  # constant detrended series: every autocorrelation is 0/0, NaN in
        return 1.0  # pymannkendall, where no lag then counts (n/n* = 1)
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
