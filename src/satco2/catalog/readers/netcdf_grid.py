"""CF gridded NetCDF files (NOAA OISST/ERSST, RSS CCMP/SMAP, CATDS SMOS, OC-CCI, GHRSST, NCEP,
ERA5 from the Copernicus CDS, whose ``valid_time`` dimension is read as ``time``).

Read with xarray (CF decoding of scale/offset, fill values and time). The product's variables
are found by their ``source_name``; latitude/longitude by :func:`satco2.cf.find`
(cf-xarray's CF criteria, then names) among the file's dimensions; a ``time`` dimension is required (files without one get their time
from ``time_coverage_start``). Extra singleton dimensions (``zlev`` in OISST) are dropped.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ... import SatCO2Error, cf
from .base import Reader, finish

class NetCDFGridReader(Reader):
    name = "netcdf_grid"
    format = "CF gridded NetCDF3/4"

    def open_file(self, path, product) -> xr.Dataset:
        p = self.check_file(path)
        try:
            src = xr.open_dataset(p, engine="netcdf4", decode_times=True, mask_and_scale=True)
        except (OSError, ValueError) as e:
            if p.suffix.lower() == ".csv":
                raise SatCO2Error(f"file {p.name} is a CSV file, not NetCDF; read a point time series "
                                  "with the point_csv reader (satco2 ingest --reader point_csv).") from None
            raise SatCO2Error(f"file {p.name} is not a readable NetCDF file ({e}).") from None
        if "time" not in src.dims and "valid_time" in src.dims:  # the new CDS's ERA5 files
            src = src.rename({"valid_time": "time"})
        with src:
            lat = cf.find(src, "latitude", among=src.dims)
            lon = cf.find(src, "longitude", among=src.dims)
            if lat is None or lon is None:
                raise SatCO2Error(f"file {p.name} has no latitude/longitude coordinates.")
            out = {}
            for name, meta in product.variables.items():
                s = meta.get("source_name", name)
                if s not in src.variables:
                    raise SatCO2Error(
                        f"file {p.name} has no variable {s} needed by product {product.id} "
                        f"(it has {', '.join(map(str, src.data_vars))})."
                    )
                da = src[s]
                for d in list(da.dims):
                    if d not in (lat, lon, "time") and da.sizes[d] == 1:
                        da = da.isel({d: 0}, drop=True)
                if set(da.dims) - {lat, lon, "time"}:
                    raise SatCO2Error(f"file {p.name}: variable {s} has unexpected dimensions {da.dims}.")
                try:
                    vals = da.values.astype(np.float32)
                except (RuntimeError, OSError) as e:
                    raise SatCO2Error(f"file {p.name}: variable {s} cannot be read, the file is corrupt ({e}).") from None
                vals = self.convert(vals, da.attrs.get("units", ""), meta.get("source_units") or meta["units"], p, s)
                if "time" not in da.dims:
                    vals = vals[None]
                    dims = ("time",) + tuple(da.dims)
                else:
                    dims = da.dims
                out[name] = xr.DataArray(vals, dims=dims, attrs={k: v for k, v in da.attrs.items() if k == "long_name"})
            if "time" in src.coords and src["time"].ndim == 1:
                time = pd.DatetimeIndex(src["time"].values)
            elif "time_coverage_start" in src.attrs:
                time = pd.DatetimeIndex([pd.Timestamp(src.attrs["time_coverage_start"]).tz_localize(None)])
            else:
                raise SatCO2Error(f"file {p.name} has no time coordinate and no time_coverage_start attribute.")
            ds = xr.Dataset(out).rename({lat: "lat", lon: "lon"}) if lat != "lat" or lon != "lon" else xr.Dataset(out)
            ds = ds.assign_coords(time=time.values, lat=src[lat].values.astype(np.float64),
                                  lon=src[lon].values.astype(np.float64))
            ds = ds.transpose("time", "lat", "lon")
            extra = {k: str(src.attrs[k]) for k in ("title", "institution", "history") if k in src.attrs}
        if extra.get("title"):
            extra["source_title"] = extra.pop("title")
        return finish(ds, product, p, extra)
