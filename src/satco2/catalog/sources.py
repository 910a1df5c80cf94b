"""Where a product's bytes come from: ``demo``, ``mirror`` or ``upstream`` (registry dict).

Every source returns a lazy, dask-chunked, CF Dataset with coordinates ``time`` (when the
product has one), ``lat`` ascending and ``lon``; ``bbox=(lon_min, lat_min, lon_max, lat_max)``
and ``time=(start, end)`` select lazily (labels, inclusive). ``time`` is the start of each period
for every source (:func:`satco2.catalog.periods.to_period_start`, the rule ``satco2 ingest``
applies; the stamps it replaced are kept in the ``time_original`` attribute of ``time``).

- ``demo``: ``<demo_root>/<footprint>/<id>.zarr`` (layout: :mod:`satco2.catalog.store`); the footprint is chosen from the store's
  manifest: the one given, else among those holding the product the finest whose box contains
  ``bbox`` (then the finest that intersects it), else the first generator's.
- ``mirror``: ``<mirror_root>/<mirror.path>`` written by ``satco2 ingest`` (local path or fsspec
  URL); only committed time steps are shown.
- ``upstream``: the archive's files from the registry's URL templates, read by the product's
  reader, one dask task per file; an unreachable archive raises one sentence. The first file's
  stamps are read from it; the later files' are their URL periods' starts (not read when opening).
"""
from __future__ import annotations

import builtins
import threading
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import SatCO2Error, config
from . import readers, registry, store
from .footprints import FOOTPRINTS
from .periods import to_period_start

#: held while a reader reads an upstream file in a dask task: concurrent netCDF4-python reads in
#: two threads crash the process ("NetCDF: HDF error", then a segfault), as netCDF-C and HDF5 are
#: not thread-safe; the l3m decoder still uses every core inside one file
READ_LOCK = threading.Lock()

# --------------------------------------------------------------------------- selection


def _parse_time(t, product_id) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    if t is None:
        return None, None
    if isinstance(t, (str, pd.Timestamp, np.datetime64)):
        t = (t, t)
    try:
        start, end = t
    except (TypeError, ValueError):
        raise SatCO2Error(f"time must be (start, end) for {product_id}, got {t!r}.") from None

    def one(x, is_end):
        if x is None:
            return None
        try:
            ts = pd.Timestamp(x)
        except (ValueError, TypeError):
            raise SatCO2Error(f"time value {x!r} for {product_id} is not a date.") from None
        s = str(x)
        if is_end and isinstance(x, str) and len(s) == 7:  # YYYY-MM: through the month's end
            ts = ts + pd.offsets.MonthEnd(0) + pd.Timedelta(hours=23, minutes=59, seconds=59)
        elif is_end and isinstance(x, str) and len(s) == 4:
            ts = pd.Timestamp(f"{s}-12-31T23:59:59")
        return ts

    a, b = one(start, False), one(end, True)
    if a is not None and b is not None and a > b:
        raise SatCO2Error(f"time range for {product_id} starts after it ends ({start} > {end}).")
    return a, b


def _check_bbox(bbox, product_id):
    if bbox is None:
        return None
    try:
        b = tuple(float(x) for x in bbox)
    except (TypeError, ValueError):
        raise SatCO2Error(f"bbox for {product_id} must be 4 numbers (lon_min, lat_min, lon_max, lat_max), got {bbox!r}.") from None
    if len(b) != 4 or b[0] > b[2] or b[1] > b[3]:
        raise SatCO2Error(
            f"bbox for {product_id} must be (lon_min, lat_min, lon_max, lat_max) with min <= max, got {bbox!r}."
        )
    return b


def select(ds: xr.Dataset, product_id: str, bbox=None, time=None, where: str = "") -> xr.Dataset:
    """Lazy label selection of ``bbox`` and ``time``; errors when nothing is left."""
    b = _check_bbox(bbox, product_id)
    if b is not None and "lat" in ds.dims and "lon" in ds.dims:
        lat, lon = ds["lat"].values, ds["lon"].values
        lo, la = (lon >= b[0]) & (lon <= b[2]), (lat >= b[1]) & (lat <= b[3])
        if not lo.any() or not la.any():
            raise SatCO2Error(
                f"bbox {b} is outside the coverage of {product_id}{where} "
                f"(lon {lon.min():.2f}..{lon.max():.2f}, lat {lat.min():.2f}..{lat.max():.2f})."
            )
        ds = ds.isel(lon=np.nonzero(lo)[0], lat=np.nonzero(la)[0])
    t0, t1 = _parse_time(time, product_id)
    if (t0 is not None or t1 is not None) and "time" in ds.dims:
        tv = pd.DatetimeIndex(ds["time"].values)
        keep = np.ones(tv.size, bool)
        if t0 is not None:
            keep &= tv >= t0
        if t1 is not None:
            keep &= tv <= t1
        if not keep.any():
            span = f"{tv.min().date()}..{tv.max().date()}" if tv.size else "nothing"
            raise SatCO2Error(f"time {time} is outside the coverage of {product_id}{where} ({span}).")
        ds = ds.isel(time=np.nonzero(keep)[0])
    return ds


def _open_zarr(store, where: str, consolidated=True) -> xr.Dataset:
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            return xr.open_zarr(store, consolidated=consolidated, chunks={})
    except (FileNotFoundError, KeyError, OSError, ValueError) as e:
        raise SatCO2Error(f"cannot open the Zarr store {where} ({type(e).__name__}: {e}).") from None


def _tidy(ds: xr.Dataset, product, where: str = "") -> xr.Dataset:
    """Every source's Dataset in the registry's layout: ``time`` at the start of each period
    (:func:`satco2.catalog.periods.to_period_start`, the rule ``satco2 ingest`` applies; the
    replaced stamps in the ``time_original`` attribute of ``time``), ascending ``time`` and
    ``lat``."""
    ds, _ = to_period_start(ds, product, f"{product.id}{where}")
    if "time" in ds.dims and ds.sizes["time"] > 1:
        t = ds["time"].values
        if np.any(t[1:] < t[:-1]):
            ds = ds.isel(time=np.argsort(t, kind="stable"))
    if "lat" in ds.dims and ds.sizes["lat"] > 1 and ds["lat"].values[0] > ds["lat"].values[-1]:
        ds = ds.isel(lat=slice(None, None, -1))
    return ds


# --------------------------------------------------------------------------- sources
class Source:
    """A place a product's bytes come from. Subclasses implement ``open`` and ``coverage``."""

    name = "base"

    def open(self, product, bbox=None, time=None, footprint=None, **kw) -> xr.Dataset:
        raise NotImplementedError

    def coverage(self, product, **kw):
        ds = self.open(product, **kw)
        if "time" not in ds.dims or ds.sizes["time"] == 0:
            return (None, None)
        t = pd.DatetimeIndex(ds["time"].values)
        return (t.min(), t.max())


class DemoSource(Source):
    name = "demo"

    def footprints(self, product_id: str, root: Path) -> list[str]:
        fps = store.products_in_store(root).get(product_id, [])
        return [f for f in fps if store.zarr_complete(store.demo_product_path(root, f, product_id))]

    def choose(self, product_id: str, bbox, footprint, root: Path) -> str:
        fps = self.footprints(product_id, root)
        if not fps:
            raise SatCO2Error(
                f"product {product_id} is not in the demo store {root}; build it with `satco2 demo`."
            )
        if footprint is not None:
            if footprint not in fps:
                raise SatCO2Error(
                    f"the demo footprint {footprint!r} does not hold {product_id} (it is in: {', '.join(fps)})."
                )
            return footprint
        b = _check_bbox(bbox, product_id)
        if b is None:
            return fps[0]

        def box(f):
            return FOOTPRINTS[f].bbox if f in FOOTPRINTS else (-180, -90, 180, 90)

        def step(f):
            return FOOTPRINTS[f].step if f in FOOTPRINTS else 1e9

        contains = [f for f in fps if box(f)[0] <= b[0] and box(f)[1] <= b[1] and box(f)[2] >= b[2] and box(f)[3] >= b[3]]
        inter = [f for f in fps if box(f)[0] < b[2] and box(f)[2] > b[0] and box(f)[1] < b[3] and box(f)[3] > b[1]]
        for group in (contains, inter):
            if group:
                return sorted(group, key=step)[0]
        raise SatCO2Error(f"bbox {b} is outside every demo footprint holding {product_id} ({', '.join(fps)}).")

    def open(self, product, bbox=None, time=None, footprint=None, root=None, **kw):
        root = Path(root) if root else config.demo_root()
        fp = self.choose(product.id, bbox, footprint, root)
        path = store.demo_product_path(root, fp, product.id)
        ds = _open_zarr(path, str(path))
        where = f" in the demo footprint {fp}"
        return select(_tidy(ds, product, where), product.id, bbox, time, where)


class MirrorSource(Source):
    name = "mirror"

    def open(self, product, bbox=None, time=None, footprint=None, root=None, **kw):
        loc = store.mirror_url(product.id, root)
        if not store.store_exists(loc):
            raise SatCO2Error(
                f"product {product.id} has no mirror at {loc}; create it with `satco2 ingest {product.id} FILES`."
            )
        ds = _open_zarr(store.zarr_store(loc, read_only=True), loc, consolidated=False)
        led = ds.attrs.get(store.LEDGER)
        if not led:
            raise SatCO2Error(f"the mirror {loc} has no committed file yet; rerun `satco2 ingest {product.id}`.")
        n = int(led["n_time"])
        if "time" in ds.dims and ds.sizes["time"] != n:
            ds = ds.isel(time=slice(0, n))  # uncommitted steps of an interrupted ingest
        ds.attrs = {k: v for k, v in ds.attrs.items() if k != store.LEDGER}
        ds.attrs["mirror_files"] = len(led["files"])
        return select(_tidy(ds, product, f" in the mirror {loc}"), product.id, bbox, time, f" in the mirror {loc}")


def _periods(freq: str, start: pd.Timestamp, end: pd.Timestamp) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    rule = {"monthly": "MS", "daily": "D", "6-hourly": "D", "hourly": "h", "8 per day": "h",
            "annual": "YS", "static": None}.get(freq)
    if rule is None:
        return [(start, end)]
    starts = pd.date_range(start.normalize() if rule != "h" else start, end, freq=rule)
    if rule == "MS" and len(starts) == 0:
        starts = pd.DatetimeIndex([start.normalize().replace(day=1)])
    out = []
    for s in starts:
        e = {"MS": s + pd.offsets.MonthEnd(0), "D": s, "h": s, "YS": s + pd.offsets.YearEnd(0)}[rule]
        out.append((s, e))
    return out


def upstream_cache() -> Path:
    """Folder of downloaded upstream files: ``$SATCO2_UPSTREAM_CACHE``, else the user's own
    ``$XDG_CACHE_HOME/satco2/upstream`` (``~/.cache/satco2/upstream``): per user, because a
    shared folder written by one hub user is not writable by the others."""
    return config.upstream_cache()


class UpstreamSource(Source):
    """Files of the archive from the registry's URL templates (``urls`` overrides them)."""

    name = "upstream"
    PREFERRED = ("monthly", "daily", "6-hourly", "annual", "hourly", "8 per day")

    def urls(self, product, time, frequency=None, templates=None) -> list[str]:
        templates = templates or product["upstream"]["urls"]
        if not templates:
            raise SatCO2Error(
                f"product {product.id} has no upstream URL: {product['upstream'].get('notes', 'no public archive')}."
            )
        freq = frequency or next((f for f in self.PREFERRED if f in templates), next(iter(templates)))
        if freq not in templates:
            raise SatCO2Error(f"product {product.id} has no upstream {freq} files (it has {', '.join(templates)}).")
        t0, t1 = _parse_time(time, product.id)
        if t0 is None or t1 is None:
            raise SatCO2Error(f"opening {product.id} from upstream needs time=(start, end).")
        tpl = templates[freq]
        out = []
        for s, e in _periods(freq, t0, t1):
            try:
                out.append(tpl.format(start=s, end=e, time=s))
            except (KeyError, IndexError, ValueError) as err:
                raise SatCO2Error(f"the URL template of {product.id} is malformed ({err}).") from None
        return list(dict.fromkeys(out))

    def fetch(self, url: str, cache: Path) -> Path:
        import fsspec

        name = url.rstrip("/").rsplit("/", 1)[-1].split("?")[-1].split("=")[-1]
        dest = cache / name
        if dest.exists():
            return dest
        tmp = dest.with_name(f".{dest.name}.part")
        try:
            cache.mkdir(parents=True, exist_ok=True)
            with fsspec.open(url, "rb") as src, builtins.open(tmp, "wb") as out:
                while chunk := src.read(8 * 2**20):
                    out.write(chunk)
        except PermissionError:
            raise SatCO2Error(f"the upstream cache {cache} is not writable by you; pass cache= a folder "
                              "of yours or set SATCO2_UPSTREAM_CACHE.") from None
        except Exception as e:  # network errors come in many types (aiohttp, OSError, ...)
            tmp.unlink(missing_ok=True)
            raise SatCO2Error(f"the upstream archive is unreachable or lacks {url} ({type(e).__name__}: {e}).") from None
        tmp.replace(dest)
        return dest

    def open(self, product, bbox=None, time=None, footprint=None, frequency=None, urls=None,
             cache=None, **kw):
        import dask
        import dask.array

        rd = readers.get(product.reader)
        links = self.urls(product, time, frequency, urls)
        cache = Path(cache) if cache else upstream_cache() / product.id
        first = rd.open_file(self.fetch(links[0], cache), product)  # fails fast, gives the layout

        def load(url):
            path = self.fetch(url, cache)  # downloads may overlap
            with READ_LOCK:  # netCDF-C/HDF5 is not thread-safe: one file read at a time
                return rd.open_file(path, product)

        parts = [first.chunk()]
        for url in links[1:]:
            d = dask.delayed(load)(url)
            parts.append(xr.Dataset({
                v: xr.DataArray(
                    dask.array.from_delayed(dask.delayed(lambda x, v=v: x[v].values)(d),
                                            shape=first[v].shape, dtype=first[v].dtype),
                    dims=first[v].dims, attrs=first[v].attrs)
                for v in first.data_vars
            }, coords={c: first[c] for c in first.coords if c != "time"}))
        # time of the later files follows from the URL periods (one step per file)
        if len(parts) > 1:
            freq = frequency or next((f for f in self.PREFERRED if f in (urls or product["upstream"]["urls"])), None)
            t0, t1 = _parse_time(time, product.id)
            starts = [s for s, _ in _periods(freq, t0, t1)]
            for i, part in enumerate(parts[1:], start=1):
                parts[i] = part.assign_coords(time=[starts[i]])
        ds = xr.concat(parts, dim="time", combine_attrs="override") if len(parts) > 1 else parts[0]
        ds.attrs["source_urls"] = len(links)
        return select(_tidy(ds, product, " upstream"), product.id, bbox, time, " upstream")

    def coverage(self, product, **kw):
        tc = product["time_coverage"]
        if not tc["start"]:
            return (None, None)
        end = pd.Timestamp.now().normalize() if tc["end"] in (None, "present") else pd.Timestamp(tc["end"]) + pd.offsets.MonthEnd(0)
        return (pd.Timestamp(tc["start"]), end)


SOURCES: dict[str, Source] = {s.name: s for s in (DemoSource(), MirrorSource(), UpstreamSource())}


def _source(name: str) -> Source:
    if name not in SOURCES:
        raise SatCO2Error(f"unknown source {name!r}; choose one of {', '.join(SOURCES)}.")
    return SOURCES[name]


def open(product_id: str, source: str = "demo", bbox=None, time=None, footprint=None, **kw) -> xr.Dataset:  # noqa: A001
    """``product_id`` as a lazy, dask-chunked CF Dataset from ``source`` (demo|mirror|upstream).

    ``bbox=(lon_min, lat_min, lon_max, lat_max)`` in degrees, ``time=(start, end)`` (dates or
    ``YYYY-MM``, inclusive); ``footprint`` picks a demo footprint; ``root`` overrides the demo or
    mirror root; ``urls``/``frequency`` override the upstream URL templates.
    """
    product = registry.get(product_id)
    ds = _source(source).open(product, bbox=bbox, time=time, footprint=footprint, **kw)
    for name, meta in product.variables.items():  # the registry fills CF attributes a store lacks
        if name in ds:
            for k, v in meta.items():
                if k not in ("source_name", "source_units"):
                    ds[name].attrs.setdefault(k, v)
    ds.attrs.setdefault("product_id", product_id)
    ds.attrs["catalog_source"] = source
    return ds


def coverage(product_id: str, source: str = "demo", **kw):
    """``(start, end)`` timestamps that ``source`` holds for ``product_id`` (None for static)."""
    product = registry.get(product_id)
    return _source(source).coverage(product, **kw)
