"""The example notebook's analysis and dashboard (``notebooks/example.ipynb``).

A deliberately tiny, fast analysis used to exercise runs, publishing, the dashboards service and
the scheduler end to end. Its data are **synthetic** (global attribute ``synthetic = "yes"``):

- :func:`bloom` builds a monthly field ``bloom`` (units 1, dimensionless) on a 0.25° grid over a
  region's bounding box: a Gaussian patch of peak ``amplitude`` and e-folding radius 2° centred on
  the box centre that moves north by 0.5° per month, plus seeded Gaussian noise of standard
  deviation ``0.05 * amplitude``. Injected signal: the patch peak equals ``amplitude`` (up to the
  noise) and its latitude is ``lat_centre + 0.5 * month_index``.
- :func:`from_report` rebuilds the dashboard from a report folder (``<report>/example.zarr``):
  a month selector, the datashaded map (:func:`satco2.dashboards.maps.raster`) and a line with the
  selected month's maximum, so a change of the widget visibly changes both.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import SatCO2Error
from ..science import regions

PRODUCT = "example.zarr"
TITLE = "SatCO2 example: a synthetic drifting bloom"


def bloom(bbox, start: str, n_months: int, amplitude: float, seed: int = 0, res: float = 0.25) -> xr.Dataset:
    """Synthetic monthly field over ``bbox = (lon_min, lat_min, lon_max, lat_max)`` (degrees),
    ``n_months`` months from ``start`` (``YYYY-MM``); ``amplitude`` is the patch peak (units 1)."""
    lon_min, lat_min, lon_max, lat_max = map(float, bbox)
    lon = np.arange(lon_min + res / 2, lon_max, res)
    lat = np.arange(lat_min + res / 2, lat_max, res)
    time = pd.date_range(pd.Timestamp(start[:7]), periods=n_months, freq="MS") + pd.Timedelta(days=14)
    rng = np.random.default_rng(seed)
    lon0, lat0 = (lon_min + lon_max) / 2, (lat_min + lat_max) / 2
    LA, LO = np.meshgrid(lat, lon, indexing="ij")
    fields = []
    for i in range(n_months):
        r2 = (LO - lon0) ** 2 + (LA - (lat0 + 0.5 * i)) ** 2
        f = amplitude * np.exp(-r2 / 2.0**2) + rng.normal(0.0, 0.05 * amplitude, LA.shape)
        fields.append(f.astype("float32"))
    ds = xr.Dataset(
        {"bloom": (("time", "lat", "lon"), np.stack(fields), {"long_name": "synthetic bloom index", "units": "1"})},
        coords={
            "time": ("time", time, {"standard_name": "time"}),
            "lat": ("lat", lat, {"standard_name": "latitude", "units": "degrees_north", "axis": "Y"}),
            "lon": ("lon", lon, {"standard_name": "longitude", "units": "degrees_east", "axis": "X"}),
        },
        attrs={"synthetic": "yes", "title": TITLE, "product_id": "example-bloom-synthetic"},
    )
    return ds


def region_bbox(name: str) -> tuple[float, float, float, float]:
    """Bounding box of a named region (:func:`satco2.science.regions.bbox`)."""
    return tuple(map(float, regions.bbox(name)))


def _open(report_dir) -> xr.Dataset:
    p = Path(report_dir) / PRODUCT
    if not p.exists():
        raise SatCO2Error(f"the report folder {report_dir} has no {PRODUCT}; was it made by the example notebook?")
    return xr.open_zarr(p).load()


def dashboard(ds: xr.Dataset):
    """The Panel dashboard of an example Dataset (see the module docstring)."""
    import panel as pn

    from . import maps

    months = [pd.Timestamp(t).strftime("%Y-%m") for t in ds.time.values]
    select = pn.widgets.Select(label="Month", options=months, value=months[0])
    vmax = float(ds.bloom.max())

    def _map(month):
        da = ds.bloom.sel(time=month).squeeze(drop=True)
        return pn.pane.HoloViews(maps.raster(da, clim=(0, vmax), when=month), linked_axes=False)

    def _stats(month):
        da = ds.bloom.sel(time=month).squeeze(drop=True)
        peak = da.where(da == da.max(), drop=True)
        return pn.pane.Markdown(
            f"Month {month}: maximum {float(da.max()):.3f} at {float(peak.lat[0]):.2f}°N"
        )

    return pn.Column(
        pn.pane.Markdown(f"## {TITLE}\nSynthetic data (`synthetic = yes`)."),
        select,
        pn.bind(_stats, select),
        pn.bind(_map, select),
    )


def from_report(report_dir):
    """Rebuild the dashboard from a report folder written by ``notebooks/example.ipynb``."""
    return dashboard(_open(report_dir))
