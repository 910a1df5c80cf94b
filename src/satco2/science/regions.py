"""Named regions from ``catalogs/regions.yaml`` and their masks on any lon/lat product grid.

- :func:`get` (name -> :class:`Region`), :func:`bbox`, :func:`names` (optionally of a group, e.g.
  ``bai2018``, the 12 Eurasian marginal seas of the trends study), :func:`mask` (fractional
  coverage of every grid cell, 0..1), :func:`masks` (several regions stacked on ``region``).
- Users' own polygons: :func:`from_geojson` reads a GeoJSON file (one feature, some features by
  name, or all), :func:`register` makes it available by name for the session; ``mask`` also takes
  a GeoJSON path directly.

Fractional coverage is exact up to floating point: the cell (a lon/lat rectangle between the
midpoints of neighbouring coordinates) is intersected with the polygon and the covered share of
its lon/lat area is returned (planar in degrees, which is the area share to within the cos(lat)
change across one cell). Cells fully inside or outside are classified first, tile by tile, on a
polygon clipped to the tile, so only the coastline cells pay for an intersection.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
import xarray as xr

from .. import SatCO2Error, config
from ..cf import coord_name
from ..config import PACKAGE_DIR

DATA_DIR = PACKAGE_DIR / "science" / "data" / "regions"

__all__ = ["Region", "get", "bbox", "names", "mask", "masks", "from_geojson", "register",
           "DATA_DIR"]


@dataclass(frozen=True)
class Region:
    """A named region: a shapely (Multi)Polygon in lon/lat degrees (WGS84, lon in -180..180)."""

    name: str
    title: str
    geometry: shapely.Geometry = field(repr=False)
    kind: str = "polygon"
    groups: tuple[str, ...] = ()
    source: str = ""

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(lon_min, lat_min, lon_max, lat_max) in degrees."""
        return tuple(float(v) for v in self.geometry.bounds)


_USER: dict[str, Region] = {}


def _registry_path() -> Path:
    return config.regions_file()


def _entries() -> dict:
    """The ``regions`` mapping of the region registry (``catalogs/regions.yaml``): the one reader
    of that file."""
    p = _registry_path()
    if not p.is_file():
        raise SatCO2Error(f"the region registry {p} is missing")
    regs = (config.load_yaml(p, "region registry") or {}).get("regions") or {}
    if not isinstance(regs, dict):
        raise SatCO2Error(f"the region registry {p} has no 'regions' mapping")
    return regs


@lru_cache(maxsize=16)
def _read_geojson(path: str) -> list[dict]:
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise SatCO2Error(f"the GeoJSON file {path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SatCO2Error(f"the file {path} is not valid GeoJSON ({e})") from None
    if doc.get("type") == "FeatureCollection":
        return doc.get("features") or []
    if doc.get("type") == "Feature":
        return [doc]
    if doc.get("type") in ("Polygon", "MultiPolygon"):
        return [{"type": "Feature", "properties": {}, "geometry": doc}]
    raise SatCO2Error(f"the GeoJSON file {path} holds no Polygon features")


def _union(features: list[dict], what: str) -> shapely.Geometry:
    geoms = []
    for f in features:
        g = f.get("geometry") or {}
        if g.get("type") not in ("Polygon", "MultiPolygon"):
            continue
        geoms.append(shapely.make_valid(shapely.geometry.shape(g)))
    if not geoms:
        raise SatCO2Error(f"{what} contains no Polygon or MultiPolygon geometry")
    geom = shapely.union_all(geoms)
    if geom.area == 0:
        raise SatCO2Error(f"{what} has zero area")
    return geom


def from_geojson(path, name: str | None = None, features=None, prop: str = "name",
                 title: str | None = None) -> Region:
    """A :class:`Region` from a GeoJSON file: the union of its polygons, or of those whose
    property ``prop`` is in ``features`` (a name or a list of names)."""
    path = Path(path).expanduser()
    feats = _read_geojson(str(path.resolve()))
    if features is not None:
        wanted = [features] if isinstance(features, str) else list(features)
        have = {str((f.get("properties") or {}).get(prop)) for f in feats}
        missing = [w for w in wanted if w not in have]
        if missing:
            raise SatCO2Error(f"the GeoJSON file {path} has no feature with {prop} = {missing[0]!r}")
        feats = [f for f in feats if str((f.get("properties") or {}).get(prop)) in wanted]
    name = name or path.stem
    geom = _union(feats, f"the GeoJSON file {path}")
    return Region(name=name, title=title or name, geometry=geom, kind="polygon",
                  source=str(path))


def register(region: Region) -> Region:
    """Make ``region`` available to :func:`get`/:func:`mask` by its name (this session only)."""
    _USER[region.name] = region
    return region


@lru_cache(maxsize=128)
def _build(name: str, entry_json: str) -> Region:
    e = json.loads(entry_json)
    kind = e.get("kind")
    title = e.get("title", name)
    groups = tuple(e.get("groups") or ())
    if kind == "box":
        try:
            x0, y0, x1, y1 = (float(v) for v in e["bbox"])
        except (KeyError, TypeError, ValueError):
            raise SatCO2Error(f"the region {name!r} in {_registry_path()} needs bbox: [lon_min, lat_min, lon_max, lat_max]") from None
        if not (x0 < x1 and y0 < y1):
            raise SatCO2Error(f"the region {name!r} has an empty bbox {e['bbox']}")
        return Region(name, title, shapely.box(x0, y0, x1, y1), "box", groups, "bbox")
    if kind == "polygon":
        f = Path(os.path.expanduser(str(e.get("file", ""))))
        path = f if f.is_absolute() else DATA_DIR / f
        r = from_geojson(path, name=name, features=e.get("features"), prop=e.get("property", "name"),
                         title=title)
        return Region(name, title, r.geometry, "polygon", groups, r.source)
    raise SatCO2Error(f"the region {name!r} in {_registry_path()} has unknown kind {kind!r} (box or polygon)")


def names(group: str | None = None) -> list[str]:
    """Region names in the registry (and registered user regions), optionally of one group."""
    ents = _entries()
    out = [n for n, e in ents.items() if group is None or group in (e.get("groups") or [])]
    out += [n for n, r in _USER.items() if n not in ents and (group is None or group in r.groups)]
    if group is not None and not out:
        raise SatCO2Error(f"no region belongs to the group {group!r}")
    return out


def get(name) -> Region:
    """The :class:`Region` called ``name`` (a registry entry, a registered user region, or a
    path to a GeoJSON file); unknown names raise :class:`SatCO2Error`."""
    if isinstance(name, Region):
        return name
    name = str(name)
    if name in _USER:
        return _USER[name]
    ents = _entries()
    if name in ents:
        return _build(name, json.dumps(ents[name], sort_keys=True))
    if name.lower().endswith((".geojson", ".json")) and Path(name).expanduser().is_file():
        return from_geojson(name)
    raise SatCO2Error(
        f"unknown region {name!r}; known regions are {', '.join(sorted(set(ents) | set(_USER)))}"
    )


def bbox(name) -> tuple[float, float, float, float]:
    """(lon_min, lat_min, lon_max, lat_max) of a region, degrees."""
    return get(name).bbox


# ----------------------------------------------------------------------------------------------
def _edges(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, dtype=np.float64)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = 0.5 * (c[1:] + c[:-1])
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def _coverage(geom, xe: np.ndarray, ye: np.ndarray, tile: int = 32) -> np.ndarray:
    """Fractional coverage (ny, nx) of cells [xe[i], xe[i+1]] x [ye[j], ye[j+1]] by ``geom``
    (xe, ye ascending)."""
    ny, nx = ye.size - 1, xe.size - 1
    out = np.zeros((ny, nx))
    gx0, gy0, gx1, gy1 = geom.bounds
    ix0 = max(0, int(np.searchsorted(xe, gx0, side="right")) - 1)
    ix1 = min(nx, int(np.searchsorted(xe, gx1, side="left")))
    iy0 = max(0, int(np.searchsorted(ye, gy0, side="right")) - 1)
    iy1 = min(ny, int(np.searchsorted(ye, gy1, side="left")))
    shapely.prepare(geom)
    for j0 in range(iy0, iy1, tile):
        j1 = min(iy1, j0 + tile)
        for i0 in range(ix0, ix1, tile):
            i1 = min(ix1, i0 + tile)
            tb = (xe[i0], ye[j0], xe[i1], ye[j1])
            piece = shapely.clip_by_rect(geom, *tb)
            if piece.is_empty or piece.area == 0:
                continue
            if abs(piece.area - (tb[2] - tb[0]) * (tb[3] - tb[1])) < 1e-12 * piece.area:
                out[j0:j1, i0:i1] = 1.0
                continue
            shapely.prepare(piece)
            X0, Y0 = np.meshgrid(xe[i0:i1], ye[j0:j1])
            X1, Y1 = np.meshgrid(xe[i0 + 1:i1 + 1], ye[j0 + 1:j1 + 1])
            boxes = shapely.box(X0, Y0, X1, Y1)
            inside = shapely.contains_properly(piece, boxes)
            touch = shapely.intersects(piece, boxes) & ~inside
            frac = inside.astype(np.float64)
            if touch.any():
                b = boxes[touch]
                frac[touch] = shapely.area(shapely.intersection(b, piece)) / shapely.area(b)
            out[j0:j1, i0:i1] = frac
    return np.clip(out, 0.0, 1.0)


def mask(name, ds) -> xr.DataArray:
    """Fractional coverage (0..1) of each cell of the lon/lat grid of ``ds`` by region ``name``.

    ``name``: a registry name, a :class:`Region`, or a GeoJSON path. ``ds``: a Dataset or
    DataArray with 1-D latitude/longitude coordinates (found by CF attributes); longitudes in
    0..360 are handled. Returns a float64 DataArray (lat, lon) named after the region.
    """
    region = get(name)
    latn, lonn = coord_name(ds, "latitude"), coord_name(ds, "longitude")
    lat = np.asarray(ds[latn].values, dtype=np.float64)
    lon = np.asarray(ds[lonn].values, dtype=np.float64)
    if lat.ndim != 1 or lon.ndim != 1:
        raise SatCO2Error("region masks need 1-D latitude and longitude coordinates")
    lon180 = ((lon + 180.0) % 360.0) - 180.0
    lat_order = np.argsort(lat)
    lon_order = np.argsort(lon180)
    xe = _edges(lon180[lon_order])
    ye = _edges(lat[lat_order])
    cov = _coverage(region.geometry, xe, ye)
    # back to the dataset's own order
    frac = np.empty_like(cov)
    frac[np.ix_(lat_order, lon_order)] = cov
    out = xr.DataArray(frac, dims=(latn, lonn), coords={latn: ds[latn], lonn: ds[lonn]},
                       name=region.name)
    out.attrs = {"long_name": f"fractional coverage by {region.title}", "units": "1",
                 "region": region.name, "source": region.source}
    return out


def masks(region_names, ds) -> xr.DataArray:
    """Masks of several regions stacked along a new ``region`` dimension."""
    ms = [mask(n, ds) for n in region_names]
    return xr.concat(ms, dim="region").assign_coords(region=[m.name for m in ms]).rename("coverage")
