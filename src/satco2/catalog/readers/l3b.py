"""NASA OBPG Level-3 binned (L3b) files: recognised, not yet supported.

L3b files hold bins of an integerized sinusoidal grid (groups ``level-3_binned_data`` with
``BinList``/``BinIndex``); mapping them onto the catalog's lat/lon grids is not implemented.
The reader recognises the format and says so in one sentence; use the OBPG L3m (mapped) files.
"""
from __future__ import annotations

from ... import SatCO2Error
from .base import Reader


class L3bReader(Reader):
    name = "l3b"
    format = "NASA OBPG Level-3 binned NetCDF4 (L3b)"

    def open_file(self, path, product):
        import netCDF4

        p = self.check_file(path)
        try:
            with netCDF4.Dataset(p) as nc:
                binned = "level-3_binned_data" in nc.groups
        except OSError as e:
            raise SatCO2Error(f"file {p.name} is not a readable NetCDF file ({e}).") from None
        if not binned:
            raise SatCO2Error(f"file {p.name} is not a Level-3 binned (L3b) file.")
        raise SatCO2Error(
            f"file {p.name} is a Level-3 binned (L3b) file, which is not supported yet; ingest "
            "the OBPG Level-3 mapped (L3m) files of the same product instead."
        )
