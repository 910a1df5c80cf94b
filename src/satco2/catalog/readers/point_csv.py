"""Point time series as CSV: an ERDDAP (or similar) extraction of one grid cell of a product.

Example: ``sst_Med_OISSTv2.1_9.125E_43.625N_1982-2022.csv`` (NOAA OISST v2.1 daily at one
pixel, columns ``t,temp``). Accepted layout:

- a header row; columns: a time column (``time``, ``t`` or ``date``: ISO dates or date-times,
  time zones converted to UTC), optional ``latitude``/``lat`` and ``longitude``/``lon`` columns
  (one location only), optional depth columns (``zlev``, ``depth``, ignored), and the value
  column: the product variable's ``source_name`` or name, else the one remaining column;
- optionally ERDDAP's second header row of units (``UTC,degrees_north,...,degree_C``): the
  value's units are then converted to the product's units (as for NetCDF); without it the
  values are taken to be in the product's units;
- empty cells, ``NaN`` and ``NA`` are missing values (NaN).

The location comes from the lat/lon columns, else from the reader's ``lat``/``lon`` options
(``satco2 ingest ... --reader point_csv --lat 43.625 --lon 9.125``), else from the file name
(``..._9.125E_43.625N...``, also ``W``/``S``). The result follows the catalog conventions with
``lat`` and ``lon`` of length 1: ``var(time, lat, lon)`` float32, so the point ingests into a
mirror (use its own ``--root``: a point mirror cannot take the gridded files later).
Any malformed row raises one sentence naming the file, the line and the problem.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ... import SatCO2Error
from .base import Reader, finish

_TIME = ("time", "t", "date")
_LAT = ("latitude", "lat")
_LON = ("longitude", "lon")
_SKIP = ("zlev", "depth", "altitude")
_MISSING = {"", "nan", "na", "n/a", "null"}
_NAME_POS = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d+)?)([EW])_(\d{1,2}(?:\.\d+)?)([NS])(?![A-Za-z])")


def location_from_name(name: str) -> tuple[float, float] | None:
    """(lat, lon) from a file name holding ``<lon>E|W_<lat>N|S`` (e.g. ``9.125E_43.625N``)."""
    m = _NAME_POS.search(name)
    if not m:
        return None
    lon = float(m.group(1)) * (-1 if m.group(2) == "W" else 1)
    lat = float(m.group(3)) * (-1 if m.group(4) == "S" else 1)
    return lat, lon


class PointCSVReader(Reader):
    name = "point_csv"
    format = "point time series CSV (e.g. an ERDDAP extraction of one pixel)"

    def __init__(self, lat: float | None = None, lon: float | None = None):
        if (lat is None) != (lon is None):
            raise SatCO2Error("reader point_csv: give both lat and lon, or neither.")
        if lat is not None and not (-90 <= float(lat) <= 90 and -180 <= float(lon) <= 360):
            raise SatCO2Error(f"reader point_csv: lat {lat} / lon {lon} is not a location on Earth.")
        self.lat = None if lat is None else float(lat)
        self.lon = None if lon is None else float(lon)

    def open_file(self, path, product) -> xr.Dataset:
        p = self.check_file(path)
        if len(product.variables) != 1:
            raise SatCO2Error(f"reader point_csv reads one variable, but product {product.id} has "
                              f"{len(product.variables)}.")
        (var, meta), = product.variables.items()
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise SatCO2Error(f"file {p.name} is not a text file, so it is not a point CSV.") from None
        rows = csv.reader(io.StringIO(text))
        try:
            header = [h.strip() for h in next(rows)]
        except StopIteration:
            raise SatCO2Error(f"file {p.name} is empty.") from None
        except csv.Error as e:
            raise SatCO2Error(f"file {p.name}, line 1 is not CSV ({e}).") from None
        low = [h.lower() for h in header]
        it = next((low.index(c) for c in _TIME if c in low), None)
        if it is None:
            raise SatCO2Error(f"file {p.name} has no time column (one of {', '.join(_TIME)}) in its "
                              f"header {','.join(header)!r}.")
        ilat = next((low.index(c) for c in _LAT if c in low), None)
        ilon = next((low.index(c) for c in _LON if c in low), None)
        used = {it, ilat, ilon} | {i for i, c in enumerate(low) if c in _SKIP}
        wanted = [meta.get("source_name", var).lower(), var.lower()]
        iv = next((low.index(c) for c in wanted if c in low), None)
        if iv is None:
            rest = [i for i in range(len(header)) if i not in used]
            if len(rest) != 1:
                raise SatCO2Error(
                    f"file {p.name}: cannot tell which column holds {var} (no column "
                    f"{' or '.join(dict.fromkeys(wanted))}; candidates: {', '.join(header[i] for i in rest) or 'none'})."
                )
            iv = rest[0]

        units, data, lines = None, [], []
        try:
            for row in rows:
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(header):
                    raise SatCO2Error(f"file {p.name}, line {rows.line_num} has {len(row)} fields, "
                                      f"the header has {len(header)}.")
                if not data and units is None and rows.line_num == 2 and row[it].strip().upper() == "UTC":
                    units = row[iv].strip()  # ERDDAP's units row
                    continue
                data.append(row)
                lines.append(rows.line_num)
        except csv.Error as e:
            raise SatCO2Error(f"file {p.name}, line {rows.line_num} is not CSV ({e}).") from None
        if not data:
            raise SatCO2Error(f"file {p.name} has no data rows.")

        cols = list(zip(*data))
        time = self._times(cols[it], lines, p)
        vals = self._numbers(cols[iv], lines, p, header[iv])
        lat, lon = self._location(cols, ilat, ilon, lines, p)
        order = np.argsort(time.values, kind="stable")
        dup = time.values[order][1:] == time.values[order][:-1]
        if dup.any():
            k = int(order[1:][dup][0])
            raise SatCO2Error(f"file {p.name}, line {lines[k]} repeats time {time[k].isoformat()}.")
        vals = self.convert(vals, units or "", meta.get("source_units") or meta["units"], p, header[iv])
        ds = xr.Dataset({var: (("time", "lat", "lon"), vals[order].astype(np.float32)[:, None, None],
                               {"long_name": header[iv]})},
                        coords={"time": time.values[order], "lat": [lat], "lon": [lon]})
        extra = {"featureType": "timeSeries",
                 "comment": f"point time series at {lat:g} N, {lon:g} E read from a CSV extraction"
                            + ("" if units else f"; values taken to be in {meta['units']} (no units row)")}
        return finish(ds, product, p, extra)

    # ------------------------------------------------------------------ parsing
    @staticmethod
    def _first_bad(bad: np.ndarray, lines: list[int]) -> int:
        return lines[int(np.flatnonzero(bad)[0])]

    def _times(self, col, lines, p) -> pd.DatetimeIndex:
        s = pd.Series(col, dtype=str).str.strip()
        t = pd.to_datetime(s, errors="coerce", utc=True, format="ISO8601")
        bad = t.isna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise SatCO2Error(f"file {p.name}, line {lines[i]}: {s.iloc[i]!r} is not a date.")
        return pd.DatetimeIndex(t.dt.tz_convert(None)).as_unit("ns")

    def _numbers(self, col, lines, p, name) -> np.ndarray:
        s = pd.Series(col, dtype=str).str.strip()
        missing = s.str.lower().isin(_MISSING).to_numpy()
        v = pd.to_numeric(s.where(~missing, "nan"), errors="coerce").to_numpy(np.float64)
        bad = np.isnan(v) & ~missing
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise SatCO2Error(f"file {p.name}, line {lines[i]}: {name} value {s.iloc[i]!r} is not a number.")
        return v

    def _location(self, cols, ilat, ilon, lines, p) -> tuple[float, float]:
        if ilat is not None and ilon is not None:
            out = []
            for i, what in ((ilat, "latitude"), (ilon, "longitude")):
                v = self._numbers(cols[i], lines, p, what)
                if np.isnan(v).any() or np.ptp(v) > 0:
                    raise SatCO2Error(f"file {p.name} holds more than one {what} (or a missing one); "
                                      "the point_csv reader reads one location.")
                out.append(float(v[0]))
            return out[0], out[1]
        if self.lat is not None:
            return self.lat, self.lon
        loc = location_from_name(Path(p).name)
        if loc is None:
            raise SatCO2Error(
                f"file {Path(p).name} gives no location: it has no latitude/longitude columns and its "
                "name holds no '<lon>E_<lat>N'; pass the reader options lat and lon "
                "(satco2 ingest --lat LAT --lon LON)."
            )
        return loc
