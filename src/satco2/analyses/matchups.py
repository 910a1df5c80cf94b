"""Match-ups of in-situ observations with gridded products, at SOCAT scale (``satco2 matchup``).

Python::

    from satco2.analyses import matchups as mu
    res = mu.match_file("cruise.tsv", "global-sst-oisst-25km", source="mirror",
                        window_days=1, window_pixels=1, stat="median", out="cruise.matchups.csv")
    res.stats        # N, bias, RMSE, R² per region and per month (pandas DataFrame)
    res.counts       # observations read / matched / outside the grid or period / no valid pixel

Command line: ``satco2 matchup OBS_FILE PRODUCT [--source demo|mirror|upstream] [--variable V]
[--obs-variable Q] [--times T1,T2,...] [--window-days D] [--window-pixels K]
[--stat nearest|median|mean] [--out FILE]`` (see ``docs/matchups.md``).

How it scales (out of core, chunk-aware): the observation file is read in pieces of
``chunksize`` rows (long CSVs and SOCAT tab files are streamed, see
:func:`satco2.science.validation.iter_observations`); for each piece every observation gets the
integer position of its pixel (time period, lat and lon cell, by binary search on cell edges:
no per-point search of the grid), the observations are grouped by the product's Dask chunk, and
one task per touched chunk reads that chunk (plus a halo of its neighbours when the window needs
it) and extracts all its observations' windows at once
(:func:`satco2.science.validation.window_values`). The tasks run with whatever Dask scheduler is
active: the user's gateway cluster from :func:`satco2.compute.get_client`, else threads. The
pieces of one file share a :class:`ChunkCache` (decoded chunks, least recently used out, a
quarter of the worker's memory limit by default, :func:`memory_limit`), so a chunk is read once
per file while it fits, and as many pieces as workers are matched at once (:func:`match_pieces`:
the point-wise work runs in threads beside the chunk reads). On the local threaded or
synchronous scheduler there is no task graph: each touched chunk is read through the cache and
its observations' values are gathered in place by index (numba kernels, one pass), the threads
reading different chunks at once.
Statistics are accumulated as streaming sums per (region, month)
(:func:`satco2.science.validation.moments`), so they never need the whole table in memory.

Semantics:

- time: each time step covers a period: the CF ``bounds`` of the time coordinate when present;
  else, for labels at midnight on a regular step (calendar months starting on day 1, days, 8-day
  composites...), the period that starts at the label; else the half-way points between labels.
  An observation belongs to the step whose period contains it; ``window_days`` D adds the steps
  whose period centres lie within D days of it. ``dt_days`` = observation time minus the period
  centre of the pixel used.
- space: an observation belongs to the cell (between the midpoints of neighbouring lat/lon
  values) that contains it; longitudes are wrapped to the grid's convention (0-360 or -180-180).
  ``window_pixels`` K takes the (2K+1)² cells around it (clipped at the grid's edges).
  ``dist_km`` = great-circle distance from the observation to the centre of the pixel used.
- ``stat``: ``nearest`` (the valid pixel nearest in grid units, the centre one when it is valid),
  ``median`` or ``mean`` of the valid pixels of the window; ``n_valid`` / ``n_window`` count
  them. With K = 0 and D = 0, ``nearest`` is the usual nearest-pixel match-up.
- ``flag`` of each observation: ``ok``, ``outside_grid`` (position outside the product's
  lat/lon coverage), ``outside_period`` (time outside its periods), ``no_valid_pixel`` (only
  NaN in the window: clouds, land), ``obs_missing`` (the compared observation is empty),
  ``obs_quality`` (SOCAT: fCO2rec WOCE flag not 2 or dataset flag E). Only ``ok`` rows enter the
  statistics; every flag is counted. If no observation lies in the product's coverage the run
  stops with one sentence saying so.
"""
from __future__ import annotations

import os
import sys
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import SatCO2Error, catalog, config, io
from ..cf import coord_name
from ..catalog.footprints import FOOTPRINTS
from ..science import regions as R
from ..science import validation as V

FLAGS = ("ok", "outside_grid", "outside_period", "no_valid_pixel", "obs_missing", "obs_quality")
"""Values of the ``flag`` column, in the order they are decided."""

QUANTITY_OF_VARIABLE: dict[str, str] = {
    "sst": "sst", "analysed_sst": "sst", "sea_surface_temperature": "sst", "sss": "sss",
    "sos": "sss", "chlor_a": "chl", "chl": "chl", "CHL": "chl", "pco2sw": "pco2sw",
    "spco2": "pco2sw", "pco2": "pco2sw", "fco2sw": "fco2sw", "fco2": "fco2sw", "pco2air": "pco2air",
}
"""Product variable name -> the observation quantity it is compared with (plain data)."""

STANDARD_NAME_QUANTITY = V.STANDARD_NAMES
"""CF standard name of a product variable -> observation quantity."""

DEFAULT_CHUNKSIZE = 2_000_000


# ----------------------------------------------------------------------------------------------
# grid geometry


def _edges(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, float)
    if c.size == 1:
        return np.array([-np.inf, np.inf])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def time_edges(da: xr.DataArray, tname: str) -> np.ndarray:
    """Period edges of the time steps (n + 1 values, datetime64[ns]); see the module docstring."""
    t = pd.DatetimeIndex(da[tname].values)
    bname = da[tname].attrs.get("bounds")
    if bname and bname in getattr(da, "coords", {}):
        b = np.asarray(da.coords[bname].values, "datetime64[ns]")
        return np.concatenate([b[:, 0], b[-1:, 1]])
    midnight = bool((t == t.normalize()).all())
    if t.size >= 2 and midnight:
        if (t.day == 1).all():
            months = np.diff(t.year * 12 + t.month)
            if months.size and (months == months[0]).all() and months[0] > 0:
                last = t[-1] + pd.DateOffset(months=int(months[0]))
                return np.asarray(t.append(pd.DatetimeIndex([last])), "datetime64[ns]")
        step = np.diff(t.values)
        if (step == step[0]).all():
            return np.asarray(t.append(pd.DatetimeIndex([t[-1] + step[0]])), "datetime64[ns]")
    if t.size == 1:
        if midnight and t[0].day == 1:
            return np.asarray(t.append(pd.DatetimeIndex([t[0] + pd.DateOffset(months=1)])), "datetime64[ns]")
        half = np.timedelta64(12, "h")
        return np.array([t.values[0] - half, t.values[0] + half], "datetime64[ns]")
    v = t.values.astype("datetime64[ns]").astype(np.int64).astype(float)
    return _edges(v).astype(np.int64).astype("datetime64[ns]")


@dataclass
class Grid:
    """Where each observation falls on a product's (time, lat, lon) grid."""

    lat: np.ndarray
    lon: np.ndarray
    lat_edges: np.ndarray
    lon_edges: np.ndarray
    t_edges: np.ndarray  # int64 ns
    t_mid: np.ndarray  # int64 ns

    @classmethod
    def of(cls, da: xr.DataArray) -> "Grid":
        la, lo, tn = coord_name(da, "latitude"), coord_name(da, "longitude"), coord_name(da, "time")
        lat, lon = np.asarray(da[la].values, float), np.asarray(da[lo].values, float)
        te = time_edges(da, tn).astype(np.int64)
        return cls(lat, lon, _edges(lat), _edges(lon), te, (te[:-1] + (te[1:] - te[:-1]) // 2))

    def wrap_lon(self, lon: np.ndarray) -> np.ndarray:
        e0 = self.lon_edges[0]
        if not np.isfinite(e0):
            return lon
        from . import _matchup_kernels as K  # numba: imported on first use (not by the CLI)

        return K.wrap(np.ascontiguousarray(lon, float), float(e0))  # (lon - e0) % 360 + e0

    def locate(self, time, lat, lon, window_days: float = 0.0):
        """Indices ``k, i, j``, in-coverage masks and the per-observation time window
        ``k_lo, k_hi`` (offsets from k) of observations."""
        from . import _matchup_kernels as K

        t = np.asarray(time).astype("datetime64[ns]").view(np.int64)
        lon_w = self.wrap_lon(lon)
        out = {"lon_w": lon_w, "t_ns": t}
        # cells: searchsorted(e, x, "right") - 1, clipped; inside its edges (the last edge of
        # lat/lon belongs to the last cell, a period's end to the next period; NaT is before all)
        out["i"], inside = K.cells(np.ascontiguousarray(lat, float), self.lat_edges, True)
        out["j"], ok = K.cells(np.ascontiguousarray(lon_w), self.lon_edges, True)
        inside &= ok
        k, in_time = K.cells(np.ascontiguousarray(t), self.t_edges, False)
        out.update(k=k, in_space=inside, in_time=in_time)
        if window_days > 0:
            d = int(window_days * 86400e9)
            lo = np.searchsorted(self.t_mid, t - d, side="left")
            hi = np.searchsorted(self.t_mid, t + d, side="right") - 1
            out["k_lo"] = np.minimum(lo - k, 0)
            out["k_hi"] = np.maximum(hi - k, 0)
        else:  # calloc'd zeros: no pass over memory
            out["k_lo"] = np.zeros(k.shape, k.dtype)
            out["k_hi"] = np.zeros(k.shape, k.dtype)
        return out


# ----------------------------------------------------------------------------------------------
# chunk-grouped extraction


def memory_limit() -> int:
    """The memory the code running here may use, bytes: inside a Dask distributed worker (a
    gateway cluster's) that worker's ``memory_limit``; else the smallest of the physical memory,
    the process's cgroup limit (``memory.max``, v1 ``memory.limit_in_bytes``), its address-space
    rlimit and JupyterHub's ``MEM_LIMIT`` of the user's server (any that is set)."""
    try:  # a worker has imported distributed; elsewhere there is nothing to import it for
        get_worker = sys.modules["distributed"].get_worker
        w = get_worker()
        lim = getattr(getattr(w, "memory_manager", None), "memory_limit", None) or getattr(w, "memory_limit", None)
        if lim:
            return int(lim)
    except (KeyError, ValueError, AttributeError):
        pass
    limits = []
    try:
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        pass
    for f in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            v = Path(f).read_text().strip()
        except OSError:
            continue
        if v.isdigit() and int(v) < 2**60:
            limits.append(int(v))
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY and soft > 0:
            limits.append(int(soft))
    except (ImportError, ValueError, OSError):
        pass
    env = (config.env("MEM_LIMIT") or "").strip()
    if env.isdigit() and int(env) > 0:
        limits.append(int(env))
    return int(min(limits)) if limits else 4 * 2**30


def default_cache_bytes() -> int:
    """A quarter of :func:`memory_limit` (the worker's, not the machine's): the default budget of
    a :class:`ChunkCache`."""
    return memory_limit() // 4


class ChunkCache:
    """Decoded chunks of a product, kept between the pieces of one observation file (least
    recently used first out, at most ``max_bytes``), so that a chunk that the pieces share is read
    and decompressed once, not once per piece. It lives in the process that runs the chunk tasks
    (the calling process with the threaded scheduler; each worker of a distributed cluster keeps
    its own, found by the cache's id when the tasks arrive); ``clear()`` empties this process's.
    Without ``max_bytes`` the budget is :func:`default_cache_bytes` of the process that holds
    the blocks (on a cluster: a quarter of each worker's memory limit)."""

    _stores: dict = {}
    _lock = threading.Lock()

    def __init__(self, max_bytes: int | None = None, _id: str | None = None):
        self._max_bytes = None if max_bytes is None else int(max_bytes)
        self.id = _id or uuid.uuid4().hex

    def __reduce__(self):  # to a worker: the id and budget (unset: the worker's own), not the blocks
        return (ChunkCache, (self._max_bytes, self.id))

    @property
    def max_bytes(self) -> int:
        """The budget in this process."""
        return self._store()["max_bytes"]

    def _store(self):
        with ChunkCache._lock:
            s = ChunkCache._stores.get(self.id)
            if s is None:
                s = ChunkCache._stores[self.id] = {
                    "blocks": OrderedDict(), "bytes": 0, "lock": threading.Lock(), "reads": 0,
                    "loading": {},
                    "max_bytes": default_cache_bytes() if self._max_bytes is None else self._max_bytes}
            return s

    def get(self, key, load, wait: bool = True):
        """The block ``key``, from the cache or ``load()`` (once: a concurrent request for the
        same block waits for the first one's read, or with ``wait=False`` returns None at once)."""
        s = self._store()
        with s["lock"]:
            if key in s["blocks"]:
                s["blocks"].move_to_end(key)
                return s["blocks"][key]
            loading = s["loading"].setdefault(key, threading.Lock())
        if not loading.acquire(blocking=wait):
            return None
        try:
            with s["lock"]:
                if key in s["blocks"]:
                    return s["blocks"][key]
            block = np.asarray(load())
            with s["lock"]:
                s["reads"] += 1
                s["loading"].pop(key, None)
                if block.nbytes <= s["max_bytes"]:
                    s["blocks"][key] = block
                    s["bytes"] += block.nbytes
                    while s["bytes"] > s["max_bytes"]:
                        _, old = s["blocks"].popitem(last=False)
                        s["bytes"] -= old.nbytes
        finally:
            loading.release()
        return block

    @property
    def reads(self) -> int:
        """How many chunks were read (decoded) in this process, cache misses."""
        return self._store()["reads"]

    def clear(self) -> None:
        with ChunkCache._lock:
            ChunkCache._stores.pop(self.id, None)


class _Block:
    """A chunk's Delayed, wrapped so that dask does not load it before the task asks the cache."""

    __slots__ = ("delayed",)

    def __init__(self, delayed):
        self.delayed = delayed


def _load_block(cache: ChunkCache, key, block: _Block) -> np.ndarray:
    return cache.get(key, lambda: block.delayed.compute(scheduler="sync"))


def _chunk_bounds(chunks) -> list[np.ndarray]:
    return [np.concatenate([[0], np.cumsum(c)]) for c in chunks]


def _chunk_of(bounds: np.ndarray, chunks, x: np.ndarray) -> np.ndarray:
    if len(chunks) == 1:
        return np.zeros(len(x), np.int64)
    if all(c == chunks[0] for c in chunks[:-1]):
        return x // chunks[0]
    return np.searchsorted(bounds, x, side="right") - 1


def _assemble(pieces):
    return np.block(pieces) if isinstance(pieces, list) else np.asarray(pieces)


def _extract(pieces, origin, k, i, j, k_lo, k_hi, half_t, half_px, stat, geo=None):
    block = _assemble(pieces)
    if half_t == 0 and half_px == 0:  # the value alone (the rest follows from it)
        out = {"value": block[k - origin[0], i - origin[1], j - origin[2]]}
    else:
        out = V.window_values(block, k - origin[0], i - origin[1], j - origin[2], k_lo, k_hi,
                              half_t, half_px, stat)
    if geo is not None:  # distances of the pixel used, in the task (in parallel)
        _distances(out, k, i, j, *geo)
    return out


_BATCH = 65_536


def _distances(out, k, i, j, olat, olon, ot, glat, glon, gtmid):
    """``dist_km`` and ``dt_days`` of the pixel used, in batches that stay in the CPU cache (the
    same element-wise operations, so the same values, without a fresh 8-byte-per-point array for
    every step of the formula)."""
    n = len(k)
    olat, olon, ot = np.asarray(olat, float), np.asarray(olon, float), np.asarray(ot)
    moved = "dk" in out and bool(out["dk"].any() or out["di"].any() or out["dj"].any())
    dist, dt = np.empty(n), np.empty(n)
    for s in range(0, n, _BATCH):
        sl = slice(s, s + _BATCH)
        kk, ii, jj = ((k[sl] + out["dk"][sl], i[sl] + out["di"][sl], j[sl] + out["dj"][sl]) if moved
                      else (k[sl], i[sl], j[sl]))
        dist[sl] = V.haversine_km(olat[sl], olon[sl], glat[ii], glon[jj])
        dt[sl] = (ot[sl] - gtmid[kk]) / 86400e9
    out["dist_km"], out["dt_days"] = dist, dt


def _local_threads(scheduler) -> int:
    """Threads of the local scheduler that ``scheduler`` (None: the active one) resolves to: 1
    for ``sync``, dask's ``num_workers`` (else the CPUs) for ``threads``; 0 for any other (a
    distributed cluster, processes)."""
    import dask
    import dask.local
    import dask.threaded

    f = dask.base.get_scheduler(scheduler=scheduler)
    if f is dask.local.get_sync:
        return 1
    if f is None or f is dask.threaded.get:
        n = dask.config.get("num_workers", None)
        return max(1, int(n)) if n else max(1, os.cpu_count() or 1)
    return 0


def _sync(delayed):
    return lambda: delayed.compute(scheduler="sync")


def _range_of(bounds, c: int, halo: int) -> range:
    """Chunks along one axis that chunk ``c`` with ``halo`` cells on each side touches."""
    lo = np.searchsorted(bounds, max(bounds[c] - halo, 0), side="right") - 1
    hi = np.searchsorted(bounds, min(bounds[c + 1] + halo, bounds[-1]) - 1, side="right") - 1
    return range(int(lo), int(hi) + 1)


def _direct(files, idx):
    """A loader of chunk ``idx`` from its file (:class:`satco2.analyses.zarr_direct.ChunkFiles`),
    decoded in the calling thread (numcodecs holds no GIL), C-contiguous as dask's block."""
    def load():
        return np.ascontiguousarray(files.read(idx, np.empty(files.chunks, files.dtype)))
    return load


def _extract_local(data, blocks, bounds, halo, order, starts, ends, cells, k, i, j, k_lo, k_hi,
                   stat, cache, threads, files=None):
    """:func:`extract` on the local machine: each touched chunk (with its halo) is read through
    ``cache`` (a temporary one without) and its observations' values are gathered straight into
    the output by index (no task graph, no copies into chunk order; one numba pass without
    windows). ``threads`` threads take the chunks in turn; a chunk another thread (or another
    piece's) is reading is put off to the end instead of waited for, so that the threads decode
    different chunks at once. With ``files`` (the variable is a whole Zarr variable as
    ``xr.open_zarr`` opened it, :func:`satco2.analyses.zarr_direct.source`) each chunk file is
    decoded straight in the thread, without dask, xarray and zarr-python's event loop, whose
    per-chunk Python work held the GIL and kept two threads from decoding at once."""
    from concurrent.futures import ThreadPoolExecutor

    from . import _matchup_kernels as K

    n = len(k)
    half_t, half_px = halo[0], halo[1]
    plain = half_t == 0 and half_px == 0
    out = {"value": np.full(n, np.nan), "n_valid": np.zeros(n, np.int32),
           "n_window": np.zeros(n, np.int32), "dk": np.zeros(n, np.int32),
           "di": np.zeros(n, np.int32), "dj": np.zeros(n, np.int32)}
    own = cache is None
    cache = ChunkCache() if own else cache
    cks, cis, cjs = cells
    lock = threading.Lock()
    todo = iter(range(len(starts)))

    def one(g: int, wait: bool) -> bool:
        c = (int(cks[g]), int(cis[g]), int(cjs[g]))
        rng = [_range_of(bounds[ax], c[ax], halo[ax]) for ax in range(3)]
        got = {}
        for a in rng[0]:
            for b in rng[1]:
                for d in rng[2]:  # read in this thread (the chunk's own small graph, synchronously)
                    load = _direct(files, (a, b, d)) if files is not None else _sync(blocks[a, b, d])
                    blk = cache.get((data.name, a, b, d), load, wait=wait)
                    if blk is None:
                        return False
                    got[a, b, d] = blk
        origin = (int(bounds[0][rng[0][0]]), int(bounds[1][rng[1][0]]), int(bounds[2][rng[2][0]]))
        idx = order[starts[g]:ends[g]]
        if plain:
            K.gather_into(got[c], origin[0], origin[1], origin[2], k, i, j, idx, out["value"])
            return True
        block = _assemble([[[got[a, b, d] for d in rng[2]] for b in rng[1]] for a in rng[0]])
        r = V.window_values(block, k[idx] - origin[0], i[idx] - origin[1], j[idx] - origin[2],
                            k_lo[idx] if half_t else None, k_hi[idx] if half_t else None,
                            half_t, half_px, stat)
        for name in out:
            out[name][idx] = r[name]
        return True

    def work() -> None:
        later = []
        while True:
            with lock:
                g = next(todo, None)
            if g is None:
                break
            if not one(g, wait=False):
                later.append(g)
        for g in later:
            one(g, wait=True)

    try:
        if threads <= 1:
            work()
        else:
            with ThreadPoolExecutor(threads, thread_name_prefix="satco2-chunks") as ex:
                for f in [ex.submit(work) for _ in range(threads)]:
                    f.result()
    finally:
        if own:
            cache.clear()
    if plain:
        out["n_valid"] = np.isfinite(out["value"]).astype(np.int32)
        out["n_window"][:] = 1
    return out


def extract(da: xr.DataArray, k, i, j, k_lo, k_hi, half_t: int, half_px: int, stat: str,
            geo=None, cache: ChunkCache | None = None, scheduler=None):
    """Window values of observations at pixel positions ``k, i, j`` of ``da`` (dims time, lat,
    lon), one task per touched Dask chunk (with its halo of neighbouring chunks). Returns the
    dict of :func:`satco2.science.validation.window_values`, in the observations' order; with
    ``geo = (obs lat, obs lon, obs time ns, grid lat, grid lon, grid period centres ns)`` also
    ``dist_km`` and ``dt_days`` of the pixel used. With a :class:`ChunkCache` the chunks are
    read through it (once for all the pieces that share it)."""
    import dask

    n = len(k)
    data = da.data
    if n == 0 or not hasattr(data, "dask"):  # in memory: one block
        out = V.window_values(np.asarray(data) if n else np.zeros((1, 1, 1)), k, i, j, k_lo, k_hi,
                              half_t, half_px, stat)
        if geo is not None:
            _distances(out, k, i, j, *geo)
        return out
    from . import _matchup_kernels as K

    bounds = _chunk_bounds(data.chunks)
    nch = [b.size - 1 for b in bounds]
    nkeys = nch[0] * nch[1] * nch[2]
    if nkeys <= 4 * n + 2**20:  # one counting sort by flat chunk key (numba, two passes)
        tabs = [np.repeat(np.arange(len(c), dtype=np.int64), c) for c in data.chunks]
        order, starts, ends, gkey = K.group_by_chunk(
            np.asarray(k, np.int64), np.asarray(i, np.int64), np.asarray(j, np.int64), *tabs,
            nch[1], nch[2], nkeys)
    else:  # more chunks than observations: a stable argsort of the keys
        ck, ci, cj = (_chunk_of(b, c, x) for b, c, x in zip(bounds, data.chunks, (k, i, j)))
        key = (ck * nch[1] + ci) * nch[2] + cj
        order = np.argsort(key, kind="stable")
        skey = key[order]
        starts = np.flatnonzero(np.r_[True, skey[1:] != skey[:-1]])
        ends = np.r_[starts[1:], n]
        gkey = skey[starts]
    cks, cis, cjs = gkey // (nch[1] * nch[2]), (gkey // nch[2]) % nch[1], gkey % nch[2]
    blocks = data.to_delayed()
    halo = (half_t, half_px, half_px)
    threads = _local_threads(scheduler)
    if threads:  # threads or sync: no task graph, the chunks' observations in place
        from . import zarr_direct

        out = _extract_local(data, blocks, bounds, halo, order, starts, ends, (cks, cis, cjs),
                             k, i, j, k_lo, k_hi, stat, cache, min(threads, len(starts)),
                             files=zarr_direct.source(da))
        if geo is not None:
            _distances(out, k, i, j, *geo)
        return out
    loads: dict = {}

    def block(a, b, d):
        if cache is None:
            return blocks[a, b, d]
        if (a, b, d) not in loads:
            loads[a, b, d] = dask.delayed(_load_block, pure=True)(
                cache, (data.name, a, b, d), _Block(blocks[a, b, d]),
                dask_key_name=f"matchup-chunk-{cache.id}-{data.name}-{a}-{b}-{d}")
        return loads[a, b, d]

    # one gather into chunk order; each task then gets contiguous slices (views)
    ks, is_, js = k[order], i[order], j[order]
    los, his = (k_lo[order], k_hi[order]) if half_t else (None, None)
    gs = None if geo is None else [np.asarray(a)[order] for a in geo[:3]]
    tasks = []
    for n_g, (s, e) in enumerate(zip(starts, ends)):
        c = (int(cks[n_g]), int(cis[n_g]), int(cjs[n_g]))
        rng = []
        for ax in range(3):
            lo = np.searchsorted(bounds[ax], max(bounds[ax][c[ax]] - halo[ax], 0), side="right") - 1
            hi = np.searchsorted(bounds[ax], min(bounds[ax][c[ax] + 1] + halo[ax], bounds[ax][-1]) - 1,
                                 side="right") - 1
            rng.append(range(lo, hi + 1))
        if all(len(r) == 1 for r in rng):
            pieces = block(*c)
        else:
            pieces = [[[block(a, b, d) for d in rng[2]] for b in rng[1]] for a in rng[0]]
        origin = (int(bounds[0][rng[0][0]]), int(bounds[1][rng[1][0]]), int(bounds[2][rng[2][0]]))
        g = None if gs is None else (gs[0][s:e], gs[1][s:e], gs[2][s:e], *geo[3:])
        tasks.append(dask.delayed(_extract, pure=False)(
            pieces, origin, ks[s:e], is_[s:e], js[s:e], None if los is None else los[s:e],
            None if his is None else his[s:e], half_t, half_px, stat, g))
    results = dask.compute(*tasks, scheduler=scheduler)
    out = {"value": np.full(n, np.nan), "n_valid": np.zeros(n, np.int32),
           "n_window": np.zeros(n, np.int32), "dk": np.zeros(n, np.int32),
           "di": np.zeros(n, np.int32), "dj": np.zeros(n, np.int32)}
    if geo is not None:
        out["dist_km"] = np.empty(n)
        out["dt_days"] = np.empty(n)
    if half_t == 0 and half_px == 0:
        for name in ("value", "dist_km", "dt_days") if geo is not None else ("value",):
            out[name][order] = np.concatenate([r[name] for r in results])
        out["n_valid"] = np.isfinite(out["value"]).astype(np.int32)
        out["n_window"][:] = 1
        return out
    for (s, e), r in zip(zip(starts, ends), results):
        idx = order[s:e]
        for name in out:
            out[name][idx] = r[name]
    return out


# ----------------------------------------------------------------------------------------------
# one table of observations


def match(obs: pd.DataFrame, da: xr.DataArray, quantity: str, window_days: float = 0.0,
          window_pixels: int = 0, stat: str = "nearest", grid: Grid | None = None,
          cache: ChunkCache | None = None, scheduler=None) -> pd.DataFrame:
    """Match one table of observations (``time, lat, lon`` and the column ``quantity``) with
    ``da`` (a lazy DataArray with time, lat and lon; ascending lat/lon). Returns the observations
    with ``model`` (the matched value), ``pixel_time, pixel_lat, pixel_lon``, ``dt_days``,
    ``dist_km``, ``n_valid``, ``n_window`` and ``flag`` (module docstring)."""
    if stat not in V.STATS:
        raise SatCO2Error(f"unknown match-up statistic {stat!r}; choose one of {', '.join(V.STATS)}")
    if window_pixels < 0 or window_days < 0:
        raise SatCO2Error("the match-up window (window_days, window_pixels) cannot be negative")
    if quantity not in obs.columns:
        raise SatCO2Error(f"the observations have no column {quantity!r}")
    grid = grid or Grid.of(da)
    loc = grid.locate(obs["time"].values, obs["lat"].values, obs["lon"].values, window_days)
    n = len(obs)
    inside = loc["in_space"] & loc["in_time"]
    half_t = int(max(-loc["k_lo"].min(initial=0), loc["k_hi"].max(initial=0))) if window_days else 0
    all_in = bool(inside.all())
    sel = slice(None) if all_in else np.flatnonzero(inside)
    geo = (np.asarray(obs["lat"].values, float)[sel], loc["lon_w"][sel], loc["t_ns"][sel],
           grid.lat, grid.lon, grid.t_mid)
    res = extract(da, loc["k"][sel], loc["i"][sel], loc["j"][sel], loc["k_lo"][sel],
                  loc["k_hi"][sel], half_t, int(window_pixels), stat, geo=geo, cache=cache,
                  scheduler=scheduler)
    kk, ii, jj = loc["k"], loc["i"], loc["j"]
    if all_in:
        model, n_valid, n_window = res["value"], res["n_valid"], res["n_window"]
    else:
        model = np.full(n, np.nan)
        n_valid = np.zeros(n, np.int32)
        n_window = np.zeros(n, np.int32)
        model[sel] = res["value"]
        n_valid[sel] = res["n_valid"]
        n_window[sel] = res["n_window"]
    if window_pixels or half_t:
        kk, ii, jj = kk.copy(), ii.copy(), jj.copy()
        kk[sel] += res["dk"]
        ii[sel] += res["di"]
        jj[sel] += res["dj"]
    nat = np.iinfo(np.int64).min  # NaT
    pt = grid.t_mid[kk]
    plat, plon = grid.lat[ii], grid.lon[jj]
    if all_in:
        dt, dist = res["dt_days"], res["dist_km"]
    else:
        pt = np.where(inside, pt, nat)
        plat = np.where(loc["in_space"], plat, np.nan)
        plon = np.where(loc["in_space"], plon, np.nan)
        dt = np.full(n, np.nan)
        dt[sel] = res["dt_days"]
        # outside the period but on the grid: the distance to the cell still says something
        dist = np.where(loc["in_space"], V.haversine_km(obs["lat"].values, loc["lon_w"], plat, plon), np.nan)
        dist[sel] = res["dist_km"]
    code = np.zeros(n, np.int8)  # FLAGS index
    code[n_valid == 0] = FLAGS.index("no_valid_pixel")
    code[~loc["in_time"]] = FLAGS.index("outside_period")
    code[~loc["in_space"]] = FLAGS.index("outside_grid")
    ov = obs[quantity].values.astype(float)
    code[(code == 0) & ~np.isfinite(ov)] = FLAGS.index("obs_missing")
    if "obs_quality_ok" in obs:
        code[(code == 0) & ~obs["obs_quality_ok"].values.astype(bool)] = FLAGS.index("obs_quality")
    cols = {c: obs[c].values for c in obs.columns}
    cols.update(model=model, pixel_time=pt.view("datetime64[ns]"), pixel_lat=plat, pixel_lon=plon,
                dt_days=dt, dist_km=dist, n_valid=n_valid, n_window=n_window,
                flag=pd.Categorical.from_codes(code, FLAGS))
    return pd.DataFrame(cols, copy=False)


def piece_workers() -> int:
    """How many pieces :func:`match_pieces` matches at once: dask's ``num_workers`` when set,
    else the number of CPUs."""
    import dask

    n = dask.config.get("num_workers", None)
    return max(1, int(n)) if n else max(1, os.cpu_count() or 1)


def match_pieces(pieces, da: xr.DataArray, quantity: str, window_days: float = 0.0,
                 window_pixels: int = 0, stat: str = "nearest", grid: Grid | None = None,
                 cache: ChunkCache | None = None, workers: int | None = None):
    """:func:`match` of every piece of observations, yielded in the pieces' order. ``workers``
    pieces (default :func:`piece_workers`) are matched at once in threads: the point-wise work
    (pixel search, grouping by chunk, gathers; numpy, without the GIL) of one piece runs beside
    another's, and beside the reading of the next piece. At most ``workers`` + 1 pieces are in
    memory. Give them one ``cache`` so that the chunks they share are read once."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    import dask
    import dask.threaded

    grid = grid or Grid.of(da)
    workers = workers or piece_workers()
    args = (da, quantity, window_days, window_pixels, stat)
    # on the local threaded scheduler the pieces are the parallelism: each piece's chunk tasks
    # run in its own thread (no pool of pools); a distributed cluster still gets every task
    inner = "sync" if dask.base.get_scheduler() in (None, dask.threaded.get) else None
    if workers <= 1:
        for piece in pieces:
            yield match(piece, *args, grid=grid, cache=cache)
        return
    pieces = iter(pieces)
    first = next(pieces, None)
    if first is None:
        return
    second = next(pieces, None)
    if second is None:  # one piece: its chunks are the parallelism (threads of the scheduler)
        yield match(first, *args, grid=grid, cache=cache)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="satco2-matchup") as ex:
        pending: deque = deque()
        try:
            for piece in _chain(first, _chain(second, pieces)):
                pending.append(ex.submit(match, piece, *args, grid=grid, cache=cache, scheduler=inner))
                if len(pending) >= workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()


# ----------------------------------------------------------------------------------------------
# statistics per region and month, streamed


class StatsAccumulator:
    """Streaming N, bias, RMSE, R² per (region, month), over pieces of match-ups."""

    def __init__(self, regions: list[str] | None = None):
        self.regions = regions
        self._geoms = None
        self.shift = None
        self.sums: pd.DataFrame | None = None

    def _region_geoms(self):
        if self._geoms is None:
            names = R.names() if self.regions is None else list(self.regions)
            self._geoms = {}
            for name in names:
                g = R.get(name).geometry
                import shapely

                shapely.prepare(g)
                self._geoms[name] = g
        return self._geoms

    def add(self, table: pd.DataFrame, obs_col: str, model_col: str = "model") -> None:
        ok = (table["flag"] == "ok").values
        o = table[obs_col].values[ok].astype(float)
        m = table[model_col].values[ok].astype(float)
        if self.shift is None and o.size:
            self.shift = float(np.nanmean(o))
        c = self.shift or 0.0
        o, m = o - c, m - c
        d = m - o
        base = pd.DataFrame({"n": 1.0, "sum_d": d, "sum_d2": d * d, "sum_o": o, "sum_m": m,
                             "sum_o2": o * o, "sum_m2": m * m, "sum_om": o * m})
        base = base[np.isfinite(d)]
        month = pd.DatetimeIndex(table["time"].values[ok]).strftime("%Y-%m")
        month = np.asarray(month)[np.isfinite(d)]
        lat = table["lat"].values[ok][np.isfinite(d)]
        lon = ((table["lon"].values[ok][np.isfinite(d)] + 180.0) % 360.0) - 180.0
        parts = [base.assign(region="all", month=month)]
        if self.regions != [] and len(base):
            import shapely

            lo, la = lon.min(), lat.min()
            hi, ha = lon.max(), lat.max()
            for name, g in self._region_geoms().items():
                b = g.bounds
                if b[0] > hi or b[2] < lo or b[1] > ha or b[3] < la:
                    continue
                inside = shapely.contains_xy(g, lon, lat)
                if inside.any():
                    parts.append(base[inside].assign(region=name, month=month[inside]))
        all_ = pd.concat(parts, ignore_index=True)
        g = all_.groupby(["region", "month"])[list(V.MOMENTS)].sum()
        self.sums = g if self.sums is None else self.sums.add(g, fill_value=0.0)

    def table(self) -> pd.DataFrame:
        """N, mean bias, RMSE, R² per region (``all`` = every observation) and per month (``all``
        = every month); bias = mean(product - observation)."""
        cols = ["region", "month", "n", "mean_bias", "rmse", "r2"]
        if self.sums is None or self.sums.empty:
            return pd.DataFrame(columns=cols)
        s = self.sums
        per_region = s.groupby(level="region").sum()
        rows = []
        order = ["all"] + sorted(r for r in per_region.index if r != "all")
        for region in order:
            if region not in per_region.index:
                continue
            rows.append({"region": region, "month": "all", **V.stats_from_moments(per_region.loc[region])})
            for month, r in s.loc[region].sort_index().iterrows():
                rows.append({"region": region, "month": month, **V.stats_from_moments(r)})
        return pd.DataFrame(rows, columns=cols)  # bias, RMSE, R² do not depend on the shift


# ----------------------------------------------------------------------------------------------
# files in, files out


@dataclass
class MatchupResult:
    """What :func:`match_file` returns."""

    table: pd.DataFrame | None
    stats: pd.DataFrame
    counts: dict
    variable: str
    quantity: str
    product: str
    out: Path | None = None
    stats_file: Path | None = None
    summary_file: Path | None = None
    attrs: dict = field(default_factory=dict)

    def overall(self) -> dict:
        row = self.stats[(self.stats.region == "all") & (self.stats.month == "all")]
        return row.iloc[0].to_dict() if len(row) else {"n": 0}


def open_product(product, source: str = "demo", variable: str | None = None,
                 near=None) -> xr.DataArray:
    """The product as a lazy DataArray with ascending lat/lon: a registry id opened whole with
    :func:`satco2.catalog.open` (for ``source="demo"`` from the finest demo footprint that covers
    the bbox ``near``, else the first), a Zarr store or a NetCDF file path, or an ``xarray``
    Dataset/DataArray."""
    if isinstance(product, xr.DataArray):
        da = product
    else:
        if isinstance(product, xr.Dataset):
            ds = product
        elif Path(str(product)).exists():
            p = Path(str(product))
            try:
                ds = (xr.open_zarr(p) if p.is_dir() else xr.open_dataset(p, chunks={}))
            except Exception as e:  # noqa: BLE001
                raise SatCO2Error(f"product {p} could not be opened ({type(e).__name__}: {e})") from None
        else:
            ds = _open_registry(str(product), source, near)
        names = [v for v in ds.data_vars if ds[v].ndim >= 3]
        if variable is None:
            if len(names) != 1:
                raise SatCO2Error(f"product {product} has the variables {', '.join(names) or 'none'}; "
                                  "choose one with --variable")
            variable = names[0]
        if variable not in ds.data_vars:
            raise SatCO2Error(f"product {product} has no variable {variable!r}; it has "
                              f"{', '.join(map(str, ds.data_vars))}")
        da = ds[variable]
    la, lo, tn = coord_name(da, "latitude"), coord_name(da, "longitude"), coord_name(da, "time")
    extra = [d for d in da.dims if d not in (tn, la, lo)]
    for d in extra:  # e.g. depth: the surface (first level)
        if da.sizes[d] != 1:
            da = da.isel({d: 0})
        else:
            da = da.squeeze(d, drop=True)
    for c in (tn, la, lo):
        v = da[c].values
        if v.size > 1 and not (np.diff(v.astype(float) if c != tn else v.astype("int64")) > 0).all():
            da = da.sortby(c)
    return da.transpose(tn, la, lo)


def _open_registry(pid: str, source: str, near) -> xr.Dataset:
    if source == "demo" and near is not None:
        b = near
        fits = sorted((f for f, fp in FOOTPRINTS.items()
                       if fp.bbox[0] <= b[0] and fp.bbox[1] <= b[1] and fp.bbox[2] >= b[2] and fp.bbox[3] >= b[3]),
                      key=lambda f: FOOTPRINTS[f].step)
        for f in fits:
            try:
                return catalog.open(pid, source=source, footprint=f)
            except SatCO2Error:
                continue
    return catalog.open(pid, source=source)


def quantity_of(da: xr.DataArray) -> str | None:
    """The observation quantity a product variable is compared with (:data:`QUANTITY_OF_VARIABLE`
    by name, then by CF standard name)."""
    return QUANTITY_OF_VARIABLE.get(str(da.name)) or STANDARD_NAME_QUANTITY.get(
        da.attrs.get("standard_name", ""))


def _product_units(da: xr.DataArray, quantity: str, product) -> xr.DataArray:
    units = da.attrs.get("units")
    if quantity not in V.CANONICAL_UNITS or not units:
        return da
    conv = V.to_canonical(1.0, units, quantity, f"variable {da.name!r} of product {product}")
    zero = V.to_canonical(0.0, units, quantity, f"variable {da.name!r} of product {product}")
    if conv == 1.0 and zero == 0.0:
        return da
    return (da * (conv - zero) + zero).assign_attrs(da.attrs, units=V.CANONICAL_UNITS[quantity])


def _bbox(obs: pd.DataFrame, pad: float = 1.0):
    lon = ((obs["lon"].values + 180.0) % 360.0) - 180.0
    lat = obs["lat"].values
    if not np.isfinite(lat).any():
        return None
    return (max(float(np.nanmin(lon)) - pad, -180.0), max(float(np.nanmin(lat)) - pad, -90.0),
            min(float(np.nanmax(lon)) + pad, 180.0), min(float(np.nanmax(lat)) + pad, 90.0))


def match_file(obs_file, product, source: str = "demo", variable: str | None = None,
               obs_variable: str | None = None, times=None, window_days: float = 0.0,
               window_pixels: int = 0, stat: str = "nearest", out=None, regions=None,
               format: str | None = None, chunksize: int = DEFAULT_CHUNKSIZE,
               keep_table: bool = True, cache_bytes: int | None = None) -> MatchupResult:
    """Match every observation of ``obs_file`` with ``product`` (module docstring).

    ``variable``: the product's variable (default: its only one); ``obs_variable``: the
    observation quantity compared with it (default from the variable: :data:`QUANTITY_OF_VARIABLE`,
    else a ``value`` column); ``times``: the times of a wide CSV's columns when its headers are
    not dates; ``regions``: region names for the statistics (default every region in
    ``catalogs/regions.yaml`` that holds match-ups; ``[]`` none); ``out``: the CSV written with
    every observation (``.parquet`` also works), beside it ``<out>.stats.csv`` and
    ``<out>.summary.json``. ``keep_table=False`` keeps memory bounded (the table is only written).
    ``cache_bytes``: the budget of the :class:`ChunkCache` the pieces share (default a quarter of
    the memory limit of the process holding the chunks, :func:`default_cache_bytes`: a cluster
    worker's ``memory_limit``, else the server's cgroup/``MEM_LIMIT`` limit or the physical
    memory; 0 reads every chunk again for every piece).
    """
    obs_file = Path(obs_file)
    fmt = format or V.detect_format(obs_file)
    label = (str(product) if isinstance(product, (str, os.PathLike))
             else f"the in-memory {type(product).__name__} {getattr(product, 'name', None) or ''}".rstrip())
    # the product first (cheap, lazy): unknown ids and variables fail before any reading
    da = open_product(product, source=source, variable=variable)
    q = obs_variable or quantity_of(da) or "value"
    if q not in V.COLUMN_ALIASES and q not in V.CANONICAL_UNITS:
        raise SatCO2Error(f"unknown observation quantity {q!r}; choose one of "
                          f"{', '.join(k for k in V.COLUMN_ALIASES if k not in ('time', 'lat', 'lon'))}")
    opts = {"quantity": q if fmt != "socat_tsv" else None, "times": times}
    pieces = iter(V.iter_observations(obs_file, fmt, chunksize=chunksize, **opts))
    first = next(pieces, None)
    if first is None or first.empty:
        raise SatCO2Error(f"observation file {obs_file} holds no observations")
    if q in first.columns:
        q_col = q
    elif "value" in first.columns and obs_variable is None:
        q_col = "value"
    else:
        have = [c for c in first.columns if c in V.COLUMN_ALIASES and c not in ("time", "lat", "lon")]
        raise SatCO2Error(
            f"observation file {obs_file} has no {q} to compare with {da.name!r} of {label} "
            f"(it has {', '.join(have) or 'no known quantity'}); name the quantity with --obs-variable")
    if isinstance(product, str) and not Path(product).exists():
        # a registry id: the footprint/extent that covers the observations (demo stores have several)
        da = open_product(product, source=source, variable=da.name, near=_bbox(first, pad=0.0))
    da = _product_units(da, q, product)
    grid = Grid.of(da)
    acc = StatsAccumulator(regions)
    counts = {f: 0 for f in FLAGS}
    counts["observations"] = 0
    kept = []
    writer = _Writer(Path(out)) if out else None
    obs_col = f"obs_{q}"
    cache = ChunkCache(cache_bytes)
    try:
        for m in match_pieces(_chain(first, pieces), da, q_col, window_days, window_pixels, stat,
                              grid=grid, cache=cache):
            m = m.rename(columns={q_col: obs_col, "model": f"model_{da.name}"})
            counts["observations"] += len(m)
            for f, c in m["flag"].value_counts().items():
                counts[f] = counts.get(f, 0) + int(c)
            acc.add(m, obs_col, f"model_{da.name}")
            if writer:
                writer.write(m)
            if keep_table:
                kept.append(m)
        inside = counts["observations"] - counts["outside_grid"] - counts["outside_period"]
        if inside == 0:
            t0, t1 = (pd.Timestamp(grid.t_edges[0]), pd.Timestamp(grid.t_edges[-1]))
            raise SatCO2Error(
                f"all {counts['observations']} observations of {obs_file.name} lie outside the coverage "
                f"of {label} ({counts['outside_grid']} outside its grid lat {grid.lat_edges[0]:.2f}.."
                f"{grid.lat_edges[-1]:.2f}, lon {grid.lon_edges[0]:.2f}..{grid.lon_edges[-1]:.2f}; "
                f"{counts['outside_period']} outside its period {t0:%Y-%m-%d}..{t1:%Y-%m-%d})")
    except BaseException:
        if writer:
            writer.abort()
        raise
    finally:
        cache.clear()
    if writer:
        writer.close()
    stats = acc.table()
    res = MatchupResult(table=pd.concat(kept, ignore_index=True) if keep_table else None,
                        stats=stats, counts=counts, variable=str(da.name), quantity=q,
                        product=label, out=Path(out) if out else None,
                        attrs={"obs_file": str(obs_file), "format": fmt, "source": source,
                               "window_days": window_days, "window_pixels": window_pixels,
                               "stat": stat, "units": V.CANONICAL_UNITS.get(q, da.attrs.get("units", "")),
                               "synthetic": str(da.attrs.get("synthetic", ""))})
    if out:
        res.stats_file = Path(str(out) + ".stats.csv")
        with io.atomic_path(res.stats_file) as tmp:
            stats.to_csv(tmp, index=False)
        res.summary_file = Path(str(out) + ".summary.json")
        summary = {"counts": counts, "variable": res.variable, "quantity": q, "product": label,
                   **res.attrs, "overall": res.overall()}
        io.write_json(res.summary_file, io.json_safe(summary), allow_nan=False)
    return res


def _chain(first, rest):
    yield first
    yield from rest


class _Writer:
    """Appends pieces of the match-up table to a CSV (or Parquet) file, atomically at the end
    (:class:`satco2.io.PendingFile`: a unique temporary sibling, renamed over the file on close)."""

    def __init__(self, path: Path):
        self.path = path
        self.pending = io.PendingFile(path, suffix=path.suffix)
        self.tmp = self.pending.tmp
        self.parquet = path.suffix == ".parquet"
        self._pq = None
        self._first = True

    def write(self, df: pd.DataFrame) -> None:
        if self.parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            t = pa.Table.from_pandas(df, preserve_index=False)
            if self._pq is None:
                self._pq = pq.ParquetWriter(self.tmp, t.schema)
            self._pq.write_table(t)
        else:
            df.to_csv(self.tmp, mode="w" if self._first else "a", header=self._first, index=False)
        self._first = False

    def abort(self) -> None:
        if self._pq is not None:
            self._pq.close()
        self.pending.discard()

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
        if self._first:  # nothing written: no output file
            self.pending.discard()
        else:
            self.pending.commit()


# ----------------------------------------------------------------------------------------------
# command line


def register(app) -> None:
    import typer

    @app.command("matchup")
    def matchup_cmd(
        obs_file: Path = typer.Argument(..., help="observations: long CSV, SOCAT .tsv, SOCAT upload CSV, "
                                                  "MAPCO2 .tsv, NetCDF trajectory or gridded wide CSV"),
        product: str = typer.Argument(..., help="product id (see `satco2 catalog list`), or a Zarr/NetCDF path"),
        source: str = typer.Option("demo", "--source", help="demo | mirror | upstream"),
        variable: str = typer.Option(None, "--variable", help="product variable (default: its only one)"),
        obs_variable: str = typer.Option(None, "--obs-variable",
                                         help="observation quantity (sst, sss, chl, pco2sw, fco2sw, value)"),
        times: str = typer.Option(None, "--times", help="wide CSV: times of the columns, T1,T2,..."),
        window_days: float = typer.Option(0.0, "--window-days", help="time window half-width, days"),
        window_pixels: int = typer.Option(0, "--window-pixels", help="spatial window half-width, pixels"),
        stat: str = typer.Option("nearest", "--stat", help="nearest | median | mean"),
        out: Path = typer.Option(None, "--out", help="match-up table (.csv or .parquet); "
                                                     "default <obs file name>.matchups.csv here"),
        format: str = typer.Option(None, "--format", help="observation format (default: detected)"),
    ) -> None:
        """Match in-situ observations with a gridded product; write every observation with its
        matched value and N, bias, RMSE, R² per region and month."""
        out = out or Path(f"{obs_file.name}.matchups.csv")
        res = match_file(obs_file, product, source=source, variable=variable,
                         obs_variable=obs_variable, times=times, window_days=window_days,
                         window_pixels=window_pixels, stat=stat, out=out, format=format,
                         keep_table=False)
        c = res.counts
        typer.echo(f"{c['observations']} observations of {obs_file.name} ({res.attrs['format']}) vs "
                   f"{res.variable} of {product}: {c['ok']} matched, {c['outside_grid']} outside the "
                   f"grid, {c['outside_period']} outside the period, {c['no_valid_pixel']} without a "
                   f"valid pixel, {c['obs_missing']} without a value, {c['obs_quality']} flagged")
        o = res.overall()
        if o.get("n"):
            typer.echo(f"N {o['n']}  bias {o['mean_bias']:.4g}  RMSE {o['rmse']:.4g}  R² {o['r2']:.3f}"
                       f"  ({res.attrs['units']}; bias = product - observation)")
        regional = res.stats[(res.stats.month == "all") & (res.stats.region != "all")]
        for _, r in regional.iterrows():
            typer.echo(f"  {r.region}: N {r.n}  bias {r.mean_bias:.4g}  RMSE {r.rmse:.4g}  R² {r.r2:.3f}")
        typer.echo(f"wrote {res.out}, {res.stats_file} and {res.summary_file}")
