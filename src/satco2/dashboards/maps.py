"""The one map component of every dashboard and the catalog browser.

- :func:`raster` - a (lat, lon) DataArray as a HoloViews image rasterized by datashader, with the
  land/coastline overlay on top; what a scientist expects of a map by default: axes on the data's
  own region (not on the land polygons around it), geographic aspect, the full title (wrapped,
  never cut) with units and date, a colourbar labelled with the units, robust colour limits (2-98
  percentiles; symmetric for signed anomalies and fluxes), a log colour scale for chlorophyll and
  a few readable degree ticks. Axes are named ``lon``/``lat`` so maps of one region link their
  zoom, and never share ranges with other plots of a dashboard.
- :func:`empty` - an honest empty state (a sized note instead of a plot).
- :func:`robust_clim`, :func:`extent`, :func:`map_title` - the pieces, for dashboards and tests.
- :func:`land` - the overlay alone: Natural Earth 1:50m land polygons (filled) and their outlines
  (coastlines), from ``satco2/data/ne_50m_land.geojson`` (shipped; nothing is downloaded, unlike
  cartopy/geoviews which fetch Natural Earth at run time).

Coordinates are found by :func:`satco2.cf.find` (cf-xarray's CF criteria: ``standard_name``,
``units``, ``axis`` Y/X, then its name guesses such as ``lat``/``lon``), among the 1-D coordinates.
"""
from __future__ import annotations

import functools
import textwrap

import numpy as np
import xarray as xr

from .. import SatCO2Error, cf
from ..demo.fields import land_polygons

LAND_COLOR = "#d9d4c7"
COAST_COLOR = "#444444"
#: variables drawn on a log colour scale by default (chlorophyll spans orders of magnitude)
LOG_STANDARD_NAMES = {"mass_concentration_of_chlorophyll_a_in_sea_water",
                      "mass_concentration_of_chlorophyll_in_sea_water"}
LOG_NAMES = {"chlor_a", "chl", "chla", "chlorophyll"}
CHAR_PX = 9.0  # width of one bold title character at 11pt (measured in chromium), for wrapping


def _coord(da: xr.DataArray, kind: str) -> str:
    std = {"lat": "latitude", "lon": "longitude"}[kind]
    name = cf.find(da, std, among=[n for n in da.coords if da[n].ndim == 1])
    if name is None:
        raise SatCO2Error(f"the map of {da.name!r} needs a {std} coordinate, found {list(da.coords)}.")
    return name


@functools.lru_cache(maxsize=32)
def _clipped(bbox: tuple[float, float, float, float] | None):
    import shapely
    from shapely.geometry import box

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
    kd = _kdims()
    coast = hv.Path([{"lon": p[:, 0], "lat": p[:, 1]} for p in paths], kdims=kd,
                    label="coastline").opts(color=COAST_COLOR, line_width=0.8)
    if not fill:
        return coast
    polys = hv.Polygons([{"lon": p[:, 0], "lat": p[:, 1]} for p in paths], kdims=kd,
                        label="land").opts(color=LAND_COLOR, line_alpha=0)
    return polys * coast


def _kdims():
    import holoviews as hv

    return [hv.Dimension("lon", label="longitude", unit="°E"), hv.Dimension("lat", label="latitude", unit="°N")]


def extent(da: xr.DataArray) -> tuple[float, float, float, float]:
    """``(lon_min, lat_min, lon_max, lat_max)`` of the grid cells of a (lat, lon) DataArray
    (cell centres +- half a step): the region a map of it shows."""
    out = []
    for kind in ("lon", "lat"):
        c = np.asarray(da[_coord(da, kind)].values, float)
        half = float(np.nanmedian(np.abs(np.diff(c)))) / 2 if c.size > 1 else 0.5
        out.append((float(np.nanmin(c)) - half, float(np.nanmax(c)) + half))
    return out[0][0], out[1][0], out[0][1], out[1][1]


def is_log_variable(da: xr.DataArray) -> bool:
    """True for chlorophyll (by CF standard name or variable name): drawn on a log colour scale."""
    name = str(da.name or "").lower()
    return da.attrs.get("standard_name") in LOG_STANDARD_NAMES or name in LOG_NAMES


def robust_clim(values, symmetric: bool = False, log: bool = False, q=(2, 98)) -> tuple[float, float] | None:
    """Colour limits from the ``q`` percentiles of the finite (positive, for ``log``) values;
    ``symmetric``: ``(-m, m)`` with ``m`` the larger magnitude. None when there is nothing to scale."""
    v = np.asarray(values, float).ravel()
    v = v[np.isfinite(v) & ((v > 0) if log else True)]
    if v.size == 0:
        return None
    lo, hi = (float(x) for x in np.percentile(v, q))
    if symmetric:
        m = max(abs(lo), abs(hi))
        return (-m, m) if m > 0 else None
    if hi <= lo:  # a constant field: a small band around it
        pad = abs(lo) * 0.05 or 1.0
        lo, hi = (lo / 1.5, lo * 1.5) if log else (lo - pad, hi + pad)
    return lo, hi


def units_label(da: xr.DataArray) -> str:
    u = str(da.attrs.get("units", "")).strip()
    return "" if u in ("", "1") else u


def map_title(what: str, units: str = "", when: str = "") -> str:
    """``"<what> (<units>), <when>"``: the title every map carries."""
    return what + (f" ({units})" if units else "") + (f", {when}" if when else "")


def wrap_title(title: str, width_px: int) -> str:
    """The title wrapped onto lines that fit ``width_px`` (Bokeh draws titles on one line and cuts)."""
    n = max(20, int(width_px / CHAR_PX))
    return "\n".join(textwrap.wrap(title, n)) or title


def _time_label(da: xr.DataArray) -> str:
    t = da.coords.get("time")
    if t is None or t.ndim != 0:
        return ""
    import pandas as pd

    return pd.Timestamp(t.values).strftime("%Y-%m-%d")


def raster(da: xr.DataArray, cmap: str = "viridis", clim=None, title: str | None = None,
           width: int = 600, height: int | None = None, logz: bool | None = None,
           land_overlay: bool = True, symmetric: bool = False, clabel: str | None = None,
           when: str | None = None):
    """A datashaded map of a 2D (lat, lon) DataArray with land and coastlines on top.

    Parameters
    ----------
    da
        The field; extra dimensions must be selected first (``da.isel(time=0)``).
    cmap, clim
        Colour map and limits ``(vmin, vmax)`` in the variable's units (default: the 2-98
        percentiles, see :func:`robust_clim`; ``symmetric`` centres them on 0).
    title
        Default ``"<long_name> (<units>), <date>"``; wrapped to the plot width, never cut.
    width, height
        Plot size in pixels; ``height`` defaults to the region's geographic aspect.
    logz
        Log colour scale; default: on for chlorophyll (:func:`is_log_variable`).
    clabel
        Colourbar label; default: the units ("dimensionless" for units 1, else the variable name).
    when
        Date label appended to the default title (default: the scalar ``time`` coordinate).
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
    name = str(da.name or "value")
    units = units_label(da)
    log = is_log_variable(da) if logz is None else bool(logz)
    if title is None:
        title = map_title(str(da.attrs.get("long_name", name)), units,
                          _time_label(da) if when is None else when)
    vals = np.asarray(da2.values, float)
    if log:
        vals = np.where(vals > 0, vals, np.nan)
    if clim is None:
        clim = robust_clim(vals, symmetric=symmetric, log=log)
    x0, y0, x1, y1 = extent(da2)
    frame_w = max(160, width - 130)  # room for the y axis and the colourbar
    if height is None:
        ratio = (y1 - y0) / max((x1 - x0) * np.cos(np.deg2rad((y0 + y1) / 2)), 1e-6)
        frame_h = int(np.clip(frame_w * ratio, 0.45 * frame_w, 1.5 * frame_w))
    else:
        frame_h = max(120, height - 90)
    vdim = hv.Dimension(name, label=str(da.attrs.get("long_name", name)), unit=units or None)
    img = hv.Image((da2[lon].values, da2[lat].values, vals), kdims=_kdims(), vdims=[vdim])
    opts = dict(cmap=cmap, colorbar=True, frame_width=frame_w, frame_height=frame_h,
                title=wrap_title(title, frame_w + 60), xlim=(x0, x1), ylim=(y0, y1),
                tools=["hover"], logz=log,
                clabel=(units or ("dimensionless" if str(da.attrs.get("units", "")).strip() == "1" else name))
                if clabel is None else clabel,
                xticks=5 if frame_w < 400 else 8, yticks=6, fontsize={"title": "11pt"},
                colorbar_opts={"width": 12}, shared_axes=False)
    if clim is not None:
        opts["clim"] = tuple(float(c) for c in clim)
    out = rasterize(img).opts(**opts)
    if land_overlay:
        out = out * land((x0, y0, x1, y1))
    return out.opts(title=opts["title"], xlim=(x0, x1), ylim=(y0, y1), shared_axes=False)


def empty(message: str, width: int = 420, height: int = 300):
    """An honest empty state: the sized note ``message`` where a plot would be (no axes drawn)."""
    import panel as pn

    return pn.pane.Alert(message, alert_type="light", width=width, height=min(height, 80))
