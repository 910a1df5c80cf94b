"""RSS binary bytemaps (reader ``rss_bytemap``) on a REAL RSS GMI v8.2 daily file.

The reference is an independent direct read of the bytes (gzip + numpy, layout and scale/offset
as RSS's published GMI read routine states them) and, for physics, NOAA ERSST v5 of the same month
(shared sample data). The registry's bytemap product is WindSat, for which no real file could be
found; so the GMI file is ingested into a GMI product written in a registry of its own
(``SATCO2_CATALOG_DIR``), built from the registry's WindSat entry. See tests/data/rss_bytemap/.
"""
from __future__ import annotations

import copy
import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from satco2 import SatCO2Error, catalog
from satco2.catalog import readers, registry
from satco2.catalog.ingest import ingest

DATA = Path(__file__).resolve().parents[1] / "data" / "rss_bytemap"
GMI = DATA / "f35_20161001v8.2.gz"
PID = "global-ssw-gmi-25km"
# RSS gmi_daily_v8.py: file = uint8[pass=2, variable=7, lat=720, lon=1440], variable order
# time, sst, windLF, windMF, vapor, cloud, rain; (index, scale, offset) of the two used here
RSS_GMI = {"sst": (1, 0.15, -3.0), "windLF": (2, 0.2, 0.0)}


def _gmi_entry() -> dict:
    """A GMI product: the registry's WindSat entry with the sensor-specific fields changed."""
    e = copy.deepcopy(registry.get("global-ssw-windsat-25km").raw)
    e.update(id=PID, sensor="GMI", sensor_short="gmi",
             citation="Remote Sensing Systems GMI Daily Environmental Suite on 0.25 deg grid, "
                      "Version 8.2, www.remss.com")
    e["variables"]["sst"] = {"units": "degC", "long_name": "sea surface temperature",
                             "standard_name": "sea_surface_subskin_temperature", "source_name": "sst"}
    e["upstream"]["urls"] = {"daily": "https://data.remss.com/gmi/bmaps_v08.2/y{time:%Y}/m{time:%m}/f35_{time:%Y%m%d}v8.2.gz"}
    e["upstream"]["file_naming"] = "f35_<YYYYMMDD|YYYYMM>v8.2.gz"
    e["mirror"]["path"] = f"{PID}.zarr"
    return e


@pytest.fixture
def gmi_registry(tmp_path, monkeypatch):
    """A catalog folder whose registry holds the real entries plus the GMI product."""
    doc = yaml.safe_load(registry.registry_path().read_text())
    doc["products"].append(_gmi_entry())
    registry.validate(doc, "the test registry")
    cat = tmp_path / "catalogs"
    cat.mkdir()
    (cat / "products.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    monkeypatch.setenv("SATCO2_CATALOG_DIR", str(cat))
    return registry.get(PID)


def _direct(var: str) -> np.ndarray:
    """Daily value on the catalog grid: mean of the valid passes, codes > 250 -> NaN, lon -180..180."""
    raw = np.frombuffer(gzip.open(GMI).read(), dtype=np.uint8).reshape(2, 7, 720, 1440)
    i, scale, offset = RSS_GMI[var]
    b = raw[:, i].astype(np.float64)
    v = np.where(b <= 250, b * scale + offset, np.nan)
    with np.errstate(invalid="ignore"):
        day = np.nansum(v, axis=0) / np.isfinite(v).sum(axis=0)  # NaN where no valid pass
    return np.roll(day, -720, axis=1).astype(np.float32)  # 0.125..359.875 E -> -179.875..179.875


def test_registry_product_uses_the_reader():
    rd = readers.get(registry.get("global-ssw-windsat-25km").reader)
    assert rd.name == "rss_bytemap"


def test_real_gmi_file_equals_direct_read(gmi_registry):
    ds = readers.get("rss_bytemap").open_file(GMI, gmi_registry)
    assert list(ds["time"].values.astype("datetime64[D]").astype(str)) == ["2016-10-01"]
    np.testing.assert_allclose(ds.lat.values, -89.875 + 0.25 * np.arange(720))
    np.testing.assert_allclose(ds.lon.values, -179.875 + 0.25 * np.arange(1440))
    for name, src in (("wind_speed", "windLF"), ("sst", "sst")):
        got, ref = ds[name].isel(time=0).values, _direct(src)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-5)
    assert 300_000 < np.isfinite(ds["wind_speed"]).sum() < 720 * 1440 * 0.5
    assert ds["wind_speed"].attrs["units"] == "m s-1" and ds["wind_speed"].attrs["standard_name"] == "wind_speed"
    assert ds.attrs["rss_sensor"] == "GMI" and ds.attrs["source_file"] == GMI.name


def test_real_gmi_sst_agrees_with_ersst_of_the_month(gmi_registry, shared_data):
    """Physics check independent of the byte layout: GMI SST of 2016-10-01 on ERSST v5's 2 deg
    grid against ERSST October 2016 (a wrong orientation, offset or scale would break this)."""
    g = readers.get("rss_bytemap").open_file(GMI, gmi_registry)["sst"].isel(time=0)
    g = g.coarsen(lat=8, lon=8, boundary="trim").mean()
    e = xr.open_dataset(shared_data / "sst" / "ersstv5_sst.mnmean_2010-2020.nc")["sst"].sel(time="2016-10-01")
    e = e.assign_coords(lon=((e.lon + 180) % 360) - 180).sortby("lon").interp(lat=g.lat, lon=g.lon)
    ok = np.isfinite(g.values) & np.isfinite(e.values)
    d = g.values[ok] - e.values[ok]
    assert ok.sum() > 5000
    assert abs(d.mean()) < 0.3 and np.sqrt((d ** 2).mean()) < 1.5
    assert np.corrcoef(g.values[ok], e.values[ok])[0, 1] > 0.98


def test_ingest_real_gmi_file_writes_a_cf_store(gmi_registry, tmp_path):
    root = tmp_path / "mirror"
    rep = ingest(PID, [GMI], root=str(root), progress=False)
    assert rep.committed == [GMI.name] and rep.n_time == 1
    ds = catalog.open(PID, source="mirror", root=str(root))
    assert ds["wind_speed"].chunks is not None
    np.testing.assert_allclose(ds["wind_speed"].isel(time=0).values, _direct("windLF"), rtol=1e-6, atol=1e-5)
    assert str(ds.time.values[0])[:10] == "2016-10-01"
    assert ds["sst"].attrs["units"] == "degC" and ds.lat.attrs["standard_name"] == "latitude"
    again = ingest(PID, [GMI], root=str(root), progress=False)
    assert again.skipped == [GMI.name] and again.n_time == 1


def test_truncated_wrong_and_misnamed_files_give_one_sentence(gmi_registry, tmp_path):
    root = tmp_path / "mirror"
    ingest(PID, [GMI], root=str(root), progress=False)
    store = root / f"{PID}.zarr"
    before = {p: p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()}
    bad = tmp_path / "bad"
    bad.mkdir()
    cut = bad / "f35_20161002v8.2.gz"
    cut.write_bytes(GMI.read_bytes()[: GMI.stat().st_size // 2])
    with pytest.raises(SatCO2Error, match=r"f35_20161002v8\.2\.gz is a damaged gzip file"):
        ingest(PID, [cut], root=str(root), progress=False)
    raw = bad / "f35_20161003v8.2"  # uncompressed but short
    raw.write_bytes(gzip.open(GMI).read()[:1_000_000])
    with pytest.raises(SatCO2Error, match=r"f35_20161003v8\.2 holds 1000000 bytes .* truncated or not a bytemap"):
        ingest(PID, [raw], root=str(root), progress=False)
    html = bad / "f35_20161004v8.2.gz"
    html.write_text("<html>login required</html>")
    with pytest.raises(SatCO2Error, match=r"f35_20161004v8\.2\.gz holds 27 bytes"):
        ingest(PID, [html], root=str(root), progress=False)
    named = bad / "gmi_day.gz"
    shutil.copy(GMI, named)
    with pytest.raises(SatCO2Error, match=r"gmi_day\.gz is not named like an RSS bytemap"):
        ingest(PID, [named], root=str(root), progress=False)
    assert {p: p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()} == before
    with pytest.raises(SatCO2Error, match=r"is an RSS GMI bytemap, but product global-ssw-windsat-25km reads wsat_\* files"):
        ingest("global-ssw-windsat-25km", [GMI], root=str(root), progress=False)
    assert not (root / "global-ssw-windsat-25km.zarr").exists()


@pytest.mark.parametrize("name, start, end", [
    ("f35_201610v8.2.gz", "2016-10-01", "2016-10-31"),          # monthly mean
    ("f35_20161001v8.2_d3d.gz", "2016-09-29", "2016-10-01"),    # 3-day mean ending on the date
    ("f35_20161001v8.2.gz", "2016-09-25", "2016-10-01"),        # weekly mean (told by its size)
])
def test_time_averaged_layout_and_period_from_the_name(gmi_registry, tmp_path, name, start, end):
    """Time-averaged files hold [variable, lat, lon] (RSS read_rss_mwr_averaged: sst, windLF,
    windMF, vapor, cloud, rain). Built here from the real file's morning pass (variables 1..6),
    only to check the layout and the period rules; the values come from the real file."""
    raw = np.frombuffer(gzip.open(GMI).read(), dtype=np.uint8).reshape(2, 7, 720, 1440)
    f = tmp_path / name
    f.write_bytes(gzip.compress(raw[0, 1:].tobytes(), compresslevel=1))
    ds = readers.get("rss_bytemap").open_file(f, gmi_registry)
    assert str(ds.time.values[0])[:10] == start
    assert (ds.attrs["time_coverage_start"], ds.attrs["time_coverage_end"]) == (start, end)
    b = np.roll(raw[0, 2], -720, axis=1).astype(np.float32)
    ref = np.where(b <= 250, b * np.float32(0.2), np.nan)
    np.testing.assert_allclose(ds["wind_speed"].isel(time=0).values, ref, rtol=1e-6)


def test_open_upstream_reads_bytemaps_through_the_url_template(gmi_registry, tmp_path):
    """catalog.open(source="upstream") with the archive's template pointed at a local folder."""
    ds = catalog.open(PID, source="upstream", time=("2016-10-01", "2016-10-01"),
                      urls={"daily": GMI.parent.as_uri() + "/f35_{time:%Y%m%d}v8.2.gz"},
                      cache=str(tmp_path / "cache"))
    assert ds["wind_speed"].chunks is not None and ds.attrs["catalog_source"] == "upstream"
    np.testing.assert_allclose(ds["wind_speed"].isel(time=0).values, _direct("windLF"), rtol=1e-6, atol=1e-5)
