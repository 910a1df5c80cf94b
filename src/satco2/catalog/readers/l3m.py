"""NASA OBPG Level-3 mapped (L3m) NetCDF4 files: global or regional ("x_" extractions) grids.

Files look like ``AQUA_MODIS.20210101_20211231.L3m.YR.CHL.x_chlor_a.nc`` (new naming),
``S20092742009304.L3m_MO_CHL_chlor_a_9km.nc`` (old naming: sensor letter, start and end as
YYYYDDD). One 2D variable per file (lat descending, lon ascending), packed int16 with
``scale_factor``/``add_offset`` for some products, ``_FillValue`` and ``valid_min/max``.

Decoding equals netCDF4-python's automatic masking and scaling (fill values and values outside
``valid_min``..``valid_max`` become NaN); the data of NetCDF4 files are decoded by
:func:`satco2.catalog.readers.hdf5_chunks.read_2d` (compressed chunks inflated in parallel
threads, ~4x faster on 2 cores), with netCDF4-python as the fallback for layouts it does not
handle; ``time`` is the nominal start of the period taken from
the file name, else from the ``time_coverage_start`` attribute.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import xarray as xr

from ... import SatCO2Error
from . import hdf5_chunks
from .base import Reader, finish, normalise_units

# OBPG names of mapped (L3m) and binned (L3b) files, new and old style
_NEW = re.compile(r"\.(\d{8})(?:_(\d{8}))?\.L3[mb]\.")
_OLD = re.compile(r"^[A-Z](\d{7})(\d{7})?\.L3[mb]_")


def nominal_period(name: str, attrs: dict) -> tuple[pd.Timestamp, pd.Timestamp | None]:
    """(start, end) of the file's nominal period from its name, else from its attributes."""
    m = _NEW.search(name)
    if m:
        return pd.Timestamp(m.group(1)), (pd.Timestamp(m.group(2)) if m.group(2) else None)
    m = _OLD.search(name)
    if m:
        start = pd.to_datetime(m.group(1), format="%Y%j")
        end = pd.to_datetime(m.group(2), format="%Y%j") if m.group(2) else None
        return start, end
    if "time_coverage_start" in attrs:
        start = pd.Timestamp(attrs["time_coverage_start"]).tz_localize(None)
        end = attrs.get("time_coverage_end")
        return start.normalize(), (pd.Timestamp(end).tz_localize(None) if end else None)
    raise SatCO2Error(
        f"file {name}: cannot tell its time (no date in the name and no time_coverage_start "
        "attribute)."
    )


class L3mReader(Reader):
    name = "l3m"
    format = "NASA OBPG Level-3 mapped NetCDF4 (L3m)"

    def open_file(self, path, product) -> xr.Dataset:
        import netCDF4

        p = self.check_file(path)
        try:
            nc = netCDF4.Dataset(p)
        except OSError as e:
            raise SatCO2Error(f"file {p.name} is not a readable NetCDF file ({e}).") from None
        try:
            attrs = {k: nc.getncattr(k) for k in nc.ncattrs()}
            if "level-3_binned_data" in nc.groups:
                raise SatCO2Error(
                    f"file {p.name} is a Level-3 binned (L3b) file, not a mapped L3m file; use "
                    "the l3b reader or the OBPG L3m product instead."
                )
            if "lat" not in nc.variables or "lon" not in nc.variables:
                raise SatCO2Error(f"file {p.name} has no lat/lon coordinates, so it is not an L3m file.")
            lat = np.asarray(nc.variables["lat"][:], dtype=np.float64)
            lon = np.asarray(nc.variables["lon"][:], dtype=np.float64)
            start, end = nominal_period(p.name, attrs)
            flip = lat.size > 1 and lat[0] > lat[-1]  # OBPG grids run north to south
            lat = lat[::-1].copy() if flip else lat
            fast = nc.data_model == "NETCDF4"
            data_vars = {}
            for name, meta in product.variables.items():
                src = meta.get("source_name", name)
                if src not in nc.variables:
                    raise SatCO2Error(
                        f"file {p.name} has no variable {src} needed by product {product.id} "
                        f"(it has {', '.join(v for v in nc.variables if v not in ('lat', 'lon', 'palette'))})."
                    )
                v = nc.variables[src]
                if v.dimensions != ("lat", "lon"):
                    raise SatCO2Error(f"file {p.name}: variable {src} has dimensions {v.dimensions}, expected (lat, lon).")
                # fast path: chunks inflated in parallel threads, lat flipped while decoding;
                # None when it does not apply -> netCDF4-python (same values, same errors)
                vals = hdf5_chunks.read_2d(p, src, flip_rows=flip) if fast else None
                if vals is None:
                    v.set_auto_maskandscale(True)
                    try:
                        arr = v[:]
                    except (RuntimeError, OSError) as e:
                        raise SatCO2Error(f"file {p.name}: variable {src} cannot be read, the file is corrupt ({e}).") from None
                    vals = np.ma.filled(np.ma.asarray(arr).astype(np.float32), np.nan)
                    vals = vals[::-1] if flip else vals
                vals = self.convert(vals, normalise_units(v.getncattr("units")) if "units" in v.ncattrs() else "",
                                    meta.get("source_units") or meta["units"], p, src)
                a = {k: v.getncattr(k) for k in ("long_name", "reference") if k in v.ncattrs()}
                data_vars[name] = (("time", "lat", "lon"), vals[None], a)
        finally:
            nc.close()
        ds = xr.Dataset(data_vars, coords={"time": [start], "lat": lat, "lon": lon})
        extra = {k: str(attrs[k]) for k in ("instrument", "platform", "processing_version",
                                             "time_coverage_start", "time_coverage_end",
                                             "temporal_range", "spatialResolution") if k in attrs}
        if end is not None:
            extra["period_end"] = str(end.date())
        return finish(ds, product, p, extra)
