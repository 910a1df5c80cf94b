"""Validation: parsers of the real in-situ files, user CSVs, malformed files, match-ups, statistics."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import satco2
from satco2.science import validation as v
from satco2.science.gas_exchange import fco2_to_pco2, pco2_to_fco2


def test_socat_underway_csv(shared_data):
    path = shared_data / "pco2" / "WFCH20220615.csv"
    assert v.detect_format(path) == "socat"
    df = v.read_observations(path)
    # PROVENANCE.md: 1863 valid seawater fCO2 values 132-358 µatm, around Svalbard, June 2022
    assert 1800 < len(df) <= 1863
    assert df.fco2sw.min() >= 132 and df.fco2sw.max() <= 359
    assert df.time.min() >= pd.Timestamp("2022-06-15") and df.time.max() < pd.Timestamp("2022-06-24")
    assert df.lat.between(78, 81.1).all() and df.lon.between(9, 34).all()
    # pCO2 > fCO2 by the virial correction (~0.3-0.4 % in cold water)
    ratio = df.pco2sw / df.fco2sw
    assert ratio.between(1.002, 1.006).all()


def test_mapco2_cr_line_endings(shared_data):
    path = shared_data / "pco2" / "HOGREEF.tsv"
    assert b"\r" in path.read_bytes()[:2000] and b"\n" not in path.read_bytes()[:2000]
    df = v.read_observations(path)
    assert v.detect_format(path) == "mapco2"
    assert len(df) > 550  # 604 records, a few without pCO2
    assert df.time.min() == pd.Timestamp("2014-07-23 03:17")
    assert df.lat.iloc[0] == pytest.approx(32.457) and df.lon.iloc[0] == pytest.approx(-64.824)
    # the file's own pCO2 and fCO2 columns agree with our Weiss (1974) conversion to 0.15 µatm
    ours = fco2_to_pco2(df.fco2sw.astype(float).values, df.sst.astype(float).values, 1.0)
    assert np.nanmax(np.abs(ours - df.pco2sw.values)) < 0.15


def test_user_csv_with_fco2_converted(tmp_path):
    p = tmp_path / "cruise.csv"
    p.write_text(
        "Time,Latitude,Longitude,SST,fCO2\n"
        "2010-07-03T02:00:00Z,30.05,123.05,27.0,350.0\n"
        "2010-07-03T03:00:00Z,30.15,123.25,26.5,-999\n"
        "2010-07-04 04:00,29.55,122.55,25.0,300.0\n"
    )
    df = v.read_observations(p)
    assert len(df) == 2 and df.attrs["format"] == "csv"
    np.testing.assert_allclose(pco2_to_fco2(df.pco2sw.values, df.sst.values), [350.0, 300.0])
    assert (df.pco2sw > df.fco2sw).all()


def test_user_csv_with_pco2_semicolon(tmp_path):
    p = tmp_path / "buoy.csv"
    p.write_text("date;lat;lon;pCO2_uatm\n2011-01-15;31.0;124.0;380.5\n")
    df = v.read_observations(p)
    assert df.pco2sw.tolist() == [380.5]


@pytest.mark.parametrize(
    "content, message",
    [
        ("time,lat,pco2\n2010-01-01,30,400\n", "no lon column"),
        ("time,lat,lon,sst\n2010-01-01,30,120,20\n", "no pCO2 or fCO2 column"),
        ("time,lat,lon,fco2\n2010-01-01,30,120,380\n", "needs a temperature"),
        ("time,lat,lon,pco2\nnot-a-date,30,120,380\n", "no parsable date"),
        ("time,lat,lon,pco2\n2010-01-01,130,120,380\n", "outside the globe"),
        ("time,lat,lon,pco2\n2010-01-01,30,120,abc\n", "not numeric"),
        ("time,lat,lon,pco2\n2010-01-01,30,120,-999\n", "no valid values"),
    ],
)
def test_malformed_files_name_file_and_problem(tmp_path, content, message):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    with pytest.raises(satco2.SatCO2Error, match=message) as e:
        v.read_observations(p)
    assert "bad.csv" in str(e.value)


def test_malformed_socat_and_missing_file(tmp_path):
    p = tmp_path / "cut.csv"
    p.write_text("Expocode: X\nShip: Y\nExpocode,YD_UTC,LAT_dec_degree\nX,1,30\n")
    with pytest.raises(satco2.SatCO2Error, match=r"cut.csv.*missing columns"):
        v.read_observations(p)
    with pytest.raises(satco2.SatCO2Error, match="does not exist"):
        v.read_observations(tmp_path / "nope.csv")
    with pytest.raises(satco2.SatCO2Error, match="unknown observation format"):
        v.read_observations(p, format="xls")


def test_statistics_known_values():
    obs = np.array([300.0, 350.0, 400.0, np.nan])
    mod = np.array([310.0, 340.0, 420.0, 500.0])
    s = v.statistics(obs, mod)
    assert s["n"] == 3
    assert s["mean_bias"] == pytest.approx(20 / 3)
    assert s["rmse"] == pytest.approx(np.sqrt((100 + 100 + 400) / 3))
    assert s["r2"] == pytest.approx(np.corrcoef(obs[:3], mod[:3])[0, 1] ** 2)
    assert v.statistics([1.0], [np.nan])["n"] == 0
    with pytest.raises(satco2.SatCO2Error):
        v.statistics([1.0, 2.0], [1.0])


def test_matchups_pick_month_and_cell():
    lat = np.arange(29.05, 31.0, 0.1)
    lon = np.arange(122.05, 124.0, 0.1)
    time = pd.date_range("2010-06-01", periods=3, freq="MS")
    field = (np.arange(3)[:, None, None] * 1000 + np.arange(lat.size)[None, :, None] * 10
             + np.arange(lon.size)[None, None, :])
    ds = xr.Dataset({"pco2sw": (("time", "lat", "lon"), field.astype(float))},
                    coords={"time": time, "lat": lat, "lon": lon}).chunk({"time": 1})
    obs = pd.DataFrame({
        "time": pd.to_datetime(["2010-07-10", "2010-07-20", "2010-08-31", "2012-01-01", "2010-07-01"]),
        "lat": [29.26, 29.24, 30.91, 30.0, 35.0],
        "lon": [122.33, 122.36, 123.96, 123.0, 123.0],
        "pco2sw": [1.0, 3.0, 5.0, 7.0, 9.0],
    })
    m = v.matchups(ds, obs)
    assert len(m) == 2  # two obs share one cell-month; out-of-period and out-of-grid dropped
    first = m.sort_values("time").iloc[0]
    assert first.n_obs == 2 and first.obs_pco2sw == 2.0
    assert first.model_pco2sw == 1000 + 2 * 10 + 3
    last = m.sort_values("time").iloc[1]
    assert last.model_pco2sw == 2000 + 19 * 10 + 19  # 30.91N -> cell 30.95N
