"""The point_csv reader: the real OISST v2.1 pixel CSV through the catalog reader machinery and
``satco2 ingest``, compared with a direct pandas read; ERDDAP layout; clear errors."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from satco2 import SatCO2Error, catalog
from satco2.catalog import readers, registry
from satco2.catalog.ingest import ingest
from satco2.catalog.store import read_ledger

PID = "global-sst-oisst-25km"
NAME = "sst_Med_OISSTv2.1_9.125E_43.625N_1982-2022.csv"


@pytest.fixture(scope="module")
def real(shared_data):
    path = shared_data / "sst" / NAME
    return path, pd.read_csv(path, parse_dates=["t"])


def test_real_oisst_point_equals_pandas(real):
    path, ref = real
    ds = readers.get("point_csv").open_file(path, registry.get(PID))
    assert dict(ds.sizes) == {"time": 14975, "lat": 1, "lon": 1}
    assert float(ds.lat[0]) == 43.625 and float(ds.lon[0]) == 9.125  # from the file name
    np.testing.assert_array_equal(ds.time.values, ref["t"].values)
    np.testing.assert_array_equal(ds.sst.values[:, 0, 0], ref["temp"].to_numpy(np.float32))
    assert ds.sst.dtype == np.float32
    assert ds.sst.attrs["units"] == "degC" and ds.sst.attrs["standard_name"] == "sea_surface_temperature"
    assert ds.lat.attrs["units"] == "degrees_north" and ds.attrs["Conventions"].startswith("CF")
    assert ds.attrs["featureType"] == "timeSeries" and ds.attrs["source_file"] == NAME


def test_cli_ingest_point_mirror_equals_pandas_and_is_idempotent(real, tmp_path):
    path, ref = real
    cmd = [sys.executable, "-m", "satco2", "ingest", PID, str(path), "--reader", "point_csv",
           "--root", str(tmp_path), "-q"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    ds = catalog.open(PID, source="mirror", root=str(tmp_path))
    assert ds.sst.chunks is not None and ds.sst.encoding["chunks"][0] > 1  # not one file per day
    np.testing.assert_array_equal(ds.sst.values[:, 0, 0], ref["temp"].to_numpy(np.float32))
    np.testing.assert_array_equal(ds.time.values, ref["t"].values)
    assert ds.sst.attrs["units"] == "degC"
    store = tmp_path / f"{PID}.zarr"
    before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0 and "1 already present" in r.stdout
    assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == before
    # a later extraction of the same pixel appends along time (a shared time chunk is rewritten)
    more = tmp_path / "sst_Med_OISSTv2.1_9.125E_43.625N_2023.csv"
    more.write_text("t,temp\n2023-01-01,15.1\n2023-01-02,\n2023-01-03,14.9\n")
    ingest(PID, [more], root=str(tmp_path), reader="point_csv", progress=False)
    ds = catalog.open(PID, source="mirror", root=str(tmp_path))
    assert ds.sizes["time"] == 14978 and read_ledger(str(store))["n_time"] == 14978
    np.testing.assert_array_equal(ds.sst.values[-3:, 0, 0], np.array([15.1, np.nan, 14.9], np.float32))
    np.testing.assert_array_equal(ds.sst.values[:14975, 0, 0], ref["temp"].to_numpy(np.float32))


def test_erddap_layout_units_row_and_location_columns(tmp_path):
    f = tmp_path / "oisst_point.csv"
    f.write_text("time,latitude,longitude,zlev,sst\nUTC,degrees_north,degrees_east,m,K\n"
                 "2010-01-01T12:00:00Z,43.625,9.125,0.0,290.15\n"
                 "2010-01-02T12:00:00Z,43.625,9.125,0.0,NaN\n"
                 "2010-01-03T12:00:00Z,43.625,9.125,0.0,288.65\n")
    ds = readers.get("point_csv").open_file(f, registry.get(PID))
    assert float(ds.lat[0]) == 43.625 and float(ds.lon[0]) == 9.125
    np.testing.assert_allclose(ds.sst.values[:, 0, 0], [17.0, np.nan, 15.5], rtol=1e-6)  # K -> degC
    assert str(ds.time.values[0]) == "2010-01-01T12:00:00.000000000"
    # the location options serve files whose name holds none
    g = tmp_path / "pixel.csv"
    g.write_text("date,value\n2010-01-01,14.0\n")
    ds = readers.get("point_csv", lat=-10.5, lon=200.25).open_file(g, registry.get(PID))
    assert float(ds.lat[0]) == -10.5 and float(ds.lon[0]) == -159.75


@pytest.mark.parametrize("text,message", [
    ("t,temp\n2010-01-01,14.0\n2010-13-02,14.1\n", r"line 3: '2010-13-02' is not a date"),
    ("t,temp\n2010-01-01,14.0\n2010-01-02,warm\n", r"line 3: temp value 'warm' is not a number"),
    ("t,temp\n2010-01-01,14.0,3\n", r"line 2 has 3 fields, the header has 2"),
    ("t,temp\n2010-01-01,14.0\n2010-01-01,14.2\n", r"line 3 repeats time 2010-01-01"),
    ("day,temp\n2010-01-01,14.0\n", r"has no time column"),
    ("t,temp,other\n2010-01-01,14.0,1\n", r"cannot tell which column holds sst"),
    ("t,temp\n", r"has no data rows"),
])
def test_malformed_csv_one_sentence_and_store_untouched(tmp_path, shared_data, text, message):
    good = shared_data / "sst" / NAME
    ingest(PID, [good], root=str(tmp_path), reader="point_csv", progress=False)
    store = tmp_path / f"{PID}.zarr"
    before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    bad = tmp_path / "sst_bad_9.125E_43.625N.csv"
    bad.write_text(text)
    with pytest.raises(SatCO2Error, match=message) as e:
        ingest(PID, [bad], root=str(tmp_path), reader="point_csv", progress=False)
    assert str(e.value).startswith("file sst_bad_9.125E_43.625N.csv") and str(e.value).count("\n") == 0
    assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == before


def test_location_and_option_errors(tmp_path):
    f = tmp_path / "pixel.csv"
    f.write_text("t,temp\n2010-01-01,14.0\n")
    with pytest.raises(SatCO2Error, match=r"pixel.csv gives no location.*--lat LAT --lon LON"):
        readers.get("point_csv").open_file(f, registry.get(PID))
    with pytest.raises(SatCO2Error, match="give both lat and lon"):
        readers.get("point_csv", lat=1.0)
    with pytest.raises(SatCO2Error, match=r"reader 'l3m' takes no option lat"):
        readers.get("l3m", lat=1.0, lon=2.0)
    with pytest.raises(SatCO2Error, match="reads one variable"):
        readers.get("point_csv").open_file(f, registry.get("global-rrs-modis-aqua-4km"))


def test_csv_given_to_the_gridded_reader_points_to_point_csv(real, tmp_path):
    path, _ = real
    with pytest.raises(SatCO2Error, match=r"is a CSV file, not NetCDF.*--reader point_csv"):
        ingest(PID, [path], root=str(tmp_path), progress=False)
    assert not any(tmp_path.iterdir())
