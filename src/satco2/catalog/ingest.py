"""``satco2 ingest PRODUCT FILES...``: upstream files -> the product's Zarr mirror.

The mirror of a product is ``<config.mirror_root()>/<mirror.path>`` (a local folder or any fsspec
URL). Every file is read by the product's reader (:mod:`satco2.catalog.readers`), decoded
(scale/offset, fill values, units) and appended along ``time`` as ONE committed step:

1. the file is read and checked completely in memory (a wrong or corrupt file raises
   :class:`satco2.SatCO2Error` naming the file and the problem; the store is untouched);
2. the arrays are resized and the new time steps written (chunks: 1 time step x ~1024 x ~1024;
   small grids and point series: several time steps per chunk, see :func:`chunks_for`; a chunk
   shared with committed steps is rewritten whole, one atomic object write);
3. the commit: the ledger in the group attributes ``satco2_ingest`` (committed files with their
   sha256, time steps and indices, and ``n_time``) is rewritten (one atomic object write), then
   the metadata is re-consolidated.

A store is therefore always readable and complete up to ``n_time`` (``catalog.open`` reads only
the committed steps); a SIGKILL between steps leaves at most uncommitted trailing steps, which the
next run overwrites. Re-ingesting a committed file (same name and sha256) changes nothing. The
first file creates the store in a temporary folder renamed into place (local roots). Files are
appended in the order of their names (archive names carry their dates); ``catalog.open`` sorts by
time when needed.

Variables under other names: ``variables={"sst": "sea_surface_temperature"}`` (CLI
``--variable sst=sea_surface_temperature``, repeatable) takes the product's variable from another
name in the file; the file's ``units`` attribute is then converted to the product's units (e.g.
K -> degC, :data:`satco2.catalog.readers.base.CONVERSIONS`) or refused in one sentence.

Time stamps follow the registry's convention, ``time`` = the start of the period
(:func:`satco2.catalog.periods.period_start`, the rule every source of ``catalog.open``
applies too): mid-month stamps of a monthly product become the first of the month, noon
stamps of a daily product midnight. The file's original stamps are kept in its ledger entry
(``time_original``) and the ``time`` variable says so in its ``comment`` attribute.
"""
from __future__ import annotations

import concurrent.futures as cf
import hashlib
import math
import os
import shutil
import threading
import time as _time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import SatCO2Error, io
from . import readers, registry
from .readers import hdf5_chunks
from .periods import INSTANT_READERS, PERIOD_FREQ, period_start, to_period_start  # noqa: F401
from .store import LEDGER, is_url, local_path, mirror_url, read_ledger, store_exists, zarr_store

TIME_UNITS = "days since 1970-01-01 00:00:00"
SPATIAL_CHUNK = 1024
TIME_CHUNK_ELEMENTS = 2**18  # values per chunk below which chunks hold several time steps
MAX_TIME_CHUNK = 4096


# --------------------------------------------------------------------------- stores
def _rmtree(loc: str) -> None:
    if is_url(loc):
        import fsspec

        fs, path = fsspec.core.url_to_fs(loc)
        if fs.exists(path):
            fs.rm(path, recursive=True)
    else:
        shutil.rmtree(local_path(loc), ignore_errors=True)


# --------------------------------------------------------------------------- helpers
def sha256(path: Path, bufsize: int = 8 * 2**20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(bufsize):
            h.update(chunk)
    return h.hexdigest()


def _even_chunk(n: int, target: int = SPATIAL_CHUNK) -> int:
    return int(math.ceil(n / math.ceil(n / target))) if n > 0 else 1


def chunks_for(ds: xr.Dataset) -> dict[str, int]:
    """Mirror chunks: lat/lon split evenly in pieces of at most ~1024; in time, one step for
    grids of at least :data:`TIME_CHUNK_ELEMENTS` values per chunk, else as many steps as make
    that many values (at most :data:`MAX_TIME_CHUNK`), so small grids, points and time series do
    not become one file per value."""
    ch, spatial = {}, 1
    for d in ds.dims:
        if d != "time":
            ch[d] = _even_chunk(ds.sizes[d])
            spatial *= ch[d]
    ch["time"] = max(1, min(MAX_TIME_CHUNK, TIME_CHUNK_ELEMENTS // spatial))
    return ch


def _encode_time(times) -> np.ndarray:
    t = pd.DatetimeIndex(times).as_unit("ns")
    return ((t - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)).to_numpy(np.float64)


def normalise_time(ds: xr.Dataset, product, name: str = "") -> tuple[xr.Dataset, list[str] | None]:
    """``ds`` with its time stamps moved to the start of their period (the registry's
    convention, :func:`satco2.catalog.periods.to_period_start`, the rule every source of
    ``catalog.open`` applies too); returns (ds, original stamps as ISO strings, or None when
    nothing changed), which the caller keeps in the ledger."""
    return to_period_start(ds, product, f"file {name}", where=f"the {LEDGER} ledger (time_original)")


def with_variables(product, variables: dict[str, str] | None):
    """A copy of the registry entry whose variables are read from other names in the file
    (``{product variable: name in the file}``); the file's own units are then converted."""
    if not variables:
        return product
    import copy

    unknown = sorted(set(variables) - set(product.variables))
    if unknown:
        raise SatCO2Error(f"product {product.id} has no variable {', '.join(unknown)} "
                          f"(it has {', '.join(product.variables)}).")
    raw = copy.deepcopy(product.raw)
    for name, src in variables.items():
        meta = raw["variables"][name]
        meta["source_name"] = src
        meta.pop("source_units", None)
    return registry.Product(raw)


def parse_variables(items) -> dict[str, str]:
    """``["sst=sea_surface_temperature", ...]`` -> {"sst": "sea_surface_temperature"}."""
    out = {}
    for it in items or []:
        name, sep, src = str(it).partition("=")
        if not sep or not name.strip() or not src.strip():
            raise SatCO2Error(f"--variable {it!r} is not NAME=SOURCE_NAME (e.g. sst=sea_surface_temperature).")
        out[name.strip()] = src.strip()
    return out


@dataclass
class IngestReport:
    product_id: str
    store: str
    committed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    n_time: int = 0
    bytes_read: int = 0
    seconds: float = 0.0


_BLOCKS = threading.local()  # per write thread: a reusable contiguous chunk buffer


def _write_pool() -> cf.ThreadPoolExecutor:
    """Threads that encode and write mirror chunks (one per core, shared by all ingests)."""
    return hdf5_chunks.shared_pool("satco2-write")


def _block_buffer(shape: tuple[int, ...], dtype) -> np.ndarray:
    """This thread's contiguous buffer for one chunk (reused: fresh memory costs the kernel's
    page zeroing every time)."""
    buf = getattr(_BLOCKS, "buf", None)
    if buf is None or buf.shape != tuple(shape) or buf.dtype != dtype:
        buf = _BLOCKS.buf = np.empty(shape, dtype)
    return buf


def _time_axis(arr) -> int | None:
    """The position of ``time`` among a stored array's dimensions (not always the first: e.g.
    SeaFlux's (product, wind, time, lat, lon)), None for static fields."""
    dims = list(arr.metadata.dimension_names or ())
    return dims.index("time") if "time" in dims else None


def _write_chunk_file(path: Path, data: bytes) -> None:
    """Write a chunk of time steps beyond the committed length, in place: such a chunk is
    invisible until the commit, and a run killed while writing it leaves a partial file that
    the next run removes (:meth:`_Mirror.repair` resizes the arrays to the committed length,
    which deletes the chunks outside) or overwrites; so no temporary name, rename or fsync
    (they cost more than the write itself). A link planted at the path is not followed."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o666)
    except FileNotFoundError:  # the chunk key's folders (c/<t>/<i>/) do not exist yet
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- the ingest
class _Mirror:
    """The product's mirror store and its commit protocol."""

    def __init__(self, product, loc: str):
        self.product, self.loc = product, loc

    def ledger(self) -> dict | None:
        return read_ledger(self.loc)

    def create(self, ds: xr.Dataset, entry: dict) -> None:
        """Create the store from the first file's Dataset (atomic for local roots)."""
        led = {"version": 1, "product_id": self.product.id, "n_time": int(ds.sizes["time"]),
               "files": {entry["name"]: entry}}
        ds = ds.copy()
        ds.attrs = {k: v for k, v in ds.attrs.items()
                    if k not in ("source_file", "time_coverage_start", "time_coverage_end",
                                 "period_end", "history")}
        ds.attrs[LEDGER] = led
        ds.attrs["history"] = "mirror written by satco2 ingest"
        from zarr.codecs import BloscCodec

        # blosc lz4 + byte shuffle: ~3x faster to write than zarr's default zstd, and smaller
        enc = {v: {"chunks": tuple(chunks_for(ds)[d] for d in ds[v].dims),
                   "compressors": [BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")]}
               for v in ds.data_vars}
        enc["time"] = {"units": TIME_UNITS, "dtype": "float64", "calendar": "proleptic_gregorian"}
        # the store's metadata, coordinates and static fields from xarray; the time-dependent
        # variables as a dask template, not computed (compute=False), their chunks then written
        # by _write_chunks as for every later file (or by zarr where that does not apply)
        import dask.array

        timed = [v for v in ds.data_vars if "time" in ds[v].dims]
        tmpl = ds.copy()
        for v in timed:  # lazy zeros, not the data: a dask array of the data would hash it all
            tmpl[v] = ds[v].copy(data=dask.array.zeros(ds[v].shape, dtype=ds[v].dtype, chunks=enc[v]["chunks"]))

        def write(target: str) -> None:
            import zarr

            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
                tmpl.to_zarr(zarr_store(target), mode="w", consolidated=True, zarr_format=3,
                             encoding=enc, compute=False)
            g = zarr.open_group(zarr_store(target), mode="r+", use_consolidated=False)
            for v in timed:  # stored in the variable's own order of dimensions
                vals = ds[v].values
                if not (ds[v].dims[0] == "time" and self._write_chunks(g[v], 0, vals, target)):
                    g[v][:] = vals

        if is_url(self.loc):  # object stores have no rename: the ledger is the commit
            _rmtree(self.loc)
            write(self.loc)
        else:  # an earlier creation that never committed is swapped out and removed
            with io.atomic_dir(local_path(self.loc)) as tmp:
                write(str(tmp))

    def check_compatible(self, group, ds: xr.Dataset, name: str) -> None:
        for c in ("lat", "lon"):
            if c in ds.coords:
                have = group[c][:]
                new = ds[c].values
                tol = 0.01 * float(np.abs(np.diff(have)).min()) if have.size > 1 else 1e-6
                if have.shape != new.shape or not np.allclose(have, new, rtol=0, atol=tol):
                    raise SatCO2Error(
                        f"file {name} is on a different {c} grid ({new.size} points "
                        f"{new.min():.4f}..{new.max():.4f}) than the mirror of "
                        f"{self.product.id} ({have.size} points {have.min():.4f}..{have.max():.4f})."
                    )
        for v in ds.data_vars:
            if v not in group:
                raise SatCO2Error(f"file {name} brings variable {v}, which the mirror of {self.product.id} lacks.")

    def append(self, ds: xr.Dataset, entry: dict) -> None:
        """Write the file's time steps after the committed ones, then commit."""
        import zarr

        store = zarr_store(self.loc)
        g = zarr.open_group(store, mode="r+", use_consolidated=False)
        led = dict(g.attrs[LEDGER])
        k, nt = int(led["n_time"]), int(ds.sizes["time"])
        self.check_compatible(g, ds, entry["name"])
        times = set(_encode_time(ds["time"].values).tolist())
        old = g["time"][:k]
        clash = times & set(np.asarray(old).tolist())
        if clash:
            when = pd.Timestamp("1970-01-01") + pd.Timedelta(days=sorted(clash)[0])
            other = next((f for f, e in led["files"].items() if str(when.isoformat()) in e["time"]), "another file")
            raise SatCO2Error(
                f"file {entry['name']} holds time {when.isoformat()}, which the mirror of "
                f"{self.product.id} already has from {other}."
            )
        # 2. data (beyond the committed length: invisible until the commit)
        timed = [v for v in ds.data_vars if "time" in ds[v].dims]  # static fields stay as first written
        # coordinates along time other than time itself (e.g. time_original), encoded as stored;
        # all checked before anything is written
        extra = {c: self._encode_like(g, c, ds[c], entry["name"])
                 for c in ds.coords if c != "time" and ds[c].dims == ("time",)}
        for name in timed + ["time", *extra]:
            arr = g[name]
            ti = _time_axis(arr) or 0
            if arr.shape[ti] < k + nt:
                arr.resize(arr.shape[:ti] + (k + nt,) + arr.shape[ti + 1:])
        g["time"][k:k + nt] = _encode_time(ds["time"].values)
        for c, vals in extra.items():
            g[c][k:k + nt] = vals
        for name in timed:
            arr = g[name]
            dims = tuple(arr.metadata.dimension_names or ds[name].dims)
            vals = ds[name].transpose(*dims).values  # in the stored order (time not always first)
            ti = dims.index("time")
            if not (ti == 0 and self._write_chunks(arr, k, vals)):
                arr[(slice(None),) * ti + (slice(k, k + nt),)] = vals
        # 3. commit: the ledger (one atomic write of the group metadata), then consolidate
        entry = dict(entry, index=[k, k + nt])
        led["files"] = dict(led["files"], **{entry["name"]: entry})
        led["n_time"] = k + nt
        g.attrs[LEDGER] = led
        self.consolidate()

    def _encode_like(self, g, name: str, coord: xr.DataArray, fname: str) -> np.ndarray:
        """``coord`` (1-D along time) in the stored array's encoding (CF units for datetimes);
        a clear error if the mirror lacks it or its values cannot be stored exactly."""
        if name not in g:
            raise SatCO2Error(f"file {fname} brings coordinate {name}, which the mirror of {self.product.id} lacks.")
        arr = g[name]
        vals = coord.values
        if np.issubdtype(vals.dtype, np.datetime64):
            from xarray.coding.times import encode_cf_datetime

            units, cal = arr.attrs.get("units"), arr.attrs.get("calendar")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                vals = np.asarray(encode_cf_datetime(vals, units, cal)[0])
        out = vals.astype(arr.dtype)
        if not np.array_equal(out, vals, equal_nan=vals.dtype.kind == "f"):
            raise SatCO2Error(f"file {fname}: its {name} values cannot be stored exactly in the mirror of "
                              f"{self.product.id} ({arr.dtype}, {arr.attrs.get('units', 'no units')}).")
        return out

    def _write_chunks(self, arr, k: int, vals: np.ndarray, target: str | None = None) -> bool:
        """Write time steps ``k..`` of ``arr`` chunk by chunk, straight to the local store's files.

        The same bytes as zarr's own write (codecs bytes + blosc with the array's settings, chunk
        keys of its key encoding, each file written in place (:func:`_write_chunk_file`); chunks that
        hold only the fill value are not stored, as zarr's ``write_empty_chunks=False``), at
        about half zarr's CPU cost (no async codec pipeline). Only for local stores, one time step
        per chunk and that codec chain; returns False otherwise (the caller lets zarr write).
        ``target``: the store's location when it is not the mirror's own (its creation in a
        temporary folder).
        """
        import numcodecs
        import zarr
        from zarr.codecs import BloscCodec, BytesCodec

        md = arr.metadata
        target = self.loc if target is None else target
        if (is_url(target) or getattr(md, "zarr_format", None) != 3 or md.chunk_grid.chunk_shape[0] != 1
                or len(md.codecs) != 2 or not isinstance(md.codecs[0], BytesCodec)
                or not isinstance(md.codecs[1], BloscCodec) or vals.dtype != arr.dtype
                or not (vals.dtype.byteorder in "=|<" and np.little_endian)
                or zarr.config.get("array.write_empty_chunks")):
            return False
        bl = md.codecs[1]
        codec = numcodecs.Blosc(cname=bl.cname.value, clevel=bl.clevel, blocksize=bl.blocksize,
                                shuffle={"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}[bl.shuffle.value],
                                typesize=bl.typesize)
        cshape = md.chunk_grid.chunk_shape
        fill = arr.fill_value
        nan_fill = bool(np.isnan(fill))
        folder = Path(local_path(target)) / arr.path
        grid = [range(0, n, c) for n, c in zip(vals.shape[1:], cshape[1:])]

        def write(t, starts):
            lo = [r[i] for r, i in zip(grid, starts)]
            sel = tuple(slice(a, a + c) for a, c in zip(lo, cshape[1:]))
            part = vals[(t,) + sel]
            block = _block_buffer(cshape[1:], vals.dtype)  # encoded below, before this thread reuses it
            if part.shape != tuple(cshape[1:]):  # edge chunk: pad with the fill value
                block.fill(fill)
            block[tuple(slice(0, n) for n in part.shape)] = part
            key = md.chunk_key_encoding.encode_chunk_key((k + t, *starts))
            path = folder / key
            first = block.flat[0]  # most chunks hold data in their first value: no full scan
            empty = ((np.isnan(first) and bool(np.isnan(block).all())) if nan_fill
                     else (first == fill and bool((block == fill).all())))
            if empty:
                path.unlink(missing_ok=True)
                return
            _write_chunk_file(path, codec.encode(block))

        # chunks are encoded and written in threads (blosc, numpy and file writes release the
        # GIL), overlapping the decoding of the next file; all finish before any error is raised
        pool = _write_pool()
        futures = [pool.submit(write, t, starts) for t in range(vals.shape[0])
                   for starts in np.ndindex(*[len(r) for r in grid])]
        errors = [f.exception() for f in futures]
        err = next((e for e in errors if e is not None), None)
        if err is not None:
            raise err
        return True

    def consolidate(self) -> None:
        import zarr

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            zarr.consolidate_metadata(zarr_store(self.loc))

    def repair(self) -> bool:
        """Drop uncommitted trailing steps left by an interrupted run; True if anything changed."""
        import zarr

        g = zarr.open_group(zarr_store(self.loc), mode="r+", use_consolidated=False)
        n = int(g.attrs[LEDGER]["n_time"])
        changed = False
        for name, arr in g.arrays():
            ti = _time_axis(arr)
            if ti is not None and arr.shape[ti] != n:
                arr.resize(arr.shape[:ti] + (n,) + arr.shape[ti + 1:])
                changed = True
        if changed:
            self.consolidate()
        return changed


def _entry(path: Path, digest: str, ds: xr.Dataset) -> dict:
    return {
        "name": path.name,
        "sha256": digest,
        "size": path.stat().st_size,
        "time": [pd.Timestamp(t).isoformat() for t in ds["time"].values],
    }


def ingest(product_id: str, files, root: str | None = None, progress: bool | None = None,
           reader: str | None = None, reader_options: dict | None = None,
           variables: dict[str, str] | None = None) -> IngestReport:
    """Append ``files`` to the mirror of ``product_id``; see the module docstring.

    ``root`` overrides :func:`satco2.config.mirror_root`; ``reader`` overrides the registry's
    reader name and ``reader_options`` go to the reader (e.g. ``{"lat": .., "lon": ..}`` for
    ``point_csv``); ``variables`` maps product variables to other names in the files (units
    converted); ``progress`` shows a tqdm bar (default: when attached to a terminal).
    """
    from tqdm.auto import tqdm

    t0 = _time.perf_counter()
    registered = registry.get(product_id)
    product = with_variables(registered, variables)
    rd = readers.get(reader or product.reader, **(reader_options or {}))
    paths = [Path(f) for f in files]
    if not paths:
        raise SatCO2Error("no files given to ingest.")
    for p in paths:
        rd.check_file(p)
    paths = sorted(dict.fromkeys(paths), key=lambda p: p.name)
    loc = mirror_url(product_id, root)
    mirror = _Mirror(product, loc)
    rep = IngestReport(product_id, loc)
    led = mirror.ledger()
    if led is None and store_exists(loc):
        _rmtree(loc)  # a creation that never committed (no ledger): start again
    if led is not None:
        mirror.repair()
    names = {p.name for p in paths}
    if len(names) != len(paths):
        raise SatCO2Error("two of the given files have the same name; ingest them into separate products.")

    todo = []
    for p in paths:
        done = (led or {}).get("files", {}).get(p.name)
        if done is not None:
            digest = sha256(p)
            if digest == done["sha256"]:
                rep.skipped.append(p.name)
                continue
            raise SatCO2Error(
                f"file {p.name} was already ingested into {product_id} with different content; "
                "remove the mirror or rename the file."
            )
        todo.append(p)

    def load(p: Path):
        digest = hasher.submit(sha256, p)  # hashed while it is decoded (hashlib releases the GIL)
        try:
            ds = rd.open_file(p, product)
        finally:
            digest = digest.result()
        return p, digest, ds

    bar = tqdm(total=len(todo), desc=f"ingest {product_id}", unit="file", leave=False,
               disable=(not progress) if progress is not None else None)
    # read the next file while the current one is written (reading releases the GIL)
    with bar, cf.ThreadPoolExecutor(max_workers=1) as pool, cf.ThreadPoolExecutor(max_workers=1) as hasher:
        fut = pool.submit(load, todo[0]) if todo else None
        for i in range(len(todo)):
            p, digest, ds = fut.result()
            fut = pool.submit(load, todo[i + 1]) if i + 1 < len(todo) else None
            if "time" not in ds.dims:
                raise SatCO2Error(f"file {p.name}: the {rd.name} reader returned no time dimension.")
            original = None
            if rd.name not in INSTANT_READERS:
                ds, original = normalise_time(ds, product, p.name)
            entry = _entry(p, digest, ds)
            if original is not None:
                entry["time_original"] = original
            if variables:
                entry["variables"] = dict(variables)
            if mirror.ledger() is None:
                entry["index"] = [0, int(ds.sizes["time"])]
                mirror.create(ds, entry)
            else:
                mirror.append(ds, entry)
            rep.committed.append(p.name)
            rep.bytes_read += p.stat().st_size
            # committed: nothing refers to the decoded arrays any more; the reader may reuse them
            arrays = [ds[v].data for v in ds.data_vars]
            del ds
            for a in arrays:
                if isinstance(a, np.ndarray):
                    hdf5_chunks.recycle(a)
            del arrays
            bar.update(1)
    led = mirror.ledger()
    rep.n_time = int(led["n_time"]) if led else 0
    rep.seconds = _time.perf_counter() - t0
    return rep


# --------------------------------------------------------------------------- CLI
def register(app) -> None:
    import typer

    @app.command("ingest")
    def ingest_cmd(
        product: str = typer.Argument(..., help="product id (see `satco2 catalog list`)"),
        files: list[Path] = typer.Argument(..., help="upstream files to append to the mirror"),
        root: str = typer.Option(None, "--root", help="mirror root (default: config mirror-root)"),
        reader: str = typer.Option(None, "--reader", help="override the registry's reader"),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
        lat: float = typer.Option(None, "--lat", help="point_csv reader: latitude of the point"),
        lon: float = typer.Option(None, "--lon", help="point_csv reader: longitude of the point"),
        variable: list[str] = typer.Option(None, "--variable",
                                           help="NAME=SOURCE_NAME: take the product's variable NAME from "
                                                "SOURCE_NAME in the files (repeatable; units converted)"),
    ) -> None:
        """Append upstream FILES to PRODUCT's Zarr mirror (idempotent, resumable, atomic per file)."""
        opts = {k: v for k, v in (("lat", lat), ("lon", lon)) if v is not None}
        rep = ingest(product, files, root=root, progress=not quiet, reader=reader, reader_options=opts,
                     variables=parse_variables(variable))
        typer.echo(
            f"{product}: {len(rep.committed)} file(s) committed, {len(rep.skipped)} already present, "
            f"{rep.n_time} time step(s) in {rep.store}"
        )
