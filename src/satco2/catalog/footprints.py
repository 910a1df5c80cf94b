"""Demo footprints: the grids and periods of the embedded synthetic demo store.

Part of the store layout (:mod:`satco2.catalog.store`): the demo store holds one folder per
footprint, ``catalog.open(source="demo")`` chooses among them by box and step, and every demo
generator (:mod:`satco2.demo`) builds its grid from here. A footprint is a lon/lat box, a grid step and a
monthly period; ``scale`` divides the step (``satco2 demo --scale 4`` builds 4x finer grids for
benchmarks). Coordinates follow CF: ``lat`` ascending, ``lon`` in degrees east, ``time`` at month
start.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr


@dataclass(frozen=True)
class Footprint:
    name: str
    lon: tuple[float, float]
    lat: tuple[float, float]
    step: float  # degrees, at scale 1
    start: str  # first month, YYYY-MM
    end: str  # last month, YYYY-MM
    description: str

    def coords(self, scale: int = 1, freq: str = "MS") -> dict[str, xr.DataArray]:
        """CF coordinates (cell centres) of this footprint at ``scale``."""
        step = self.step / scale
        lon = np.round(np.arange(self.lon[0] + step / 2, self.lon[1], step), 6)
        lat = np.round(np.arange(self.lat[0] + step / 2, self.lat[1], step), 6)
        time = pd.date_range(self.start, pd.Timestamp(self.end) + pd.offsets.MonthEnd(0), freq=freq)
        return {
            "time": xr.DataArray(time, dims="time", attrs={"standard_name": "time", "axis": "T"}),
            "lat": xr.DataArray(
                lat, dims="lat",
                attrs={"standard_name": "latitude", "units": "degrees_north", "axis": "Y"},
            ),
            "lon": xr.DataArray(
                lon, dims="lon",
                attrs={"standard_name": "longitude", "units": "degrees_east", "axis": "X"},
            ),
        }

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(lon_min, lat_min, lon_max, lat_max)"""
        return (self.lon[0], self.lat[0], self.lon[1], self.lat[1])


FOOTPRINTS: dict[str, Footprint] = {
    fp.name: fp
    for fp in [
        Footprint(
            "ecs", (117.0, 131.0), (21.0, 35.0), 0.1, "2000-01", "2014-12",
            "East China Sea, Yellow Sea and Taiwan Strait: pCO2/flux, DOC transport, gap filling",
        ),
        Footprint(
            "eurasia", (-10.0, 180.0), (0.0, 66.0), 0.5, "2003-01", "2014-12",
            "Eurasian marginal seas: trends 2003-2014",
        ),
        Footprint(
            "sample", (-180.0, 180.0), (-90.0, 90.0), 5.0, "2014-01", "2014-03",
            "a tiny sample so that every registry entry opens",
        ),
    ]
}
