"""The L3b reader: bins of the real SeaWiFS binned file mapped onto the regular 9 km grid."""
from __future__ import annotations

import netCDF4
import numpy as np
import pytest

from satco2 import SatCO2Error, catalog
from satco2.catalog import readers, registry
from satco2.catalog.ingest import ingest

PID = "global-rrs-seawifs-9km"
L3B = "S2008001.L3b_DAY_RRS.nc"


@pytest.fixture(scope="module")
def binned(shared_data):
    """Direct netCDF4 read: per filled bin its row, column span and mean (sum / weights)."""
    path = shared_data / "ocean_color" / L3B
    with netCDF4.Dataset(path) as nc:
        g = nc.groups["level-3_binned_data"]
        index, blist = g.variables["BinIndex"][:], g.variables["BinList"][:]
        sums = {v: g.variables[v][:]["sum"] for v in ("Rrs_412", "Rrs_443", "Rrs_490", "Rrs_510", "Rrs_555", "Rrs_670")}
        west, east = float(nc.westernmost_longitude), float(nc.easternmost_longitude)
    nmax = np.asarray(index["max"], np.int64)
    nrows = nmax.size
    lat = -90 + (np.arange(nrows) + 0.5) * 180 / nrows
    # the row latitudes are the ones whose bin counts OBPG's formula gives: checks the row order
    np.testing.assert_array_equal(nmax, (2 * nrows * np.cos(np.deg2rad(lat)) + 0.5).astype(np.int64))
    first = 1 + np.concatenate([[0], np.cumsum(nmax)[:-1]])
    bins = []
    for k, b in enumerate(np.asarray(blist["bin_num"], np.int64)):
        r = int(np.searchsorted(first, b, side="right") - 1)
        col = b - first[r]
        w = 360.0 / nmax[r]
        bins.append({"row": r, "west": -180 + col * w, "east": -180 + (col + 1) * w,
                     "mean": {v: s[k] / blist["weights"][k] for v, s in sums.items()}})
    return path, bins, (west, east)


def test_real_l3b_bins_land_on_their_cells(binned):
    path, bins, (west, east) = binned
    ds = readers.get("l3b").open_file(path, registry.get(PID))
    assert dict(ds.sizes) == {"time": 1, "lat": 2160, "lon": 4320}
    assert str(ds.time.values[0])[:10] == "2008-01-01"
    lon = ds.lon.values
    expected = np.full((2160, 4320), np.nan, np.float32)
    for b in bins:
        cells = (lon >= b["west"]) & (lon < b["east"])
        assert cells.sum() >= 1
        expected[b["row"], cells] = b["mean"]["Rrs_443"]
    got = ds.Rrs_443.values[0]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got[np.isfinite(got)], expected[np.isfinite(expected)], rtol=1e-6)
    for v in ("Rrs_412", "Rrs_670"):
        assert sorted(np.unique(ds[v].values[np.isfinite(ds[v].values)])) == pytest.approx(
            sorted(np.float32(b["mean"][v]) for b in bins), rel=1e-6)
    # the bin centres are the file's stated west/east bounds
    centres = sorted((b["west"] + b["east"]) / 2 for b in bins)
    assert centres[0] == pytest.approx(west, abs=1e-4) and centres[-1] == pytest.approx(east, abs=1e-4)
    assert ds.Rrs_443.attrs["units"] == "sr-1" and ds.attrs["binning_scheme"] == "Integerized Sinusoidal Grid"


def test_ingest_l3b_onto_the_grid_of_the_mapped_files(binned, shared_data, tmp_path):
    path, bins, _ = binned
    ingest(PID, [path], root=str(tmp_path), reader="l3b", progress=False)
    ds = catalog.open(PID, source="mirror", root=str(tmp_path))
    assert int(np.isfinite(ds.Rrs_555.values).sum()) == 8  # 2 bins of ~4 cells each at 76-77 S
    mapped = readers.get("l3m").open_file(
        shared_data / "ocean_color" / "S20092742009304.L3m_MO_CHL_chlor_a_9km.nc", registry.get("global-chl-seawifs-9km"))
    np.testing.assert_allclose(ds.lat.values, mapped.lat.values, atol=1e-4)
    np.testing.assert_allclose(ds.lon.values, mapped.lon.values, atol=1e-4)


def test_l3b_errors(shared_data, tmp_path):
    rd = readers.get("l3b")
    with pytest.raises(SatCO2Error, match=r"x_chlor_a.nc is not a Level-3 binned"):
        rd.open_file(shared_data / "ocean_color" / "AQUA_MODIS.20210101_20211231.L3m.YR.CHL.x_chlor_a.nc",
                     registry.get(PID))
    with pytest.raises(SatCO2Error, match=r"L3b_DAY_RRS.nc has no binned variable chlor_a"):
        rd.open_file(shared_data / "ocean_color" / L3B, registry.get("global-chl-seawifs-9km"))
    cut = tmp_path / L3B
    data = (shared_data / "ocean_color" / L3B).read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(SatCO2Error, match=r"L3b_DAY_RRS.nc (is not a readable NetCDF|.*corrupt)"):
        ingest(PID, [cut], root=str(tmp_path / "m"), reader="l3b", progress=False)
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())
