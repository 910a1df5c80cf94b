"""satco2 ingest: real sample files -> Zarr mirror; equality with netCDF4, idempotence, SIGKILL
resume, clear errors for wrong and corrupt files."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from satco2 import SatCO2Error, catalog
from satco2.catalog.ingest import ingest
from satco2.catalog.store import LEDGER, read_ledger

SEAWIFS = ["S20080012008031.L3m_MO_CHL_chlor_a_9km.nc", "S20092742009304.L3m_MO_CHL_chlor_a_9km.nc"]
MODIS = {
    "global-chl-modis-aqua-4km": ("AQUA_MODIS.20210101_20211231.L3m.YR.CHL.x_chlor_a.nc", "chlor_a"),
    "global-poc-modis-aqua-4km": ("AQUA_MODIS.20210101_20211231.L3m.YR.POC.x_poc.nc", "poc"),
}


def _direct(path: Path, var: str) -> np.ndarray:
    """Reference read: netCDF4 with its own masking/scaling, fills -> NaN, lat flipped ascending."""
    with netCDF4.Dataset(path) as nc:
        a = np.ma.filled(nc.variables[var][:].astype(np.float32), np.nan)
        lat = nc.variables["lat"][:]
    return a[::-1] if lat[0] > lat[-1] else a


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("pid", sorted(MODIS))
def test_ingest_modis_equals_direct_read(pid, shared_data, tmp_path):
    fname, var = MODIS[pid]
    rep = ingest(pid, [shared_data / "ocean_color" / fname], root=tmp_path, progress=False)
    assert rep.committed == [fname] and rep.n_time == 1
    ds = catalog.open(pid, source="mirror", root=str(tmp_path))
    got = ds[var].isel(time=0).values
    ref = _direct(shared_data / "ocean_color" / fname, var)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    assert np.isfinite(got).sum() > 300_000
    assert str(ds.time.values[0])[:10] == "2021-01-01"
    assert ds[var].attrs["units"] == "mg m-3"
    assert ds[var].attrs["standard_name"].startswith("mass_concentration")
    assert ds.lat.values[0] < ds.lat.values[-1]
    assert ds[var].chunks is not None
    if pid.startswith("global-poc"):  # int16 packed: decoded with scale 0.2, offset 6400
        with netCDF4.Dataset(shared_data / "ocean_color" / fname) as nc:
            v = nc.variables["poc"]
            v.set_auto_maskandscale(False)
            raw = v[:][::-1]
        ok = (raw != -32767) & (raw >= -32000) & (raw <= -27000)  # fill and valid_min/max
        assert np.isnan(got[~ok]).all()
        np.testing.assert_allclose(got[ok], raw[ok] * np.float32(0.2) + np.float32(6400), rtol=1e-6)


def test_ingest_ersst_netcdf_equals_direct(shared_data, tmp_path):
    f = shared_data / "sst" / "ersstv5_sst.mnmean_2010-2020.nc"
    ingest("extra-sst-ersst-2deg", [f], root=str(tmp_path), progress=False)
    ds = catalog.open("extra-sst-ersst-2deg", source="mirror", root=str(tmp_path))
    assert ds.sizes["time"] == 128
    with netCDF4.Dataset(f) as nc:
        ref = np.ma.filled(nc.variables["sst"][:].astype(np.float32), np.nan)[:, ::-1, :]
        lon = nc.variables["lon"][:]
    order = np.argsort(((lon + 180) % 360) - 180, kind="stable")
    np.testing.assert_array_equal(ds["sst"].values, ref[:, :, order])
    assert ds.lon.values.min() >= -180 and ds.lon.values.max() < 180


def test_reingest_is_idempotent_and_appends_in_time(shared_data, tmp_path):
    files = [shared_data / "ocean_color" / f for f in SEAWIFS]
    ingest("global-chl-seawifs-9km", files[1:], root=str(tmp_path), progress=False)
    ingest("global-chl-seawifs-9km", files[:1], root=str(tmp_path), progress=False)
    store = tmp_path / "global-chl-seawifs-9km.zarr"
    before = _tree(store)
    rep = ingest("global-chl-seawifs-9km", files, root=str(tmp_path), progress=False)
    assert rep.committed == [] and sorted(rep.skipped) == SEAWIFS
    assert _tree(store) == before  # not a byte changed
    ds = catalog.open("global-chl-seawifs-9km", source="mirror", root=str(tmp_path))
    assert [str(t)[:7] for t in ds.time.values] == ["2008-01", "2009-10"]  # sorted on open
    assert int(np.isfinite(ds.chlor_a.sel(time="2009-10")).sum()) == 179_561
    assert int(np.isfinite(ds.chlor_a.sel(time="2008-01")).sum()) == 11
    assert ds.chlor_a.encoding["chunks"] == (1, 720, 864)  # 2160 x 4320 split evenly in pieces <= 1024


def test_wrong_and_corrupt_files_leave_store_untouched(shared_data, tmp_path):
    good = shared_data / "ocean_color" / MODIS["global-chl-modis-aqua-4km"][0]
    ingest("global-chl-modis-aqua-4km", [good], root=str(tmp_path), progress=False)
    store = tmp_path / "global-chl-modis-aqua-4km.zarr"
    before = _tree(store)
    wrong = shared_data / "ocean_color" / "AQUA_MODIS.20210101_20211231.L3m.YR.SST.x_sst.nc"
    with pytest.raises(SatCO2Error, match=r"x_sst.nc has no variable chlor_a"):
        ingest("global-chl-modis-aqua-4km", [wrong], root=str(tmp_path), progress=False)
    binned = shared_data / "ocean_color" / "S2008001.L3b_DAY_RRS.nc"
    with pytest.raises(SatCO2Error, match=r"L3b_DAY_RRS.nc is a Level-3 binned"):
        ingest("global-chl-modis-aqua-4km", [binned], root=str(tmp_path), progress=False)
    corrupt = tmp_path / "AQUA_MODIS.20220101_20221231.L3m.YR.CHL.x_chlor_a.nc"
    data = good.read_bytes()
    corrupt.write_bytes(data[: len(data) // 2])  # truncated download
    with pytest.raises(SatCO2Error, match=r"20220101_20221231.*(corrupt|not a readable)"):
        ingest("global-chl-modis-aqua-4km", [corrupt], root=str(tmp_path), progress=False)
    # full length, but one compressed chunk damaged (a bit flip in transit): the fast decoder's
    # inflater rejects it and netCDF4-python names the file in one sentence
    import h5py

    with h5py.File(good) as h:
        d = h["chlor_a"]
        info = d.id.get_chunk_info(d.id.get_num_chunks() // 2)
    damaged = bytearray(data)
    damaged[info.byte_offset + info.size // 2: info.byte_offset + info.size // 2 + 64] = bytes(64)
    bad_chunk = tmp_path / "AQUA_MODIS.20240101_20241231.L3m.YR.CHL.x_chlor_a.nc"
    bad_chunk.write_bytes(bytes(damaged))
    with pytest.raises(SatCO2Error, match=r"^file \S*20240101_20241231\S* variable chlor_a cannot be read, the file is corrupt"):
        ingest("global-chl-modis-aqua-4km", [bad_chunk], root=str(tmp_path), progress=False)
    text = tmp_path / "AQUA_MODIS.20230101_20231231.L3m.YR.CHL.x_chlor_a.nc"
    text.write_text("<html>login required</html>")
    with pytest.raises(SatCO2Error, match=r"20230101_20231231.*not a readable NetCDF"):
        ingest("global-chl-modis-aqua-4km", [text], root=str(tmp_path), progress=False)
    other_grid = shared_data / "ocean_color" / SEAWIFS[1]
    with pytest.raises(SatCO2Error, match=r"different lat grid"):
        ingest("global-chl-modis-aqua-4km", [other_grid], root=str(tmp_path), progress=False)
    with pytest.raises(SatCO2Error, match="does not exist"):
        ingest("global-chl-modis-aqua-4km", [tmp_path / "missing.nc"], root=str(tmp_path), progress=False)
    assert _tree(store) == before
    with pytest.raises(SatCO2Error, match="unknown product id"):
        ingest("global-chl-modis", [good], root=str(tmp_path), progress=False)
    with pytest.raises(SatCO2Error, match="not supported yet"):
        ingest("global-npp-modis-vgpm-9km", [good], root=str(tmp_path), progress=False)


#: ``satco2 ingest`` in a child process that SIGKILLs itself at the worst moment: the data of a
#: later file are written, its ledger (the commit) is not. The kill is injected at zarr's attribute
#: write, the one step that commits; the ingest's own code runs unchanged.
KILLED_BEFORE_COMMIT = """
import os, signal, sys
import zarr.core.attributes as za
from satco2.cli import main
_set = za.Attributes.__setitem__
def _set_or_die(self, key, value):
    if key == {ledger!r} and value.get("n_time", 0) >= {n_time}:
        os.kill(os.getpid(), signal.SIGKILL)
    _set(self, key, value)
za.Attributes.__setitem__ = _set_or_die
sys.argv = ["satco2", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_sigkill_mid_ingest_then_rerun_equals_uninterrupted(shared_data, tmp_path):
    from satco2.testing.writers import write_l3m

    # two real SeaWiFS months + one synthetic L3m file on the same 9 km grid
    src = tmp_path / "src"
    src.mkdir()
    for f in SEAWIFS:
        shutil.copy(shared_data / "ocean_color" / f, src / f)
    write_l3m(src / "S20100012010031.L3m_MO_CHL_chlor_a_9km.nc", nlat=2160, seed=1)
    files = sorted(str(p) for p in src.iterdir())
    pid = "global-chl-seawifs-9km"
    ref_root, run_root = tmp_path / "ref", tmp_path / "run"
    ingest(pid, files, root=str(ref_root), progress=False)  # uninterrupted reference
    # killed once the 2nd file's data are written (time array resized to 2), before its commit
    script = KILLED_BEFORE_COMMIT.format(ledger=LEDGER, n_time=2)
    proc = subprocess.run([sys.executable, "-c", script, "ingest", pid, *files, "--root", str(run_root), "-q"],
                          capture_output=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    store = run_root / f"{pid}.zarr"
    assert json.loads((store / "time" / "zarr.json").read_text())["shape"][0] >= 2  # uncommitted data on disk
    # readable, complete up to the last committed step (1 file)
    assert read_ledger(str(store))["n_time"] == 1
    part = catalog.open(pid, source="mirror", root=str(run_root))
    assert part.sizes["time"] == 1
    assert np.isfinite(part.chlor_a.values).sum() > 0
    # rerun finishes it; the result equals the uninterrupted run
    rep = ingest(pid, files, root=str(run_root), progress=False)
    assert rep.skipped == [Path(files[0]).name] and len(rep.committed) == 2
    a = catalog.open(pid, source="mirror", root=str(run_root)).load()
    b = catalog.open(pid, source="mirror", root=str(ref_root)).load()
    xr.testing.assert_identical(a, b)
    assert read_ledger(str(store)) == read_ledger(str(ref_root / f"{pid}.zarr"))
    assert not [p for p in run_root.iterdir() if p.name.startswith(".")]


def test_cli_error_is_one_line(tmp_path, shared_data):
    wrong = shared_data / "ocean_color" / "AQUA_MODIS.20210101_20211231.L3m.YR.SST.x_sst.nc"
    r = subprocess.run([sys.executable, "-m", "satco2", "ingest", "global-chl-modis-aqua-4km", str(wrong),
                        "--root", str(tmp_path), "-q"], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().startswith("error: file AQUA_MODIS") and r.stderr.strip().count("\n") == 0
    assert not any(tmp_path.iterdir())


def test_ingest_gml_text_time_series(shared_data, tmp_path):
    f = shared_data / "atmospheric_co2" / "co2_mm_gl.txt"
    ingest("extra-xco2-noaa-gml", [f], root=str(tmp_path), progress=False)
    ds = catalog.open("extra-xco2-noaa-gml", source="mirror", root=str(tmp_path))
    rows = [line.split() for line in f.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert ds.sizes["time"] == len(rows) and set(ds.dims) == {"time"}
    np.testing.assert_allclose(ds.xco2.values, [float(r[3]) for r in rows], rtol=1e-6)
    assert str(ds.time.values[0])[:7] == f"{int(rows[0][0]):04d}-{int(rows[0][1]):02d}"
    assert ds.xco2.attrs["units"] == "1e-6"
    with pytest.raises(SatCO2Error, match="line .* is not a GML row"):
        bad = tmp_path / "co2_bad.txt"
        bad.write_text("# header\n2020 1 2020.04 410.1\nnot numbers here\n")
        ingest("extra-xco2-noaa-gml", [bad], root=str(tmp_path), progress=False)


def test_chunks_written_directly_equal_zarrs_own_encoding(tmp_path):
    """The ingest writes appended chunks itself (local stores): the files must be the ones zarr
    writes for the same values, edge chunks (padded) and all-fill chunks (absent) included."""
    import zarr

    from satco2.catalog import readers, registry
    from satco2.catalog.store import zarr_store
    from satco2.testing.writers import write_l3m

    src = tmp_path / "src"
    src.mkdir()
    # 1025 x 2050: chunks 513 x 684, so the last row and column of chunks are partial
    files = [write_l3m(src / f"S20100{m}12010{m}28.L3m_MO_CHL_chlor_a_9km.nc", nlat=1025, seed=m) for m in (1, 2, 3)]
    with netCDF4.Dataset(files[1], "a") as nc:  # a southern band of fill: all-fill chunks
        v = nc.variables["chlor_a"]
        v.set_auto_maskandscale(False)
        v[500:, :] = np.float32(-32767.0)  # the southern half after the flip to ascending lat
    pid = "global-chl-seawifs-9km"
    # three files: the first creates the store, the third is decoded into the first's recycled
    # memory (hdf5_chunks.recycle): every step must still equal its own file
    ingest(pid, files, root=str(tmp_path / "m"), progress=False)
    store = tmp_path / "m" / f"{pid}.zarr"
    got = zarr.open_array(zarr_store(str(store / "chlor_a")), mode="r")
    assert got.chunks == (1, 513, 684) and got.shape[0] == 3
    for k, f in enumerate(files):
        with netCDF4.Dataset(f) as nc:  # netCDF4-python's decode, flipped to ascending latitude
            ref = np.ma.filled(nc.variables["chlor_a"][::-1].astype(np.float32), np.nan)
        np.testing.assert_array_equal(got[k], ref)
    want = readers.get("l3m").open_file(files[1], registry.get(pid))["chlor_a"].values[0]
    np.testing.assert_array_equal(got[1], want)
    ref = zarr.create_array(zarr_store(str(tmp_path / "ref.zarr")), shape=got.shape, chunks=got.chunks,
                            dtype=got.dtype, compressors=got.compressors, fill_value=got.fill_value,
                            dimension_names=got.metadata.dimension_names)
    ref[1] = want
    mine = {p.relative_to(store / "chlor_a"): p.read_bytes() for p in (store / "chlor_a" / "c" / "1").rglob("*") if p.is_file()}
    theirs = {p.relative_to(tmp_path / "ref.zarr"): p.read_bytes() for p in (tmp_path / "ref.zarr" / "c" / "1").rglob("*") if p.is_file()}
    assert len(mine) < 6 and mine == theirs  # 2 x 3 chunks, the all-fill ones not stored


def _renamed_crop(shared_data, tmp_path, name="ersst_crop.nc", var="sea_surface_temperature", units="K",
                  midmonth=True):
    """A small crop of the real ERSST file with its variable renamed (and in K), its stamps moved
    to mid-month as many monthly products stamp them (issue 20: such a file could not be ingested)."""
    src = xr.open_dataset(shared_data / "sst" / "ersstv5_sst.mnmean_2010-2020.nc")
    crop = src[["sst"]].isel(time=slice(0, 3)).sel(lat=slice(40, 20), lon=slice(120, 140)).load()
    src.close()
    out = crop.rename({"sst": var})
    out[var] = out[var] + (np.float32(273.15) if units == "K" else 0)
    out[var].attrs = {"units": units, "long_name": "sea surface temperature"}
    if midmonth:
        out = out.assign_coords(time=out.time.values + np.timedelta64(14, "D"))
    out.to_netcdf(tmp_path / name)
    return tmp_path / name, crop


def test_ingest_variable_from_another_name_with_units_and_period_start(shared_data, tmp_path):
    f, crop = _renamed_crop(shared_data, tmp_path)
    pid = "extra-sst-ersst-2deg"
    with pytest.raises(SatCO2Error, match="has no variable sst"):
        ingest(pid, [f], root=str(tmp_path / "m0"), progress=False)
    rep = ingest(pid, [f], root=str(tmp_path), progress=False, variables={"sst": "sea_surface_temperature"})
    assert rep.n_time == 3
    ds = catalog.open(pid, source="mirror", root=str(tmp_path))
    # K -> degC, the ERSST values back to float32 rounding
    ref = crop["sst"].values[:, ::-1, :]
    np.testing.assert_allclose(ds["sst"].values, ref, atol=2e-5)
    assert ds["sst"].attrs["units"] == "degC"
    # mid-month stamps -> the first of the month (period start); the originals kept in the ledger
    assert [str(t)[:10] for t in ds.time.values] == ["2010-01-01", "2010-02-01", "2010-03-01"]
    entry = read_ledger(str(tmp_path / "extra-sst-ersst-2deg.zarr"))["files"][f.name]
    assert [t[:10] for t in entry["time_original"]] == ["2010-01-15", "2010-02-15", "2010-03-15"]
    assert entry["variables"] == {"sst": "sea_surface_temperature"}
    assert "time_original" in ds["time"].attrs["comment"]


def test_ingest_variable_refuses_incompatible_units_and_bad_names(shared_data, tmp_path):
    f, _ = _renamed_crop(shared_data, tmp_path, units="m")
    pid = "extra-sst-ersst-2deg"
    with pytest.raises(SatCO2Error, match=r"is in 'm', which cannot be converted to the product's units 'degC'"):
        ingest(pid, [f], root=str(tmp_path), progress=False, variables={"sst": "sea_surface_temperature"})
    with pytest.raises(SatCO2Error, match="has no variable chl"):
        ingest(pid, [f], root=str(tmp_path), progress=False, variables={"chl": "sea_surface_temperature"})
    with pytest.raises(SatCO2Error, match="has no variable nope"):
        ingest(pid, [f], root=str(tmp_path), progress=False, variables={"sst": "nope"})
    assert not (tmp_path / "extra-sst-ersst-2deg.zarr").exists()


def test_ingest_cli_variable_option(shared_data, tmp_path):
    from typer.testing import CliRunner

    from satco2.cli import app

    f, _ = _renamed_crop(shared_data, tmp_path, units="degC", midmonth=False)
    r = CliRunner().invoke(app, ["ingest", "extra-sst-ersst-2deg", str(f), "--root", str(tmp_path), "-q",
                                 "--variable", "sst=sea_surface_temperature"])
    assert r.exit_code == 0, r.output
    ds = catalog.open("extra-sst-ersst-2deg", source="mirror", root=str(tmp_path))
    assert ds.sizes["time"] == 3 and str(ds.time.values[0])[:10] == "2010-01-01"
    assert "time_original" not in read_ledger(str(tmp_path / "extra-sst-ersst-2deg.zarr"))["files"][f.name]
    r = CliRunner().invoke(app, ["ingest", "extra-sst-ersst-2deg", str(f), "--root", str(tmp_path), "-q",
                                 "--variable", "sst"])
    assert r.exit_code != 0 and "NAME=SOURCE_NAME" in (r.output + str(r.exception))


def test_period_start_rules():
    from satco2.catalog.ingest import period_start

    t = ["2010-01-15T12:00", "2010-02-28T23:00", "2012-12-31"]
    assert [str(x)[:10] for x in period_start(t, "monthly")] == ["2010-01-01", "2010-02-01", "2012-12-01"]
    assert [str(x) for x in period_start(t, "daily")][:1] == ["2010-01-15 00:00:00"]
    assert str(period_start(t, "annual")[2])[:10] == "2012-01-01"


def test_ingest_real_l4_cube_whose_variable_is_CHL(shared_data, tmp_path):
    # the real Copernicus GlobColour L4 cube names its variable CHL in 'milligram m-3'
    f = shared_data / "ocean_color" / "SeineMSP_dataset-oc-glo-bio-multi-l4-chl_4km_monthly-rep_1592571915166.nc"
    pid = "global-chl-occci-4km"
    with pytest.raises(SatCO2Error, match="has no variable chlor_a"):
        ingest(pid, [f], root=str(tmp_path), progress=False)
    rep = ingest(pid, [f], root=str(tmp_path), progress=False, variables={"chlor_a": "CHL"})
    assert rep.n_time == 262
    ds = catalog.open(pid, source="mirror", root=str(tmp_path))
    with netCDF4.Dataset(f) as nc:
        ref = np.ma.filled(nc.variables["CHL"][:].astype(np.float32), np.nan)[:, ::-1, :]
    np.testing.assert_array_equal(ds["chlor_a"].values, ref)
    assert str(ds.time.values[0])[:10] == "1997-09-01" and ds["chlor_a"].attrs["units"] == "mg m-3"


def test_ingest_mauna_loa_record(shared_data, tmp_path):
    """The second xCO2 record (extra-xco2-noaa-mlo): the real GML Mauna Loa table, missing-month
    flags (-9.99 st.dev) do not drop the interpolated averages."""
    f = shared_data / "atmospheric_co2" / "co2_mm_mlo.txt"
    ingest("extra-xco2-noaa-mlo", [f], root=str(tmp_path), progress=False)
    ds = catalog.open("extra-xco2-noaa-mlo", source="mirror", root=str(tmp_path))
    rows = [line.split() for line in f.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert ds.sizes["time"] == len(rows) and str(ds.time.values[0])[:7] == "1958-03"
    np.testing.assert_allclose(ds.xco2.values, [float(r[3]) for r in rows], rtol=1e-6)


def test_ingest_era5_file_of_the_new_cds(tmp_path):
    """An ERA5 monthly 10-m wind file as the new CDS writes it (dimension valid_time, latitude
    descending, longitude 0-360, si10 in 'm s**-1'): ingested as extra-ssw-era5-25km with time,
    ascending lat and -180..180 lon. The values are a TEST pattern, not ERA5's."""
    t = np.array(["2010-07-01", "2010-08-01"], "datetime64[ns]")
    lat, lon = np.arange(90.0, -90.01, -30.0), np.arange(0.0, 359.9, 45.0)
    si10 = (5.0 + np.arange(t.size)[:, None, None] + lat[None, :, None] / 100
            + lon[None, None, :] / 1000).astype("float32")
    src = xr.Dataset({"si10": (("valid_time", "latitude", "longitude"), si10, {"units": "m s**-1"})},
                     coords={"valid_time": t, "latitude": lat, "longitude": lon})
    f = tmp_path / "era5_si10_2010.nc"
    src.to_netcdf(f)
    ingest("extra-ssw-era5-25km", [f], root=str(tmp_path / "m"), progress=False)
    ds = catalog.open("extra-ssw-era5-25km", source="mirror", root=str(tmp_path / "m"))
    assert ds.sizes["time"] == 2 and (np.diff(ds.lat.values) > 0).all() and ds.lon.values.max() < 180
    v = float(ds.wind_speed.sel(time="2010-08-01", lat=30.0, lon=-90.0))
    assert v == pytest.approx(5.0 + 1 + 0.3 + 270 / 1000, rel=1e-6)


def test_every_source_applies_the_period_start_rule_of_ingest(shared_data, tmp_path, demo_store):
    """Issue 20: the upstream source kept a file's mid-month stamps while ``satco2 ingest`` moved
    them to the period start. One rule (:func:`satco2.catalog.periods.to_period_start`) now runs
    for every source: upstream (files read by the reader from their URLs) gives the same ``time``
    as the mirror ingest wrote, with the replaced stamps in the ``time_original`` attribute."""
    site = tmp_path / "site"
    site.mkdir()
    files = []
    for i in range(2):  # one month per file, stamped mid-month, as the archive would serve it
        f, _ = _renamed_crop(shared_data, tmp_path, name=f"crop{i}.nc", var="sst", units="degC")
        one = xr.open_dataset(f).isel(time=[i]).load()
        one.to_netcdf(site / f"ersst_{pd.Timestamp(one.time.values[0]):%Y%m}.nc")
        files.append(site / f"ersst_{pd.Timestamp(one.time.values[0]):%Y%m}.nc")
    pid = "extra-sst-ersst-2deg"
    ds = catalog.open(pid, source="upstream", time=("2010-01", "2010-02"),
                      urls={"monthly": str(site) + "/ersst_{start:%Y%m}.nc"}, cache=tmp_path / "cache")
    assert [str(t)[:10] for t in ds.time.values] == ["2010-01-01", "2010-02-01"]
    assert ds["time"].attrs["time_original"][0][:10] == "2010-01-15"  # the first file's own stamp
    assert "time_original" in ds["time"].attrs["comment"]
    ingest(pid, files, root=str(tmp_path / "m"), progress=False)
    mirror = catalog.open(pid, source="mirror", root=str(tmp_path / "m"))
    np.testing.assert_array_equal(mirror.time.values, ds.time.values)
    np.testing.assert_allclose(mirror["sst"].values, ds["sst"].values)
    # a selection by the period's first day finds the mid-month step (it did not upstream)
    assert catalog.open(pid, source="upstream", time=("2010-01-01", "2010-01-01"),
                        urls={"monthly": str(site) + "/ersst_{start:%Y%m}.nc"},
                        cache=tmp_path / "cache").sizes["time"] == 1
    # demo stores are already at period starts: unchanged, no attribute
    demo = catalog.open(pid, source="demo")
    assert "time_original" not in demo["time"].attrs


def test_period_start_rule_refuses_two_stamps_in_one_period():
    from satco2.catalog import periods

    ds = xr.Dataset({"sst": ("time", [1.0, 2.0])},
                    coords={"time": pd.to_datetime(["2010-01-05", "2010-01-20"])})
    with pytest.raises(SatCO2Error, match=r"^x upstream has two time steps in the same monthly period "
                                          r"\(2010-01-01\); product extra-sst-ersst-2deg holds one per period\.$"):
        periods.to_period_start(ds, catalog.get("extra-sst-ersst-2deg"), "x upstream")


def test_chunk_files_are_written_in_place_without_following_links(tmp_path):
    """Uncommitted chunks are written in place (no temporary name): missing key folders are
    made, a stale file is replaced whole, and a link planted at a chunk's path is refused."""
    from satco2.catalog.ingest import _write_chunk_file

    path = tmp_path / "c" / "3" / "0" / "1"
    _write_chunk_file(path, b"x" * 10)
    _write_chunk_file(path, b"abc")
    assert path.read_bytes() == b"abc"
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    link = tmp_path / "c" / "3" / "0" / "2"
    link.symlink_to(victim)
    with pytest.raises(OSError):
        _write_chunk_file(link, b"evil")
    assert victim.read_bytes() == b"keep"
