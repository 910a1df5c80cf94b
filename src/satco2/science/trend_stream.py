"""Per-pixel trends file to file, streamed (like ``cdo trend``): :func:`trend_netcdf`.

Imports neither xarray nor dask nor numba (a process that only runs a streamed OLS pays for
numpy, netCDF4 and h5py only, ~0.2 s, instead of ~1 s with xarray, pandas and cf_xarray); the other
methods, and p-values, load :mod:`satco2.science.trends` on first use. Re-exported there.
"""
from __future__ import annotations

import math
import os

import numpy as np

from .. import SatCO2Error, io

_SLAB_BYTES = 24e6
_MAPPED_STEPS = 6  # fewest steps per float32 slab on the page-cache path (the 576 MB benchmark cube's)
OLS_TITLE = "ordinary least squares + t-test"
OLS_STATS = ("slope", "intercept", "p_value", "n", "mean", "stderr", "rvalue")
"""The statistics of the ``ols`` method (:data:`satco2.science.trends.METHODS`)."""

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

    ``stats``: the outputs to write, among the method's statistics (:data:`satco2.science.trends.METHODS`) plus
    ``slope_pct`` (% of the mean per year) and ``slope_per_step`` (per time step, as cdo writes
    ``b``); default all. All are float32, written to a temporary name renamed at the end.

    OLS without deseasonalization streams the file in its own order, whole time slabs of about
    ``block_bytes``, accumulating per-pixel sums with BLAS (48 bytes per pixel) - no numba, and
    the t-distribution only when ``p_value`` is asked for (``cdo trend`` computes neither). A
    float variable stored contiguous and uncompressed, without fill value other than NaN, scale
    or offset (as cdo and most models write), is read in place from the page cache
    (:func:`_ols_mapped_sums`); any other is read by netCDF4 (:func:`_ols_stream_sums`). Every
    other case reads blocks of rows and runs the method's kernel as :func:`trend` does.
    """
    import netCDF4

    if method == "ols" and not deseason:  # streamed: no need for the registry (nor xarray)
        title, mstats = OLS_TITLE, OLS_STATS
    else:
        from .trends import METHODS

        if method not in METHODS:
            raise SatCO2Error(f"unknown trend method {method!r}; choose one of {sorted(METHODS)}")
        m = METHODS[method]
        title, mstats = m.title, m.stats
    extra = ("slope_pct", "slope_per_step")
    names = list(mstats) + list(extra) if stats is None else list(stats)
    unknown = [n for n in names if n not in mstats and n not in extra]
    if unknown or not names:
        raise SatCO2Error(f"the statistics {unknown or names!r} are not outputs of the method {method!r}; "
                          f"choose among {list(mstats) + list(extra)}")
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
                dst.setncatts({"method": method, "method_title": title, "source_file": str(inp),
                               "variable": variable, "deseasonalized": int(bool(deseason)),
                               "alpha": float(alpha)})
                streamed = method == "ols" and not deseason
                if streamed:
                    t0 = float(t.mean())
                    # slabs under 24 MB: glibc's malloc can then reuse their memory from one slab
                    # to the next (above its 32 MB mmap threshold every slab is fresh pages from
                    # the kernel; forcing reuse cut the system time by 0.4-0.6 s on 576 MB)
                    tstep = max(1, int(min(block_bytes, _SLAB_BYTES) // (ny * nx * 4)))
                    with_r = bool({"p_value", "stderr", "rvalue"} & set(names))
                    mapped = None
                    if v.dtype.kind == "f" and fill is None and scale is None and offset is None:
                        mapped = _contiguous_offset(inp, v, (nt, ny, nx))
                    if mapped is not None:  # the bytes as stored: read through the page cache
                        # slabs of at least _MAPPED_STEPS: no memory is at stake here, and slabs
                        # of one step (large grids) would cost a numpy call per step and piece
                        mapped = _ols_mapped_sums(inp, *mapped, nt, ny * nx, t - t0,
                                                  max(tstep, min(nt, _MAPPED_STEPS)), need_syy=with_r)
                    if mapped is None:
                        mapped = _ols_stream_sums(read, nt, ny * nx, t - t0, tstep, need_syy=with_r)
                    acc, shift = mapped
                for j0 in range(0, ny, rows):
                    j1 = min(ny, j0 + rows)
                    res = None
                    if streamed and not with_r:  # slope, intercept, n, mean only: as columns
                        sl = slice(j0 * nx, j1 * nx)
                        col = _ols_stream_columns(acc[:, sl], shift[sl], t0, min_count)
                    elif streamed:
                        sl = slice(j0 * nx, j1 * nx)
                        raw = _ols_stream_finish(acc[:, sl], shift[sl], t0, min_count, with_r)
                        if "p_value" in names:
                            from .trends import _finish_ols

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
                    if res is not None:
                        col = dict(zip(mstats, res.T))
                    if "slope_pct" in names:
                        with np.errstate(divide="ignore", invalid="ignore"):
                            col["slope_pct"] = 100.0 * col["slope"] / np.abs(col["mean"])
                    if "slope_per_step" in names:
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
    import contextlib
    from concurrent.futures import ThreadPoolExecutor

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
    if nthreads > 1:
        from threadpoolctl import threadpool_limits

        blas = threadpool_limits(1)
    else:  # one thread of ours: BLAS keeps its own threads
        blas = contextlib.nullcontext()
    with ThreadPoolExecutor(nthreads) as ex, ThreadPoolExecutor(1) as reader, blas:
        nxt = reader.submit(load, 0)
        for k0 in range(0, nt, tstep):
            slab = nxt.result()
            if k0 + tstep < nt:
                nxt = reader.submit(load, k0 + tstep)
            dk = d[k0:k0 + tstep]
            D = np.stack([np.ones_like(dk), dk, dk * dk]).astype(np.float32)
            list(ex.map(lambda ab: part(slab, D, ab[0], ab[1]), zip(bounds[:-1], bounds[1:])))
    return acc, shift


def _contiguous_offset(path, var, shape) -> tuple[int, np.dtype] | None:
    """``(offset, dtype)`` of the netCDF4 variable ``var`` of file ``path`` when its values lie
    in the file as one contiguous block of ``shape`` (HDF5 contiguous layout: no chunks, hence
    no compression or other filter, no external file), else None (also without h5py, or for a
    netCDF3 file). The offset comes from HDF5 itself (``H5Dget_offset`` through h5py's
    low-level API); one row read both ways must agree before the block is trusted."""
    import mmap

    if not hasattr(mmap, "MAP_SHARED"):  # not a POSIX system
        return None
    try:
        import h5py

        with h5py.File(path, "r") as f:
            ds = f[var.name]
            dcpl = ds.id.get_create_plist()
            if (dcpl.get_layout() != h5py.h5d.CONTIGUOUS or dcpl.get_external_count()
                    or tuple(ds.shape) != tuple(shape) or ds.dtype != var.dtype):
                return None
            off = ds.id.get_offset()
    except Exception:  # not HDF5 (netCDF3), h5py missing or failing: read as netCDF4 does
        return None
    if off is None:  # never written: nothing allocated
        return None
    dtype = np.dtype(var.dtype)
    nt, ny, nx = shape
    with open(path, "rb") as fh:
        fh.seek(off + ((nt - 1) * ny * nx + (ny - 1) * nx) * dtype.itemsize)
        row = np.frombuffer(fh.read(nx * dtype.itemsize), dtype)
    if row.size != nx or not np.array_equal(row, np.asarray(var[nt - 1, ny - 1, :]), equal_nan=True):
        return None
    return int(off), dtype


def _ols_mapped_sums(path, offset: int, dtype, nt: int, npix: int, d: np.ndarray, tstep: int,
                     need_syy: bool = True, nthreads: int | None = None, piece: int = 16384,
                     band: int = 65536):
    """:func:`_ols_stream_sums` (same sums, same float32 slabs of ``tstep`` steps, same shift)
    for a variable stored as one contiguous block at ``offset`` of file ``path``, read where the
    page cache holds it (``mmap``: no copy into fresh memory), so that the data cross memory
    once. Pixels are taken ``piece`` at a time (a size that keeps a piece's slab and its sums in
    the CPU cache) through every time step: a slab of the piece is shifted into a small buffer,
    its sums taken with BLAS, and the NaN handling runs only for the pixels with a missing
    value there (for the whole slab in place when they are many). Once a ``band`` of pixels is
    done its pages are released from the mapping (``MADV_DONTNEED``; they stay in the page
    cache): the process holds about ``nthreads * band * nt`` values of the file at a time.
    Without ``need_syy`` the sums have 5 rows (no sum of y'^2). None if the file cannot be mapped.
    """
    import mmap
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    if nthreads is None:
        nthreads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    nthreads = max(1, min(int(nthreads), npix // 65536))
    bounds = np.linspace(0, npix, nthreads + 1).astype(int)
    item = np.dtype(dtype).itemsize
    acc = np.empty((6 if need_syy else 5, npix))
    shift = np.empty(npix, np.float32)
    Ds = []
    for k0 in range(0, nt, tstep):
        dk = d[k0:k0 + tstep]
        Ds.append(np.stack([np.ones_like(dk), dk, dk * dk]).astype(np.float32))
    # n, sum d, sum d^2 as if every value were valid; the missing ones are subtracted below
    Dsums = [D.sum(axis=1, dtype=np.float64) for D in Ds]
    total = np.sum(Dsums, axis=0)
    page = mmap.PAGESIZE
    lead = offset % mmap.ALLOCATIONGRANULARITY
    row = npix * item

    def release(m, a, b):  # the whole pages of pixels a:b at every step
        for k in range(nt):
            lo, hi = lead + k * row + a * item, lead + k * row + b * item
            lo = -(-lo // page) * page
            hi -= hi % page
            if hi > lo:
                m.madvise(mmap.MADV_DONTNEED, lo, hi - lo)

    def part(m, data, a, b):
        buf = np.empty((tstep, min(piece, b - a)), np.float32)
        R = np.empty((2, buf.shape[1]), np.float32)
        for b0 in range(a, b, band):
            b1 = min(b, b0 + band)
            for p0 in range(b0, b1, piece):
                p1 = min(b1, p0 + piece)
                sh, av = shift[p0:p1], acc[:, p0:p1]
                dn = np.isfinite(data[0, p0:p1])  # pixels whose shift is set: valid at the first step
                np.copyto(sh, np.float32(0))
                np.copyto(sh, data[0, p0:p1], where=dn, casting="unsafe")
                av[:3] = total[:, None]
                av[3:] = 0.0
                all_set = bool(dn.all())
                for j, D in enumerate(Ds):
                    k = j * tstep
                    s = np.subtract(data[k:k + D.shape[1], p0:p1], sh, out=buf[:D.shape[1], :p1 - p0])
                    r = np.matmul(D[:2], s, out=R[:, :p1 - p0])
                    q = np.einsum("ij,ij->j", s, s) if need_syy else None
                    # a column sum is finite iff the pixel has no missing value here (NaN and inf
                    # propagate); such pixels need nothing more once their shift is set
                    if all_set and math.isfinite(r[0].sum()):  # the whole piece (one call)
                        av[3:5] += r
                        if need_syy:
                            av[5] += q
                        continue
                    slow = ~np.isfinite(r[0])
                    slow |= ~dn
                    nslow = np.count_nonzero(slow)
                    if nslow > s.shape[1] // 8:  # many (land, clouds): the whole slab in place
                        ok = np.isfinite(s)
                        if not dn.any() and not ok.any():  # no value yet, none here (land)
                            av[:3] -= Dsums[j][:, None]
                            continue
                        if not dn.all():
                            first = _new_shifts(s, ok, dn)
                            if first is not None:
                                sh += first
                                s -= first
                                all_set = bool(dn.all())
                        nok = ~ok
                        np.copyto(s, np.float32(0), where=nok)
                        av[:3] -= D @ nok.astype(np.float32)
                        np.matmul(D[:2], s, out=r)
                        if need_syy:
                            q = np.einsum("ij,ij->j", s, s)
                    elif nslow:  # a few: those pixels only
                        idx = np.flatnonzero(slow)
                        sub = s[:, idx]
                        ok = np.isfinite(sub)
                        dsub = dn[idx]
                        first = _new_shifts(sub, ok, dsub)
                        if first is not None:
                            sh[idx] += first
                            dn[idx] = dsub
                            sub -= first
                            all_set = bool(dn.all())
                        nok = ~ok
                        np.copyto(sub, np.float32(0), where=nok)
                        av[:3, idx] -= D @ nok.astype(np.float32)
                        r[:, idx] = D[:2] @ sub
                        if need_syy:
                            q[idx] = np.einsum("ij,ij->j", sub, sub)
                    av[3:5] += r
                    if need_syy:
                        av[5] += q
            release(m, b0, b1)

    try:
        with open(path, "rb") as fh:
            m = mmap.mmap(fh.fileno(), nt * row + lead, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ,
                          offset=offset - lead)
    except (OSError, ValueError):  # a file system without mmap, a file shorter than its header says
        return None
    data = np.frombuffer(m, dtype, nt * npix, lead).reshape(nt, npix)
    try:
        with ThreadPoolExecutor(nthreads) as ex, threadpool_limits(1):
            list(ex.map(lambda ab: part(m, data, *ab), zip(bounds[:-1], bounds[1:])))
    finally:
        data = None  # no view may outlive the mapping
        m.close()
    return acc, shift


def _new_shifts(s: np.ndarray, ok: np.ndarray, done: np.ndarray):
    """For the columns of ``s`` (steps, pixels) valid (``ok``) for the first time (not ``done``):
    their first valid value, to become their shift (their sums are still zero); 0 elsewhere.
    Marks them in ``done`` (in place); None if there are none."""
    new = ok.any(axis=0)
    new &= ~done
    if not new.any():
        return None
    first = np.take_along_axis(s, ok.argmax(axis=0)[None], axis=0)[0]
    done |= new
    return np.where(new, first, np.float32(0))


def _ols_stream_columns(acc: np.ndarray, shift: np.ndarray, t0: float, min_count: int) -> dict:
    """Slope, intercept, n and mean (p_value, stderr, rvalue NaN) from the sums of
    :func:`_ols_stream_sums`, as contiguous columns: the values of :func:`_ols_stream_finish`
    with ``with_r=False``, in a third of its passes over memory (what ``cdo trend`` computes)."""
    n, sd, sdd, sy, sdy = acc[:5]
    with np.errstate(invalid="ignore", divide="ignore"):
        tm, ym = sd / n, sy / n
        sxx = sdd - n * tm * tm
        slope = (sdy - n * tm * ym) / sxx
        mean = ym + shift
        intercept = mean - slope * (tm + t0)
    bad = (n < max(min_count, 3)) | ~(sxx > 0.0)
    nn = n.copy()
    for a in (slope, intercept, nn):
        a[bad] = np.nan
    mean[n == 0] = np.nan
    nan = np.full(n.shape, np.nan)
    return {"slope": slope, "intercept": intercept, "n": nn, "mean": mean, "p_value": nan,
            "stderr": nan, "rvalue": nan}


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
