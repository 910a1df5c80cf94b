"""The example notebook's analysis (``notebooks/example.ipynb``): a deliberately tiny, fast
workflow used to exercise runs, publishing, the dashboards service and the scheduler end to end.
Its data are **synthetic** (global attribute ``synthetic = "yes"``):

- :func:`bloom` builds a monthly field ``bloom`` (units 1, dimensionless) on a 0.25° grid over a
  region's bounding box: a Gaussian patch of peak ``amplitude`` and e-folding radius 2° centred on
  the box centre that moves north by 0.5° per month, plus seeded Gaussian noise of standard
  deviation ``0.05 * amplitude``. Injected signal: the patch peak equals ``amplitude`` (up to the
  noise) and its latitude is ``lat_centre + 0.5 * month_index``.
- :func:`region_bbox` is the bounding box of a named region of ``catalogs/regions.yaml``.
- The notebook writes the field to ``<report>/example.zarr`` (:data:`PRODUCT`), from which
  :func:`satco2.dashboards.example.from_report` rebuilds the dashboard.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

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
