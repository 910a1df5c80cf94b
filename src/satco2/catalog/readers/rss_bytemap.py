"""Remote Sensing Systems (RSS) binary bytemaps: 0.25 degree global grids, one byte per cell, gzip.

The format, as RSS documents it in its published read routines and verification files
(``bytemaps.py`` with ``gmi_daily_v8.py``, ``windsat_daily_v7.py``, ``windsat_averaged_v7.py``,
``read_rss_mwr_averaged.pro`` and ``windsat_v7.0.1_verify.txt``, www.remss.com/support):

- 720 x 1440 cells; cell centres ``lat = 0.25 * i - 89.875`` (i = 0..719, south to north) and
  ``lon = 0.25 * j + 0.125`` degrees east (j = 0..1439);
- a daily file holds ``[pass, variable, lat, lon]`` in C order, pass 0 = morning (descending),
  pass 1 = evening (ascending); a 3-day, weekly or monthly mean holds ``[variable, lat, lon]``;
- bytes 0..250 are data, ``value = byte * scale + offset`` with a scale/offset per variable
  (:data:`SENSORS`); 251 = no data processed, 252 = sea ice, 253 = bad data (e.g. coast),
  254 = no observation, 255 = land: all become NaN here;
- names ``<prefix>_<YYYYMMDD>v<version>.gz`` (daily, or weekly mean ending on that Saturday: the
  two are told apart by their decompressed size), ``<prefix>_<YYYYMMDD>v<version>_d3d.gz`` (mean
  of the 3 days ending on that date), ``<prefix>_<YYYYMM>v<version>.gz`` (monthly mean).
  Uncompressed files (RSS's routines accept them too) are read as well.

What the reader returns: the product's variables (``source_name`` is RSS's variable name, e.g.
``windLF``), ``time`` = the nominal start of the file's period (the day; the first of the 3 or 7
days; the first of the month). A daily file's two passes are averaged where both are valid
(else the valid one is kept): the catalog has one value per cell and day.

Layouts are per sensor and version (:data:`SENSORS`). GMI v8.x (prefix ``f35``) is tested on a
real RSS file (``tests/data/rss_bytemap``); the WindSat v7.0.1 layout (prefix ``wsat``, the
registry's ``global-ssw-windsat-25km``) is taken from RSS's WindSat read routines and has not been
checked against a real WindSat file (none was found that could be copied; see docs/catalog.md).
"""
from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from ... import SatCO2Error
from .base import Reader, finish

NLAT, NLON = 720, 1440
CODES = {251: "no data processed", 252: "sea ice", 253: "bad data", 254: "no observation", 255: "land"}


@dataclass(frozen=True)
class Var:
    """One bytemap variable: RSS name, scale, offset, units, long name."""

    name: str
    scale: float
    offset: float
    units: str
    long_name: str


@dataclass(frozen=True)
class Layout:
    """The variables of one sensor's daily and time-averaged bytemaps, in file order."""

    sensor: str
    versions: tuple[str, ...]
    daily: tuple[Var, ...]
    averaged: tuple[Var, ...]

    def size(self, daily: bool) -> int:
        return (2 * len(self.daily) if daily else len(self.averaged)) * NLAT * NLON


_SST = Var("sst", 0.15, -3.0, "degC", "sea surface temperature")
_WLF = Var("windLF", 0.2, 0.0, "m s-1", "10 m surface wind speed (low frequency channels)")
_WMF = Var("windMF", 0.2, 0.0, "m s-1", "10 m surface wind speed (medium frequency channels)")
_VAP = Var("vapor", 0.3, 0.0, "mm", "columnar water vapor")
_CLD = Var("cloud", 0.01, -0.05, "mm", "cloud liquid water")
_RAIN = Var("rain", 0.1, 0.0, "mm h-1", "surface rain rate")
_WAW = Var("windAW", 0.2, 0.0, "m s-1", "all-weather 10 m surface wind speed")
_WDIR = Var("wdir", 1.5, 0.0, "degree", "surface wind direction (oceanographic, towards)")

#: file-name prefix -> layout (scales and offsets from RSS's read routines, see module docstring)
SENSORS: dict[str, Layout] = {
    "wsat": Layout(
        "WindSat", ("7.0.1",),
        daily=(Var("time", 6.0, 0.0, "min", "time of observation (minute of day UTC)"),
               _SST, _WLF, _WMF, _VAP, _CLD, _RAIN, _WAW, _WDIR),
        averaged=(_SST, _WLF, _WMF, _VAP, _CLD, _RAIN, _WAW, _WDIR),
    ),
    "f35": Layout(
        "GMI", ("8.1", "8.2"),
        daily=(Var("time", 0.1, 0.0, "h", "time of observation (hour of day UTC)"),
               _SST, _WLF, _WMF, _VAP, _CLD, _RAIN),
        averaged=(_SST, _WLF, _WMF, _VAP, _CLD, _RAIN),
    ),
}

_NAME = re.compile(r"^(?P<prefix>[a-z0-9]+)_(?P<date>\d{8}|\d{6})v(?P<version>\d+(?:\.\d+)*)"
                   r"(?P<d3d>_d3d)?(?:\.gz)?$", re.IGNORECASE)
_NAMING = "<prefix>_<YYYYMMDD|YYYYMM>v<version>[_d3d].gz"


def product_prefix(product) -> str | None:
    """The bytemap prefix the product's ``upstream.file_naming`` names (``wsat`` for WindSat)."""
    m = re.match(r"\s*([A-Za-z0-9]+)_", str(product["upstream"].get("file_naming", "")))
    return m.group(1).lower() if m else None


def parse_name(name: str) -> dict:
    """Prefix, layout, version and date fields of a bytemap file name; SatCO2Error otherwise."""
    m = _NAME.match(name)
    if not m:
        raise SatCO2Error(f"file {name} is not named like an RSS bytemap ({_NAMING}), "
                          f"so its sensor and period are unknown.")
    prefix = m["prefix"].lower()
    if prefix not in SENSORS:
        known = ", ".join(f"{k} ({v.sensor} v{'/'.join(v.versions)})" for k, v in SENSORS.items())
        raise SatCO2Error(f"file {name}: RSS bytemaps with prefix {prefix!r} are not supported (known: {known}).")
    layout = SENSORS[prefix]
    if m["version"] not in layout.versions:
        raise SatCO2Error(f"file {name}: {layout.sensor} bytemaps of version {m['version']} are not supported "
                          f"(the known layout is for version {'/'.join(layout.versions)}).")
    return {"prefix": prefix, "layout": layout, "version": m["version"], "date": m["date"],
            "d3d": bool(m["d3d"])}


def _bytes(p) -> bytes:
    raw = p.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as e:
        raise SatCO2Error(f"file {p.name} is a damaged gzip file ({e}), so the bytemap cannot be read.") from None


def decode(codes: np.ndarray, var: Var) -> np.ndarray:
    """Bytes -> float32 values, codes 251-255 -> NaN."""
    out = codes.astype(np.float32) * np.float32(var.scale) + np.float32(var.offset)
    out[codes > 250] = np.nan
    return out


class RSSBytemapReader(Reader):
    name = "rss_bytemap"
    format = "RSS binary bytemap (0.25 deg, gzip)"

    def open_file(self, path, product) -> xr.Dataset:
        p = self.check_file(path)
        info = parse_name(p.name)
        layout: Layout = info["layout"]
        want = product_prefix(product)
        if want and want != info["prefix"]:
            raise SatCO2Error(
                f"file {p.name} is an RSS {layout.sensor} bytemap, but product {product.id} reads "
                f"{want}_* files ({product.get('sensor', want)})."
            )
        data = _bytes(p)
        monthly, d3d = len(info["date"]) == 6, info["d3d"]
        if monthly or d3d:
            daily = False
            if len(data) != layout.size(False):
                raise SatCO2Error(
                    f"file {p.name} holds {len(data)} bytes once decompressed, but an RSS {layout.sensor} "
                    f"time-averaged bytemap holds {layout.size(False)}: the file is truncated or not a bytemap."
                )
        elif len(data) in (layout.size(True), layout.size(False)):
            daily = len(data) == layout.size(True)
        else:
            raise SatCO2Error(
                f"file {p.name} holds {len(data)} bytes once decompressed, but an RSS {layout.sensor} bytemap "
                f"holds {layout.size(True)} (daily) or {layout.size(False)} (weekly mean): the file is "
                f"truncated or not a bytemap."
            )
        d = info["date"]
        try:
            day = pd.Timestamp(f"{d[:4]}-{d[4:6]}-{d[6:] or '01'}")
        except ValueError:
            raise SatCO2Error(f"file {p.name}: {d} in its name is not a valid date.") from None
        if monthly:
            start, end, period = day, day + pd.offsets.MonthEnd(0), "monthly mean"
        else:
            ndays = 1 if daily else (3 if d3d else 7)
            start, end = day - pd.Timedelta(days=ndays - 1), day
            period = "daily (mean of the morning and evening passes)" if daily else \
                ("3-day mean" if d3d else "weekly mean")
        variables = layout.daily if daily else layout.averaged
        shape = (2, len(variables), NLAT, NLON) if daily else (len(variables), NLAT, NLON)
        cube = np.frombuffer(data, dtype=np.uint8).reshape(shape)
        index = {v.name: i for i, v in enumerate(variables)}
        out = {}
        for name, meta in product.variables.items():
            s = meta.get("source_name", name)
            if s not in index:
                raise SatCO2Error(
                    f"file {p.name} ({layout.sensor} {period}) has no variable {s} needed by product "
                    f"{product.id} (it has {', '.join(index)})."
                )
            var = variables[index[s]]
            if daily:
                passes = np.stack([decode(cube[k, index[s]], var) for k in (0, 1)])
                n = np.isfinite(passes).sum(axis=0)
                with np.errstate(invalid="ignore"):
                    vals = (np.nansum(passes, axis=0) / n).astype(np.float32)  # NaN where n == 0
            else:
                vals = decode(cube[index[s]], var)
            vals = self.convert(vals, var.units, meta.get("source_units") or meta["units"], p, s)
            out[name] = xr.DataArray(
                vals[None], dims=("time", "lat", "lon"),
                attrs={"long_name": var.long_name,
                       "comment": "RSS bytemap codes 251-255 (" + ", ".join(CODES.values()) + ") are NaN"
                                  + ("; daily value = mean of the valid morning (descending) and evening "
                                     "(ascending) passes" if daily else "")},
            )
        lat = 0.25 * np.arange(NLAT) - 89.875
        lon = 0.25 * np.arange(NLON) + 0.125
        ds = xr.Dataset(out, coords={"time": [start], "lat": lat, "lon": lon})
        extra = {"rss_sensor": layout.sensor, "rss_version": info["version"], "rss_period": period,
                 "time_coverage_start": start.strftime("%Y-%m-%d"),
                 "time_coverage_end": end.strftime("%Y-%m-%d")}
        return finish(ds, product, p, extra)
