"""Fast decoding of 2D NetCDF4/HDF5 variables: raw chunks inflated in parallel threads.

netCDF4-python (and h5py) decode an HDF5 variable chunk by chunk in ONE thread: zlib inflate,
byte unshuffle, then a separate masking/scaling pass over the whole array. For the 4 km L3m
files that is ~1.2 s per file, almost all of an ingest. :func:`read_2d` instead reads the
compressed chunks as stored (``h5py`` ``read_direct_chunk``, no decoding, ~10 ms per file),
and a thread pool inflates them, unshuffles, masks and scales each chunk straight into the
output array (the inflaters, numpy and the numba kernels release the GIL), so both cores work.

Inflating is most of the work. :func:`inflater` picks the fastest zlib-format inflater
installed: ``deflate`` (libdeflate bindings; ~2.8 CPU ms per compressed MB of the 4 km L3m
chunks), else ``isal`` (ISA-L, ~4.1), else the standard library's ``zlib`` (~8.0). All three
decode the same format to the same bytes and verify its Adler-32 checksum.

The result equals netCDF4-python's automatic masking and scaling followed by ``float32``:
values equal to ``_FillValue`` (else the netCDF default fill value of the type) or
``missing_value``, or outside ``valid_range`` / ``valid_min`` .. ``valid_max`` (compared on the
packed values) become NaN; then ``data * scale_factor + add_offset`` in the attributes' type,
following netCDF4-python's rules. Unallocated chunks read as fill, i.e. NaN.

Only the layout the fast path understands is decoded here: a chunked 2D numeric variable whose
filters are deflate and/or shuffle, with chunks of at least :data:`MIN_CHUNK` elements. Anything else (other filters, ``_Unsigned``, byte types
without ``_FillValue``, masking attributes that do not cast exactly to the variable's type, a chunk that fails to inflate, a truncated file) returns ``None``, and
the caller reads the variable with netCDF4-python as before, which also produces the usual
one-sentence errors for corrupt files.
"""
from __future__ import annotations

import concurrent.futures as cf
import os
import threading
import weakref
import zlib

import numpy as np

_H5Z_DEFLATE, _H5Z_SHUFFLE = 1, 2
_HANDLED = {"_FillValue", "missing_value", "valid_min", "valid_max", "valid_range",
            "scale_factor", "add_offset"}
_POOLS: dict[str, cf.ThreadPoolExecutor] = {}
_POOL_LOCK = threading.Lock()
# the output arrays _read_2d made, by id (recycle() takes no other array)
_OWNED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_SPARE: list[np.ndarray] = []  # recycled output arrays
MAX_SPARE = 2
#: decoded bytes per thread task (batches of small chunks keep the task overhead low)
BATCH_BYTES = 2 * 2**20
#: smallest chunk (elements) worth the fast path: below, the per-chunk numpy overhead loses to
#: netCDF4-python (a 9 km SeaWiFS file with 22 x 44 chunks: 1.1 s instead of 0.35 s)
MIN_CHUNK = 4096


#: inflaters in order of preference (see :func:`inflater`)
INFLATERS = ("deflate", "isal", "zlib")
_INFLATE_ERRORS: tuple[type[BaseException], ...] = (zlib.error,)


def inflater(name: str | None = None):
    """``(name, inflate)``: ``inflate(raw, nbytes)`` decompresses zlib-format ``raw`` into at most
    ``nbytes`` bytes, with the first of :data:`INFLATERS` that imports (or ``name``). A corrupt
    stream raises one of ``_INFLATE_ERRORS`` (the caller falls back to netCDF4-python)."""
    global _INFLATE_ERRORS
    for cand in ([name] if name else INFLATERS):
        if cand == "deflate":
            try:
                import deflate
            except ImportError:
                continue
            _INFLATE_ERRORS = tuple({*_INFLATE_ERRORS, deflate.DeflateError})
            return cand, deflate.zlib_decompress
        if cand == "isal":
            try:
                from isal import isal_zlib
            except ImportError:
                continue
            _INFLATE_ERRORS = tuple({*_INFLATE_ERRORS, isal_zlib.error})
            return cand, lambda raw, nbytes: isal_zlib.decompress(raw, bufsize=nbytes)
        if cand == "zlib":
            return cand, lambda raw, nbytes: zlib.decompress(raw, bufsize=nbytes)
    raise ValueError(f"no inflater {name!r} is installed (known: {', '.join(INFLATERS)}).")


_INFLATE = None


def _inflate():
    global _INFLATE
    if _INFLATE is None:
        _INFLATE = inflater()[1]
    return _INFLATE


def shared_pool(prefix: str) -> cf.ThreadPoolExecutor:
    """A process-wide pool of one thread per core named ``prefix`` (created on first use and
    kept: the decoding here and the ingest's chunk writes each have one)."""
    with _POOL_LOCK:
        if prefix not in _POOLS:
            _POOLS[prefix] = cf.ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1),
                                                   thread_name_prefix=prefix)
        return _POOLS[prefix]


def _pool() -> cf.ThreadPoolExecutor:
    return shared_pool("satco2-inflate")


def recycle(arr: np.ndarray) -> None:
    """Hand an array that :func:`read_2d` returned back for reuse, once the caller holds no
    reference to it or its views any more (the ingest does so after a file is committed): the
    next :func:`read_2d` of the same shape fills it instead of fresh memory, whose pages the
    kernel would zero first (about a tenth of an ingest's CPU time). Other arrays are ignored."""
    base = arr
    while isinstance(base.base, np.ndarray):
        base = base.base
    with _POOL_LOCK:
        if _OWNED.get(id(base)) is base and not any(a is base for a in _SPARE):
            _SPARE.append(base)
            del _SPARE[:-MAX_SPARE]  # the newest are kept


def _output(shape: tuple[int, int], fill: bool) -> np.ndarray:
    """The float32 output array of :func:`_read_2d`: a recycled one of that shape or a new one;
    NaN-filled if ``fill``."""
    with _POOL_LOCK:
        out = next((a for a in _SPARE if a.shape == shape), None)
        if out is not None:
            _SPARE.remove(out)
    if out is None:
        out = np.empty(shape, np.float32)
        with _POOL_LOCK:
            _OWNED[id(out)] = out
    if fill:
        out.fill(np.nan)
    return out


class _Unsupported(Exception):
    """The fast path does not apply; the caller falls back to netCDF4-python."""


def _attr(d, name, dtype=None):
    if name not in d.attrs:
        return None
    a = np.asarray(d.attrs[name])
    if a.dtype.kind not in "iuf":
        raise _Unsupported(name)
    if dtype is None:
        return a.ravel()
    # netCDF4-python's _check_safecast: an attribute that does not survive a cast to the type is
    # ignored there (with a warning); leave such files to netCDF4-python
    with np.errstate(all="ignore"):
        cast = a.astype(dtype)
        same = (a == cast) | (np.isnan(a.astype(np.float64)) & np.isnan(cast.astype(np.float64)))
    if not np.all(same):
        raise _Unsupported(name)
    return cast.ravel()


def _scalar(a):
    # netCDF4-python hands one-element attributes over as numpy scalars of the attribute's type
    return a[0] if a is not None and a.size == 1 else a


def _decoder(d):
    """(mask function, scale function) equal to netCDF4-python's auto mask-and-scale."""
    import netCDF4

    dt = d.dtype
    if dt.kind not in "iuf" or "_Unsigned" in d.attrs:
        raise _Unsupported("type")
    for k in d.attrs:
        if k in _HANDLED and np.asarray(d.attrs[k]).dtype.kind not in "iuf":
            raise _Unsupported(k)
    key = dt.str[1:]
    byte = key in ("u1", "i1")
    missing = _attr(d, "missing_value", dt)
    fill = _attr(d, "_FillValue", dt)
    if fill is None:
        if byte:
            raise _Unsupported("byte without _FillValue")
        fill = np.array([netCDF4.default_fillvals[key]], dt)
    elif fill.size != 1:
        raise _Unsupported("_FillValue")
    vrange = _attr(d, "valid_range", dt)
    if vrange is not None and vrange.size == 2:
        vmin, vmax = vrange[0], vrange[1]
    else:
        vmin, vmax = _scalar(_attr(d, "valid_min", dt)), _scalar(_attr(d, "valid_max", dt))
    tests = []
    if missing is not None:
        tests += [("nan", None) if dt.kind == "f" and np.isnan(m) else ("eq", m) for m in missing]
    tests.append(("nan", None) if dt.kind == "f" and np.isnan(fill[0]) else ("eq", fill[0]))
    if vmin is not None:
        tests.append(("lt", vmin))
    if vmax is not None:
        tests.append(("gt", vmax))

    def mask(a):
        m = None
        for op, v in tests:
            t = np.isnan(a) if op == "nan" else (a == v if op == "eq" else (a < v if op == "lt" else a > v))
            m = t if m is None else np.logical_or(m, t, out=m)
        return m

    sf, ao = _scalar(_attr(d, "scale_factor")), _scalar(_attr(d, "add_offset"))
    if (sf is not None and np.ndim(sf)) or (ao is not None and np.ndim(ao)):
        raise _Unsupported("array scale_factor/add_offset")
    if sf is not None and ao is not None:
        if ao != 0.0 or sf != 1.0:
            def scale(a):
                return a * sf + ao
        else:
            def scale(a):
                return a.astype(sf.dtype)
    elif sf is not None and sf != 1.0:
        def scale(a):
            return a * sf
    elif ao is not None and ao != 0.0:
        def scale(a):
            return a + ao
    else:
        scale = None
    # the compiled one-pass kernel: masking + cast to float32 (scaling stays with numpy, whose
    # type promotion it must follow exactly); a no-op "scale" of float data is a plain cast
    kspec = None
    if scale is None or (sf is not None and ao is not None and ao == 0.0 and sf == 1.0 and dt.kind == "f"):
        eqs = [v for op, v in tests if op == "eq"]
        lo = next((v for op, v in tests if op == "lt"), None)
        hi = next((v for op, v in tests if op == "gt"), None)
        if len(eqs) <= 2:
            e = [(True, dt.type(v)) for v in eqs] + [(False, dt.type(0))] * (2 - len(eqs))
            kspec = (*e[0], *e[1], any(op == "nan" for op, _ in tests), lo is not None,
                     dt.type(0 if lo is None else lo), hi is not None, dt.type(0 if hi is None else hi))
    return mask, scale, kspec


_KERNELS = None


def _kernels():
    """numba kernels (compiled on first use, cached on disk): byte unshuffle, and masking +
    float32 cast + row flip in one pass over each chunk. Both release the GIL."""
    global _KERNELS
    if _KERNELS is None:
        import numba

        @numba.njit(nogil=True, cache=True)
        def unshuffle(buf, k, out):  # little-endian hosts (the caller checks)
            n = buf.size // k
            if k == 4:  # assemble whole words: the loop vectorises
                o4 = out.view(np.uint32)
                for j in range(n):
                    o4[j] = (np.uint32(buf[j]) | (np.uint32(buf[n + j]) << 8)
                             | (np.uint32(buf[2 * n + j]) << 16) | (np.uint32(buf[3 * n + j]) << 24))
            elif k == 2:
                o2 = out.view(np.uint16)
                for j in range(n):
                    o2[j] = np.uint16(buf[j]) | (np.uint16(buf[n + j]) << 8)
            else:
                for i in range(k):
                    for j in range(n):
                        out[j * k + i] = buf[i * n + j]

        @numba.njit(nogil=True, cache=True)
        def decode(a, dst, r0, c0, ry, rx, flip, has_e0, e0, has_e1, e1, nan_test, has_lo, lo,
                   has_hi, hi):
            # a: the whole chunk, dst: the whole output, both C-contiguous, so that rows are
            # unit-stride for numba (a strided view of dst compiles to a scalar loop, ~10x slower)
            nan = np.float32(np.nan)
            for r in range(ry):
                sr = ry - 1 - r if flip else r
                src, out = a[sr], dst[r0 + r][c0:c0 + rx]
                for c in range(rx):  # branch-free body: the loop vectorises
                    v = src[c]
                    bad = ((has_lo & (v < lo)) | (has_hi & (v > hi)) | (nan_test & (v != v))
                           | (has_e0 & (v == e0)) | (has_e1 & (v == e1)))
                    out[c] = nan if bad else np.float32(v)

        _KERNELS = (unshuffle, decode)
    return _KERNELS


def _unshuffle(buf: bytes, dt: np.dtype) -> np.ndarray:
    """HDF5 shuffle filter, decoding side: byte planes -> elements."""
    k = dt.itemsize
    planes = np.frombuffer(buf, np.uint8).reshape(k, -1)
    if k == 1:
        return planes[0].view(dt)
    if dt.byteorder in ("=", "|") or (dt.byteorder == "<") == (np.little_endian):
        # little-endian native: assemble the integers from their byte planes (vectorised)
        u = np.dtype(f"u{k}")
        out = planes[k - 1].astype(u)
        for i in range(k - 2, -1, -1):
            out <<= u.type(8)
            out |= planes[i]
        if not np.little_endian:  # pragma: no cover - big-endian hosts
            out = out.byteswap()
        return out.view(dt.newbyteorder("="))
    return np.ascontiguousarray(planes.T).view(dt)


def _chunks(d) -> list[tuple[tuple[int, ...], int]]:
    """(offset, filter mask) of the allocated chunks (chunk_iter: one pass over the index;
    get_chunk_info(i) walks the index for every i)."""
    out = []
    if hasattr(d.id, "chunk_iter"):
        d.id.chunk_iter(lambda info: out.append((info.chunk_offset, info.filter_mask)))
        return out
    for i in range(d.id.get_num_chunks()):  # pragma: no cover - HDF5 < 1.12.3
        info = d.id.get_chunk_info(i)
        out.append((info.chunk_offset, info.filter_mask))
    return out


def read_2d(path, name: str, flip_rows: bool = False) -> np.ndarray | None:
    """Variable ``name`` of NetCDF4 file ``path`` decoded as float32 (NaN where masked).

    ``flip_rows`` reverses the first dimension (descending latitudes -> ascending). Returns
    ``None`` when the fast path does not apply (see the module docstring).
    """
    try:
        return _read_2d(path, name, flip_rows, _inflate())
    except (_Unsupported, OSError, KeyError, ValueError, TypeError, RuntimeError, *_INFLATE_ERRORS):
        return None


def _read_2d(path, name, flip_rows, inflate):
    import h5py

    with h5py.File(path, "r") as h:
        d = h[name]
        if not isinstance(d, h5py.Dataset) or d.ndim != 2 or d.chunks is None:
            raise _Unsupported("layout")
        pl = d.id.get_create_plist()
        filters = [pl.get_filter(i)[0] for i in range(pl.get_nfilters())]
        if not set(filters) <= {_H5Z_DEFLATE, _H5Z_SHUFFLE} or len(set(filters)) != len(filters):
            raise _Unsupported("filters")
        if filters and filters[-1] == _H5Z_SHUFFLE and _H5Z_DEFLATE in filters:
            raise _Unsupported("filter order")  # shuffle applied after deflate: not netCDF's order
        deflate, shuffle = _H5Z_DEFLATE in filters, _H5Z_SHUFFLE in filters
        if d.chunks[0] * d.chunks[1] < MIN_CHUNK:
            raise _Unsupported("tiny chunks")  # per-chunk overhead: netCDF4-python is faster
        mask, scale, kspec = _decoder(d)
        dt, (ny, nx), (cy, cx) = d.dtype, d.shape, d.chunks
        native = (dt.isnative or dt.itemsize == 1) and np.little_endian
        unshuffle_nb, decode_nb = _kernels() if (kspec is not None or shuffle) and native else (None, None)
        nbytes = cy * cx * dt.itemsize
        chunks = _chunks(d)
        complete = len(chunks) == -(-ny // cy) * -(-nx // cx)
        # unallocated chunks read as fill (NaN); a complete variable needs no NaN pre-fill pass
        out = _output((ny, nx), fill=not complete)

        def decode(batch):
            for (r0, c0), raw in batch:
                buf = inflate(raw, nbytes) if deflate else raw
                if len(buf) != nbytes:
                    raise _Unsupported("chunk size")
                if shuffle and unshuffle_nb is not None:
                    plain = np.empty(nbytes, np.uint8)
                    unshuffle_nb(np.frombuffer(buf, np.uint8), dt.itemsize, plain)
                    a = plain.view(dt)
                else:
                    a = _unshuffle(buf, dt) if shuffle else np.frombuffer(buf, dt)
                a = a.reshape(cy, cx)
                r1, c1 = min(r0 + cy, ny), min(c0 + cx, nx)
                if kspec is not None and decode_nb is not None:
                    decode_nb(a, out, ny - r1 if flip_rows else r0, c0, r1 - r0, c1 - c0, flip_rows, *kspec)
                    continue
                a = a[: r1 - r0, : c1 - c0]
                bad = mask(a)
                v = scale(a) if scale is not None else a
                if flip_rows:
                    dst, v = out[ny - r1: ny - r0, c0:c1], v[::-1]
                    bad = bad[::-1] if bad is not None else None
                else:
                    dst = out[r0:r1, c0:c1]
                np.copyto(dst, v, casting="unsafe")
                if bad is not None:
                    np.putmask(dst, bad, np.float32(np.nan))

        futures, batch, size = [], [], 0
        pool = _pool()
        try:
            for offset, filter_mask in chunks:
                if filter_mask:  # a filter was skipped for this chunk
                    raise _Unsupported("filter mask")
                _, raw = d.id.read_direct_chunk(offset)
                batch.append((offset, raw))
                size += nbytes
                if size >= BATCH_BYTES:
                    futures.append(pool.submit(decode, batch))
                    batch, size = [], 0
            if batch:
                futures.append(pool.submit(decode, batch))
        finally:
            done = [f.exception() for f in futures]  # wait for all before ``out`` is dropped
        err = next((e for e in done if e is not None), None)
        if err is not None:
            raise err
    return out
