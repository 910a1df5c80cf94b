"""NASA OBPG Level-3 binned (L3b) NetCDF4 files, mapped onto the regular lat/lon grid.

Layout (OBPG ``l2bin``; see the "Ocean Level-3 Binned Data Products" format description of
NASA OBPG): group ``level-3_binned_data`` with

- ``BinIndex`` (one record per row of the integerized sinusoidal grid, south to north):
  ``start_num`` (number of the row's first bin, 1-based; ``l2bin`` leaves it 0 in rows after
  the last filled one, so the reader numbers bins from ``max`` and checks the given ones),
  ``max`` (bins in the row), ``begin``, ``extent`` (the row's filled bins);
- ``BinList`` (one record per filled bin): ``bin_num``, ``nobs``, ``nscenes``, ``weights``, ...;
- one compound variable per product (``Rrs_443``, ...) with ``sum`` and ``sum_squared`` per
  filled bin. The bin's mean is ``sum / weights`` (OBPG's definition of the L3 mean).

With ``NUMROWS`` rows, row ``r`` is centred on ``lat = -90 + (r + 0.5) 180 / NUMROWS`` and
its ``max`` bins split 360 deg of longitude evenly. The reader maps the bins onto the regular
grid of ``NUMROWS x 2 NUMROWS`` cells (the grid of the OBPG mapped files of the same
resolution: 2160 x 4320 for 9 km), each cell taking the bin of its row that contains the
cell's centre (nearest bin, as ``l3mapgen`` does without interpolation); cells of unfilled
bins are NaN. ``time`` is the nominal start from the file name (``S2008001.L3b_DAY_RRS.nc``,
``AQUA_MODIS.20210101.L3b.DAY.RRS.nc``), else ``time_coverage_start``. Units come from the
global ``units`` attribute (``Rrs_443:sr^-1,...``).

Row latitudes follow from the bin counts (``max = int(2 NUMROWS cos(lat) + 0.5)``, checked on
the real sample by the tests); the sample's ``geospatial_lat_min/max`` attributes lie one row
(1/12 deg) north of the rows its bins are in, and its ``westernmost/easternmost_longitude``
equal the bin centres: the reader trusts the grid, not those attributes.
"""
from __future__ import annotations


import numpy as np
import xarray as xr

from ... import SatCO2Error
from .base import Reader, finish, normalise_units
from .l3m import nominal_period

GROUP = "level-3_binned_data"


def grid_bins(start_num: np.ndarray, nbins: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lat, lon, bin number per cell) of the regular grid the rows map onto (lat ascending)."""
    nrows = start_num.size
    lat = -90.0 + (np.arange(nrows) + 0.5) * 180.0 / nrows
    nlon = 2 * nrows
    lon = -180.0 + (np.arange(nlon) + 0.5) * 360.0 / nlon
    # column of the bin whose longitude span holds each cell centre: floor((j + 0.5) max / nlon)
    col = np.floor((np.arange(nlon)[None, :] + 0.5) * nbins[:, None].astype(np.float64) / nlon).astype(np.int64)
    return lat, lon, start_num[:, None].astype(np.int64) + col


class L3bReader(Reader):
    name = "l3b"
    format = "NASA OBPG Level-3 binned NetCDF4 (L3b)"

    def open_file(self, path, product) -> xr.Dataset:
        import netCDF4

        p = self.check_file(path)
        try:
            nc = netCDF4.Dataset(p)
        except OSError as e:
            raise SatCO2Error(f"file {p.name} is not a readable NetCDF file ({e}).") from None
        try:
            if GROUP not in nc.groups:
                raise SatCO2Error(f"file {p.name} is not a Level-3 binned (L3b) file (it has no "
                                  f"{GROUP} group).")
            g = nc.groups[GROUP]
            attrs = {k: nc.getncattr(k) for k in nc.ncattrs()}
            for need in ("BinIndex", "BinList"):
                if need not in g.variables:
                    raise SatCO2Error(f"file {p.name} has no {need} in {GROUP}, so it is not a complete L3b file.")
            try:
                index = g.variables["BinIndex"][:]
                blist = g.variables["BinList"][:]
            except (RuntimeError, OSError) as e:
                raise SatCO2Error(f"file {p.name}: the bin index cannot be read, the file is corrupt ({e}).") from None
            nbins = np.asarray(index["max"], np.int64)
            # l2bin leaves start_num 0 in rows past the last filled one: number the bins from
            # the rows' bin counts, and check against the start numbers that are given
            start_num = 1 + np.concatenate([[0], np.cumsum(nbins)[:-1]])
            given = np.asarray(index["start_num"], np.int64)
            if (nbins.size < 2 or np.any(nbins < 1)
                    or np.any((given != 0) & (given != start_num))):
                raise SatCO2Error(f"file {p.name}: its BinIndex is not a consistent integerized "
                                  "sinusoidal grid (row start numbers and bin counts disagree).")
            bin_num = np.asarray(blist["bin_num"], np.int64)
            weights = np.asarray(blist["weights"], np.float64)
            if bin_num.size and (bin_num.min() < start_num[0] or bin_num.max() >= start_num[-1] + nbins[-1]):
                raise SatCO2Error(f"file {p.name}: its BinList holds bin numbers outside the grid of its BinIndex.")
            order = np.argsort(bin_num, kind="stable")
            bin_num, weights = bin_num[order], weights[order]
            units = dict(kv.split(":", 1) for kv in str(attrs.get("units", "")).split(",") if ":" in kv)
            lat, lon, cell_bin = grid_bins(start_num, nbins)
            pos = np.clip(np.searchsorted(bin_num, cell_bin), 0, max(bin_num.size - 1, 0))
            found = bin_num[pos] == cell_bin if bin_num.size else np.zeros(cell_bin.shape, bool)
            data_vars = {}
            for name, meta in product.variables.items():
                src = meta.get("source_name", name)
                if src not in g.variables:
                    have = [v for v in g.variables if v not in ("BinIndex", "BinList") and not v.endswith("Dim")]
                    raise SatCO2Error(f"file {p.name} has no binned variable {src} needed by product "
                                      f"{product.id} (it has {', '.join(have)}).")
                v = g.variables[src]
                if v.dtype.names is None or "sum" not in v.dtype.names or v.shape != blist.shape:
                    raise SatCO2Error(f"file {p.name}: binned variable {src} is not a (sum, sum_squared) "
                                      "record per bin.")
                try:
                    s = np.asarray(v[:]["sum"], np.float64)[order]
                except (RuntimeError, OSError) as e:
                    raise SatCO2Error(f"file {p.name}: variable {src} cannot be read, the file is corrupt ({e}).") from None
                with np.errstate(divide="ignore", invalid="ignore"):
                    mean = np.where(weights > 0, s / weights, np.nan).astype(np.float32)
                vals = np.full(cell_bin.shape, np.nan, np.float32)
                if bin_num.size:
                    vals[found] = mean[pos[found]]
                vals = self.convert(vals, normalise_units(units.get(src, "")), meta.get("source_units") or meta["units"], p, src)
                data_vars[name] = (("time", "lat", "lon"), vals[None],
                                   {"comment": "L3b bin mean (sum / weights) mapped to the nearest bin"})
        finally:
            nc.close()
        start, end = nominal_period(p.name, attrs)
        ds = xr.Dataset(data_vars, coords={"time": [start], "lat": lat, "lon": lon})
        extra = {k: str(attrs[k]) for k in ("instrument", "platform", "processing_version",
                                             "time_coverage_start", "time_coverage_end",
                                             "temporal_range", "spatialResolution",
                                             "binning_scheme") if k in attrs}
        if end is not None:
            extra["period_end"] = str(end.date())
        return finish(ds, product, p, extra)
