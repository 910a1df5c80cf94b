"""Base class of the upstream-file readers (one module per format in this package).

A reader turns ONE upstream file into an in-memory :class:`xarray.Dataset` in the catalog's
conventions, which ``satco2 ingest`` appends to the product's Zarr mirror and
``catalog.open(source="upstream")`` combines lazily. A subclass implements

- ``name`` (the registry's ``upstream.reader`` value) and ``format`` (a human description);
- ``open_file(path, product) -> xr.Dataset``: the product's variables (registry names, float32,
  scale/offset decoded, fill and out-of-valid-range values as NaN, registry units), coordinates
  ``time`` (length >= 1, the nominal start of each period), ``lat`` ascending, ``lon`` in degrees
  east (-180..180), CF attributes; global attributes name the source file. Any problem raises
  :class:`satco2.SatCO2Error` with one sentence naming the file and the problem.

Helpers here: :func:`finish` (coordinate order, CF attributes from the registry entry).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from ... import SatCO2Error

#: unit conversions applied when the registry gives ``source_units`` different from ``units``
CONVERSIONS = {
    ("K", "degC"): lambda x: x - np.float32(273.15),
    ("kelvin", "degC"): lambda x: x - np.float32(273.15),
    ("millibars", "Pa"): lambda x: x * np.float32(100.0),
    ("mbar", "Pa"): lambda x: x * np.float32(100.0),
    ("hPa", "Pa"): lambda x: x * np.float32(100.0),
}


def normalise_units(u: str | None) -> str:
    """'mg m^-3' -> 'mg m-3', 'degrees_C' -> 'degC' (textual normalisation only)."""
    if u is None:
        return ""
    u = str(u).strip().replace("^", "").replace("**", "")
    u = {"milligram m-3": "mg m-3", "milligram/m3": "mg m-3", "mg/m3": "mg m-3", "mg.m-3": "mg m-3",
         "milligrams m-3": "mg m-3", "m-1": "m-1", "1/m": "m-1", "m^-1": "m-1"}.get(u, u)
    return {"degrees_C": "degC", "degree_C": "degC", "degree_Celsius": "degC", "Celsius": "degC", "deg C": "degC", "celsius": "degC",
            "degree_north": "degrees_north", "degree_east": "degrees_east"}.get(u, u)


class Reader:
    """A reader of one upstream file format (see the module docstring)."""

    name: str = "base"
    format: str = "abstract"

    def open_file(self, path, product) -> xr.Dataset:  # pragma: no cover - interface
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def check_file(path) -> Path:
        p = Path(path)
        if not p.exists():
            raise SatCO2Error(f"file {p} does not exist.")
        if p.is_dir():
            raise SatCO2Error(f"file {p} is a folder, not a file.")
        if os.path.getsize(p) == 0:
            raise SatCO2Error(f"file {p} is empty.")
        return p

    @staticmethod
    def convert(values: np.ndarray, src_units: str, units: str, path, name: str) -> np.ndarray:
        s, u = normalise_units(src_units), normalise_units(units)
        if not s or s == u:
            return values
        f = CONVERSIONS.get((s, u))
        if f is None:
            raise SatCO2Error(
                f"file {Path(path).name}: variable {name} is in {src_units!r}, which cannot be "
                f"converted to the product's units {units!r}."
            )
        return f(values)


def finish(ds: xr.Dataset, product, path, extra_attrs: dict | None = None) -> xr.Dataset:
    """Put ``ds`` in catalog conventions: lat ascending, lon -180..180 sorted, CF attributes."""
    if "lat" in ds.dims and ds.sizes["lat"] > 1 and ds["lat"].values[0] > ds["lat"].values[-1]:
        ds = ds.isel(lat=slice(None, None, -1))
    if "lon" in ds.dims:
        lon = ds["lon"].values
        if np.nanmax(lon) > 180:
            ds = ds.assign_coords(lon=((lon + 180.0) % 360.0) - 180.0)
        if ds.sizes["lon"] > 1 and np.any(np.diff(ds["lon"].values) < 0):
            ds = ds.sortby("lon")
    attrs_c = {
        "lat": {"standard_name": "latitude", "units": "degrees_north", "axis": "Y", "long_name": "latitude"},
        "lon": {"standard_name": "longitude", "units": "degrees_east", "axis": "X", "long_name": "longitude"},
        "time": {"standard_name": "time", "axis": "T", "long_name": "nominal start of the period"},
    }
    for c, a in attrs_c.items():
        if c in ds.coords:
            ds[c].attrs = dict(a)
    for name, meta in product.variables.items():
        if name in ds:
            keep = {k: v for k, v in ds[name].attrs.items()
                    if k in ("reference", "comment", "radiation_wavelength")}
            src_long = ds[name].attrs.get("long_name")
            ds[name].attrs = {k: v for k, v in meta.items() if k not in ("source_name", "source_units")}
            if src_long and src_long != meta["long_name"]:
                keep["source_long_name"] = src_long
            ds[name].attrs.update(keep)
            ds[name].attrs.setdefault("coverage_content_type", "physicalMeasurement")
    ds.attrs = {
        "Conventions": "CF-1.8",
        "product_id": product.id,
        "title": product["long_name"],
        "source": f"{product['sensor']} ({product['producer']})",
        "references": product["citation"],
        "license": product["licence"],
        "source_file": Path(str(path)).name,
        **(extra_attrs or {}),
    }
    return ds
