"""Zarr chunks read and written directly, for an elementwise computation from Zarr stores to a
Zarr store (the flux stage of :func:`satco2.analyses.pco2_flux.write_flux_from_pco2`).

Reading a lazily opened Zarr variable through xarray, dask and zarr-python's codec pipeline costs
about twice the decompression itself (measured in docs/pco2-flux.md, "Benchmark"); for a kernel of
a few ns per pixel that is most of the time. Here each chunk file is read and decompressed by
numcodecs (which releases the GIL) straight into a preallocated buffer, and each result chunk is
compressed and written as a file, chunk by chunk on a thread pool. This is done only where it is
certain to give what xarray and zarr give (:func:`source` and :func:`sink` say ``None`` otherwise,
and the caller takes the general path):

- inputs: a DataArray that is exactly one whole variable of a Zarr store on the local file system
  as ``xr.open_zarr`` opened it (no selection or computation on top), its dask chunks the Zarr
  chunks, unsharded, bytes little-endian + at most one zstd or blosc compressor, no filters, float
  with NaN fill value and no CF scaling (so the stored values are the values xarray shows);
- output: the store that ``to_zarr(..., compute=False)`` prepared (metadata and coordinates by
  xarray itself, so the layout and attributes are xarray's), same conditions on its codecs; a
  chunk that is all NaN (the fill value) is not written, as zarr does.

Why not a library: zarr-python's own ``Array.__getitem__``/``__setitem__`` is the overhead in
question (an asyncio round trip and a codec pipeline per call), and no maintained package decodes
chunks into caller-given buffers from xarray's objects (docs/developers.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class ChunkFiles:
    """One Zarr array on the local file system whose chunks can be read/written directly."""

    root: Path  # the array's folder
    shape: tuple
    chunks: tuple
    dtype: np.dtype
    codec: object  # numcodecs codec, or None (bytes only)
    key: object  # chunk coords -> relative key ("c/0/1/2")

    def path(self, idx) -> Path:
        return self.root / self.key(tuple(int(i) for i in idx))

    def region(self, idx) -> tuple:
        return tuple(slice(i * c, min((i + 1) * c, n)) for i, c, n in zip(idx, self.chunks, self.shape))

    @property
    def grid(self) -> tuple:
        return tuple(math.ceil(n / c) for n, c in zip(self.shape, self.chunks))

    def read(self, idx, buf: np.ndarray) -> np.ndarray:
        """The chunk ``idx`` decoded into ``buf`` (a C-contiguous array of the chunk shape), cut to
        the array's edge; a missing chunk file is all NaN (the fill value)."""
        try:
            raw = self.path(idx).read_bytes()
        except FileNotFoundError:
            buf[...] = np.nan
        else:
            view = buf.reshape(-1).view(np.uint8)
            if self.codec is None:
                if len(raw) != view.size:
                    raise ValueError(f"Zarr chunk {self.path(idx)} has {len(raw)} bytes, expected {view.size}")
                view[:] = np.frombuffer(raw, np.uint8)
            else:
                self.codec.decode(raw, out=view)
        return buf[tuple(slice(0, r.stop - r.start) for r in self.region(idx))]

    def write(self, idx, chunk: np.ndarray, buf: np.ndarray) -> None:
        """Write ``chunk`` (the region of ``idx``) as chunk ``idx``, padded with NaN to the chunk
        shape in ``buf``; nothing when it is all NaN."""
        if np.isnan(chunk).all():
            return
        if chunk.shape != buf.shape:
            buf[...] = np.nan
            buf[tuple(slice(0, n) for n in chunk.shape)] = chunk
            chunk = buf
        data = np.ascontiguousarray(chunk, dtype=self.dtype)
        p = self.path(idx)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.tobytes() if self.codec is None else bytes(self.codec.encode(data)))


def _codec(arr):
    """The numcodecs codec equal to the Zarr array's codecs, or None when there is none, or False
    when they are not ones handled here."""
    import numcodecs
    from zarr.codecs import BloscCodec, BytesCodec, ZstdCodec

    if arr.metadata.zarr_format != 3 or arr.shards is not None or arr.filters:
        return False
    ser = arr.serializer
    if not isinstance(ser, BytesCodec) or (ser.endian is not None and ser.endian.value != "little"):
        return False
    comp = arr.compressors
    if not comp:
        return None
    if len(comp) != 1:
        return False
    c = comp[0]
    if isinstance(c, ZstdCodec):
        return numcodecs.Zstd(level=c.level, checksum=c.checksum)
    if isinstance(c, BloscCodec):
        shuffle = {"noshuffle": numcodecs.Blosc.NOSHUFFLE, "shuffle": numcodecs.Blosc.SHUFFLE,
                   "bitshuffle": numcodecs.Blosc.BITSHUFFLE}[c.shuffle.value]
        return numcodecs.Blosc(cname=c.cname.value, clevel=c.clevel, shuffle=shuffle,
                               blocksize=c.blocksize)
    return False


def _files(arr) -> ChunkFiles | None:
    from zarr.storage import LocalStore

    store = arr.store
    dtype = np.dtype(arr.dtype)
    if not isinstance(store, LocalStore) or dtype.kind != "f" or dtype.byteorder == ">":
        return None
    fill = arr.metadata.fill_value
    if fill is None or not np.isnan(fill):
        return None
    codec = _codec(arr)
    if codec is False:
        return None
    enc = arr.metadata.chunk_key_encoding
    return ChunkFiles(Path(store.root) / arr.path, tuple(arr.shape), tuple(arr.chunks), dtype, codec,
                      enc.encode_chunk_key)


_CF_SCALING = ("scale_factor", "add_offset", "missing_value", "valid_min", "valid_max", "valid_range")


def source(da) -> ChunkFiles | None:
    """The chunk files of ``da`` when it is a whole Zarr variable as ``xr.open_zarr`` opened it
    (see the module doc), else None."""
    import dask.array
    from xarray.backends.zarr import ZarrArrayWrapper

    data = da.data
    if not isinstance(data, dask.array.Array) or len(data.__dask_graph__().layers) != 2:
        return None
    if any(k in da.encoding for k in _CF_SCALING) or "units" in da.encoding or "calendar" in da.encoding:
        return None
    fill = da.encoding.get("_FillValue", np.nan)
    if fill is None or not (isinstance(fill, float | np.floating) and np.isnan(fill)):
        return None
    wrapper = None
    for layer in data.__dask_graph__().layers.values():
        for v in dict(layer).values():
            a = getattr(v, "array", None)  # ImplicitToExplicitIndexingAdapter -> CopyOnWriteArray
            a = getattr(a, "array", None)  # -> LazilyIndexedArray
            key = getattr(a, "key", None)
            inner = getattr(a, "array", None)
            if isinstance(inner, ZarrArrayWrapper):
                if key is None or any(k != slice(None) for k in key.tuple):
                    return None
                wrapper = inner
    if wrapper is None:
        return None
    arr = wrapper._array
    files = _files(arr)
    if (files is None or files.shape != tuple(data.shape) or np.dtype(data.dtype) != files.dtype
            or any(set(c[:-1]) - {cs} or c[-1] > cs for c, cs in zip(data.chunks, files.chunks))):
        return None
    return files


def sink(store_path, name: str) -> ChunkFiles | None:
    """The chunk files of the variable ``name`` of the (prepared) Zarr store at ``store_path``."""
    import zarr

    return _files(zarr.open_array(str(store_path), path=name, mode="r+"))
