"""Writers of synthetic files in upstream formats, for tests and benchmarks (labelled synthetic).

- :func:`write_l3m` - a global NASA OBPG L3m-format NetCDF4 file (read by
  :mod:`satco2.catalog.readers.l3m`)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import SatCO2Error
from ..catalog.readers.l3m import nominal_period
from ..demo import fields


def write_l3m(path, nlat: int = 4320, seed: int = 0, var: str = "chlor_a", period=None,
              complevel: int = 4) -> "Path":
    """Write a SYNTHETIC global L3m-format file (for tests and benchmarks; labelled synthetic).

    Layout as OBPG's ``l3mapgen`` output: ``lat`` descending (nlat), ``lon`` ascending (2 nlat),
    float32 ``chlor_a``-like variable with ``_FillValue`` -32767, 64x64... chunks, zlib level
    ``complevel``; ``time_coverage_start/end`` from ``period`` (default: from the file name).
    Values: a smooth log-normal field (median ~0.3 mg m-3) with ~40 % fill (clouds and land).
    """
    import netCDF4

    path = Path(path)
    nlon = 2 * nlat
    step = 180.0 / nlat
    lat = (90.0 - step / 2 - step * np.arange(nlat)).astype(np.float32)
    lon = (-180.0 + step / 2 + step * np.arange(nlon)).astype(np.float32)
    coarse = fields.smooth_field((max(4, nlat // 64), max(8, nlon // 64)), seed, 3)
    f = fields._zoom_to(coarse, (nlat, nlon)).astype(np.float32)
    vals = np.exp(np.log(0.3) + 0.8 * f).astype(np.float32)
    gaps = fields._zoom_to(fields.smooth_field((max(4, nlat // 32), max(8, nlon // 32)), seed, 2, "gap"),
                           (nlat, nlon)) > 0.25
    vals[gaps] = -32767.0
    if period is None:
        try:
            start, end = nominal_period(path.name, {})
        except SatCO2Error:
            start, end = pd.Timestamp("2000-01-01"), None
    else:
        start, end = (pd.Timestamp(period[0]), pd.Timestamp(period[1]))
    end = end if end is not None else start
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        nc.setncatts({
            "title": "SYNTHETIC L3m-format test file (SatCO2 Hub); not NASA data",
            "synthetic": "yes", "product_name": path.name, "instrument": "synthetic",
            "platform": "synthetic", "map_projection": "Equidistant Cylindrical",
            "time_coverage_start": f"{start:%Y-%m-%dT00:00:00.000Z}",
            "time_coverage_end": f"{end:%Y-%m-%dT23:59:59.000Z}",
        })
        nc.createDimension("lat", nlat)
        nc.createDimension("lon", nlon)
        vlat = nc.createVariable("lat", "f4", ("lat",))
        vlat[:] = lat
        vlat.setncatts({"units": "degrees_north", "standard_name": "latitude"})
        vlon = nc.createVariable("lon", "f4", ("lon",))
        vlon[:] = lon
        vlon.setncatts({"units": "degrees_east", "standard_name": "longitude"})
        v = nc.createVariable(var, "f4", ("lat", "lon"), zlib=True, complevel=complevel,
                              chunksizes=(min(nlat, 256), min(nlon, 512)), fill_value=np.float32(-32767.0))
        v.setncatts({"long_name": "SYNTHETIC chlorophyll-like field", "units": "mg m^-3",
                     "valid_min": np.float32(0.001), "valid_max": np.float32(100.0)})
        v.set_auto_maskandscale(False)
        v[:] = vals
    return path
