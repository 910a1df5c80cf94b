"""NOAA GML monthly CO2 text tables (``co2_mm_gl.txt``, ``co2_mm_mlo.txt``).

Comment lines start with ``#``; columns year, month, decimal date, average (ppm), ... Missing
values are negative (-9.99 / -99.99). The result is a time series ``xco2(time)`` (no lat/lon:
broadcast it onto a grid where needed), time = first day of the month.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ... import SatCO2Error
from .base import Reader, finish


class GMLTextReader(Reader):
    name = "gml_text"
    format = "NOAA GML monthly text table"

    def open_file(self, path, product) -> xr.Dataset:
        p = self.check_file(path)
        try:
            text = p.read_text()
        except UnicodeDecodeError:
            raise SatCO2Error(f"file {p.name} is not a text file, so it is not a NOAA GML table.") from None
        rows = []
        for ln, line in enumerate(text.splitlines(), 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            parts = s.replace(",", " ").split()
            try:
                year, month, avg = int(parts[0]), int(parts[1]), float(parts[3])
            except (ValueError, IndexError):
                raise SatCO2Error(f"file {p.name}, line {ln} is not a GML row (year month decimal average ...).") from None
            rows.append((year, month, avg))
        if not rows:
            raise SatCO2Error(f"file {p.name} has no data rows.")
        (name,) = list(product.variables)
        time = pd.to_datetime([f"{y:04d}-{m:02d}-01" for y, m, _ in rows])
        vals = np.array([a if a > 0 else np.nan for *_, a in rows], dtype=np.float32)
        ds = xr.Dataset({name: (("time",), vals)}, coords={"time": time})
        return finish(ds, product, p)
