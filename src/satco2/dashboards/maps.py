"""Shared map pieces: datashaded rasters with land and coastlines drawn offline.

- :func:`raster` - a (lat, lon) DataArray as a HoloViews image rasterized by datashader, with the
  land/coastline overlay on top.
- :func:`land` - the overlay alone: Natural Earth 1:50m land polygons (filled) and their outlines
  (coastlines), from ``satco2/data/ne_50m_land.geojson`` (shipped; nothing is downloaded, unlike
  cartopy/geoviews which fetch Natural Earth at run time).

Coordinates are found through CF attributes (``standard_name`` latitude/longitude, or ``axis``
Y/X), falling back to the names ``lat``/``lon``.
"""
from __future__ import annotations

import functools

import numpy as np
import xarray as xr

from .. import SatCO2Error

LAND_COLOR = "#d9d4c7"
COAST_COLOR = "#444444"


def _coord(da: xr.DataArray, kind: str) -> str:
    std = {"lat": "latitude", "lon": "longitude"}[kind]
    axis = {"lat": "Y", "lon": "X"}[kind]
    for name, c in da.coords.items():
        if c.attrs.get("standard_name") == std or c.attrs.get("axis") == axis:
            if c.ndim == 1:
                return name
    for name in (kind, {"lat": "latitude", "lon": "longitude"}[kind]):
        if name in da.coords:
            return name
    raise SatCO2Error(f"the map of {da.name!r} needs a {std} coordinate, found {list(da.coords)}.")


@functools.lru_cache(maxsize=32)
def _clipped(bbox: tuple[float, float, float, float] | None):
    import shapely
    from shapely.geometry import box

    from ..demo.fields import land_polygons

    polys = land_polygons()
    if bbox is None:
        return polys
    b = box(*bbox)
    out = []
    for p in polys:
        if not p.intersects(b):
            continue
        c = p if b.contains(p) else shapely.intersection(p, b)
        out.extend(g for g in getattr(c, "geoms", [c]) if g.geom_type == "Polygon" and not g.is_empty)
    return tuple(out)


def land_paths(bbox=None) -> list[np.ndarray]:
    """Coastlines: (n, 2) lon/lat arrays of the land polygons' exteriors (clipped to ``bbox``)."""
    bb = tuple(float(x) for x in bbox) if bbox is not None else None
    return [np.asarray(p.exterior.coords) for p in _clipped(bb)]


def land(bbox=None, fill: bool = True):
    """Land (filled polygons) and coastline (paths) overlay, optionally clipped to
    ``bbox = (lon_min, lat_min, lon_max, lat_max)`` in degrees."""
    import holoviews as hv
    import holoviews.plotting.bokeh  # noqa: F401

    paths = land_paths(bbox)
    coast = hv.Path([{"x": p[:, 0], "y": p[:, 1]} for p in paths], kdims=["x", "y"],
                    label="coastline").opts(color=COAST_COLOR, line_width=0.8)
    if not fill:
        return coast
    polys = hv.Polygons([{"x": p[:, 0], "y": p[:, 1]} for p in paths], kdims=["x", "y"],
                        label="land").opts(color=LAND_COLOR, line_alpha=0)
    return polys * coast


def raster(da: xr.DataArray, cmap: str = "viridis", clim=None, title: str | None = None,
           width: int = 600, height: int = 450, logz: bool = False, land_overlay: bool = True):
    """A datashaded map of a 2D (lat, lon) DataArray with land and coastlines on top.

    ``clim`` = (vmin, vmax) in the variable's units; ``title`` defaults to the long_name and
    units. Extra dimensions must be selected first (``da.isel(time=0)``).
    """
    import holoviews as hv
    from holoviews.operation.datashader import rasterize

    import holoviews.plotting.bokeh  # noqa: F401  (registers the bokeh backend's options)
    lat, lon = _coord(da, "lat"), _coord(da, "lon")
    extra = [d for d in da.dims if d not in (da[lat].dims[0], da[lon].dims[0])]
    if extra:
        raise SatCO2Error(
            f"a map needs a 2D (lat, lon) field but {da.name!r} also has dimensions {extra}; "
            "select one value of them first."
        )
    da2 = da.transpose(da[lat].dims[0], da[lon].dims[0])
    name = da.name or "value"
    units = da.attrs.get("units", "")
    if title is None:
        title = f"{da.attrs.get('long_name', name)}" + (f" ({units})" if units else "")
    vals = da2.values
    img = hv.Image(
        (da2[lon].values, da2[lat].values, vals), kdims=["x", "y"], vdims=[str(name)]
    )
    opts = dict(cmap=cmap, colorbar=True, width=width, height=height, title=title,
                xlabel="longitude (°E)", ylabel="latitude (°N)", tools=["hover"], logz=logz)
    if clim is not None:
        opts["clim"] = tuple(clim)
    out = rasterize(img).opts(**opts)
    if land_overlay:
        lo = np.nanmin(da2[lon].values), np.nanmax(da2[lon].values)
        la = np.nanmin(da2[lat].values), np.nanmax(da2[lat].values)
        pad = 1.0
        out = out * land((lo[0] - pad, la[0] - pad, lo[1] + pad, la[1] + pad))
    return out.opts(title=title) if hasattr(out, "opts") else out
