"""The four carbon products (satco2.science.air_sea_flux): laziness, regridding, consistency; their
Zarr provenance and the pCO2-flux workflow (satco2.analyses.pco2_flux); demo truth."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import satco2
from satco2.analyses import pco2_flux
from satco2.science import air_sea_flux as asf
from satco2.science import gas_exchange as ge
from satco2.science import mesaa, regions
from satco2.testing import raise_if_dask_computes


def _grid(step, lon0=121.0, lat0=28.0, n=8):
    lat = np.round(np.arange(lat0 + step / 2, lat0 + n * 0.1, step), 6)
    lon = np.round(np.arange(lon0 + step / 2, lon0 + n * 0.1, step), 6)
    return lat, lon


def _da(values_fn, step, name, time, rng, chunks=True):
    lat, lon = _grid(step)
    data = values_fn(rng, (time.size, lat.size, lon.size))
    da = xr.DataArray(
        data, dims=("time", "lat", "lon"), name=name,
        coords={"time": time, "lat": ("lat", lat, {"standard_name": "latitude"}),
                "lon": ("lon", lon, {"standard_name": "longitude"})},
        attrs={"product_id": f"test-{name}", "synthetic": "yes"},
    )
    return da.chunk({"time": 1}) if chunks else da


@pytest.fixture()
def inputs():
    """Small synthetic inputs (documented: uniform random values in realistic ranges) on three
    different grids: SST/SSS/SLP 0.1°, chlorophyll 0.05° with NaN gaps, wind 0.2°; xCO2 a time
    series; SLP time stamps mid-month."""
    rng = np.random.default_rng(42)
    time = pd.date_range("2010-01-01", periods=3, freq="MS")

    def chl(r, s):
        c = 10 ** r.uniform(-0.8, 0.8, s)
        c[r.random(s) < 0.3] = np.nan
        return c

    xco2 = xr.DataArray(np.array([388.0, 389.5, 390.1]), dims="time", coords={"time": time},
                        attrs={"product_id": "test-xco2"}).chunk()
    return {
        "sst": _da(lambda r, s: r.uniform(8, 29, s), 0.1, "sst", time, rng),
        "sss": _da(lambda r, s: r.uniform(24, 34.5, s), 0.1, "sss", time, rng),
        "wind": _da(lambda r, s: r.uniform(2, 12, s), 0.2, "wind_speed", time, rng),
        "chl": _da(chl, 0.05, "chlor_a", time, rng),
        "xco2": xco2,
        "slp": _da(lambda r, s: r.uniform(100500, 102500, s), 0.1, "slp",
                   time + pd.Timedelta(days=14), rng),
    }


def test_products_are_lazy_and_consistent(inputs):
    with raise_if_dask_computes():
        ds = asf.compute_products(inputs, k_param="N00")
    assert set(asf.PRODUCT_VARS) <= set(ds.data_vars)
    assert all(ds[v].chunks is not None for v in asf.PRODUCT_VARS)
    ds = ds.compute()
    assert ds.sizes == {"time": 3, "lat": 8, "lon": 8}
    np.testing.assert_allclose(ds.dpco2, ds.pco2sw - ds.pco2air)
    # wind regridded from 0.2° by nearest cell; chl from 0.05° by 2x2 block means (NaN skipped)
    w = inputs["wind"].values
    np.testing.assert_allclose(ds.wind_speed.values, np.repeat(np.repeat(w, 2, 1), 2, 2))
    c = inputs["chl"].values.reshape(3, 8, 2, 8, 2)
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        cm = np.nanmean(c, axis=(2, 4))
    bio = mesaa.bio_log10(cm, **mesaa.load_config("ecs").bio_coefficients)
    np.testing.assert_allclose(ds.dpco2_bio.values, bio)
    # flux from the package's kernels on the aligned inputs
    expected = ge.flux(ge.k_N00(ds.wind_speed.values, ds.sst.values),
                       ge.K0_W74(ds.sst.values, ds.sss.values), ds.dpco2.values)
    np.testing.assert_allclose(ds.flux.values, expected, rtol=1e-10)
    # xCO2 series broadcast; SLP aligned to month start despite mid-month stamps
    pa = ge.pco2_air(388.0, inputs["slp"].values[0], inputs["sst"].values[0], inputs["sss"].values[0])
    np.testing.assert_allclose(ds.pco2air.values[0], pa)
    assert ds.flux.attrs["units"] == "mmol m-2 d-1"


def test_write_products_provenance(inputs, tmp_path):
    ds = asf.compute_products(inputs, parameters={"region": "test"})
    p = pco2_flux.write_products(ds, tmp_path / "products.zarr")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["products.zarr"]  # no temp leftovers
    back = xr.open_zarr(p)
    assert back.flux.dtype == np.float32
    a = back.attrs
    assert "sst=test-sst" in a["input_products"] and "xco2=test-xco2" in a["input_products"]
    assert json.loads(a["parameters"]) == {"k_param": "W14", "mesaa_config": "ecs",
                                           "resolution": None, "region": "test"}
    assert a["code_version"].startswith("satco2 ")
    assert a["synthetic"] == "yes" and a["Conventions"] == "CF-1.8"
    assert "mesaa_needs_citation" in a
    assert back.lat.attrs["standard_name"] == "latitude"
    np.testing.assert_allclose(back.flux.values, ds.flux.values.astype(np.float32), rtol=1e-6)


def test_failed_write_leaves_nothing(inputs, tmp_path):
    ds = asf.compute_products(inputs)
    good = pco2_flux.write_products(ds, tmp_path / "p.zarr")
    before = xr.open_zarr(good).flux.values

    def boom(block, block_info=None):  # the last month fails mid-write (e.g. a worker dies)
        if block_info[0]["chunk-location"][0] == 2:
            raise RuntimeError("simulated failure while writing")
        return block + 1.0

    bad = ds.assign(flux=ds.flux.copy(data=ds.flux.data.map_blocks(boom, dtype=float)))
    with pytest.raises(RuntimeError, match="simulated failure"):
        pco2_flux.write_products(bad, good)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["p.zarr"]
    np.testing.assert_array_equal(xr.open_zarr(good).flux.values, before)


def test_bad_parameters(inputs):
    with pytest.raises(satco2.SatCO2Error, match="unknown gas-transfer"):
        asf.compute_products(inputs, k_param="L86")
    with pytest.raises(satco2.SatCO2Error, match="inputs chl"):
        asf.compute_products({k: v for k, v in inputs.items() if k != "chl"})
    late = dict(inputs, slp=inputs["slp"].assign_coords(time=inputs["slp"].time + pd.Timedelta(days=400)))
    with pytest.raises(satco2.SatCO2Error, match="share no month"):
        asf.compute_products(late)


def test_regional_summary_spread(inputs):
    ds = asf.compute_products(inputs).compute()
    s = asf.regional_summary(ds).compute()
    assert list(s.k_param.values) == list(ge.K_PARAMETERIZATIONS)
    area = ge.cell_area_WGS84(ds.lat.values, ds.lon.values)
    f = ds.flux.values[0]
    mean = np.nansum(f * area) / np.sum(area * np.isfinite(f))
    assert float(s.flux_mean.sel(k_param="W14")[0]) == pytest.approx(mean)
    expected = mean * area.sum() * 1e-3 * 12.0107 * 365.25 / 1e12
    assert float(s.budget.sel(k_param="W14")[0]) == pytest.approx(expected)
    # the spread across parameterizations is non-zero
    assert float(s.budget.std("k_param").max()) > 0


@pytest.mark.slow
def test_recovers_injected_demo_flux(demo_store):
    """Products from the demo inputs reproduce the generator's plain-numpy truth where Chl is
    not cloudy (LUT interpolation, float32 storage: within 0.5 % / 0.05 mmol m-2 d-1)."""
    bbox, period = (121.0, 27.0, 125.0, 32.0), ("2010-07", "2010-08")
    inputs = pco2_flux.open_inputs(bbox=bbox, time=period, source="demo")
    ds = asf.compute_products(inputs).compute()
    truth = xr.open_zarr(demo_store / "ecs" / "truth" / "flux.zarr")
    truth = truth.sel(time=ds.time, lat=ds.lat, lon=ds.lon, method="nearest").compute()
    ok = np.isfinite(ds.flux.values)
    assert ok.sum() > 500
    np.testing.assert_allclose(ds.pco2air.values[ok], truth.pco2air.values[ok], rtol=1e-5)
    np.testing.assert_allclose(ds.pco2sw.values[ok], truth.pco2sw.values[ok], rtol=5e-3)
    np.testing.assert_allclose(ds.flux.values[ok], truth.flux.values[ok], rtol=5e-3, atol=0.05)


def test_run_analysis_rejects_bad_inputs_before_computing(tmp_path):
    bad = tmp_path / "obs.csv"
    bad.write_text("time,lat,pco2\n2010-01-01,30,400\n")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(satco2.SatCO2Error, match="obs.csv: no lon column"):
        pco2_flux.run_analysis("ecs", "2010-01", "2010-02", out, obs_file=str(bad))
    with pytest.raises(satco2.SatCO2Error, match="no MeSAA configuration"):
        pco2_flux.run_analysis("ecs", "2010-01", "2010-02", out, mesaa_config="atlantis")
    with pytest.raises(satco2.SatCO2Error, match="needs an observation file"):
        pco2_flux.run_analysis("ecs", "2010-01", "2010-02", out, fit_bio=True)
    with pytest.raises(satco2.SatCO2Error, match="atlantis"):
        pco2_flux.run_analysis("atlantis", "2010-01", "2010-02", out)
    assert list(out.iterdir()) == []


def test_resolution_regrids_to_a_coarser_grid(inputs):
    ds = asf.compute_products(inputs, resolution=0.2, bbox=(121.0, 28.0, 121.8, 28.8)).compute()
    assert ds.sizes["lat"] == 4 and ds.sizes["lon"] == 4
    np.testing.assert_allclose(ds.lat.values, [28.1, 28.3, 28.5, 28.7])
    sst = inputs["sst"].values.reshape(3, 4, 2, 4, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(ds.sst.values, sst, rtol=1e-12)


@pytest.mark.slow
def test_bio_term_fitted_to_observations_recovers_demo_coefficients(demo_store, tmp_path):
    """The demo truth uses the ECS config's bio term (a = -12.04, b = -40); a SYNTHETIC cruise
    sampled from the truth (pCO2, 3 µatm noise, seed 9) must give those coefficients back."""
    t = xr.open_zarr(demo_store / "ecs" / "truth" / "flux.zarr")
    chl = xr.open_zarr(demo_store / "ecs" / "global-chl-modis-aqua-4km.zarr").chlor_a
    box = dict(lat=slice(28.0, 32.0), lon=slice(121.0, 124.0), time=slice("2010-05", "2010-06"))
    p, c = t.pco2sw.sel(**box).load(), chl.sel(**box).load()
    ok = np.argwhere(np.isfinite(p.values) & np.isfinite(c.values))
    rng = np.random.default_rng(9)
    pick = ok[rng.choice(len(ok), 150, replace=False)]
    rows = [{"time": str(p.time.values[k])[:10], "lat": float(p.lat[i]), "lon": float(p.lon[j]),
             "pco2": float(p.values[k, i, j]) + rng.normal(0, 3)} for k, i, j in pick]
    obs = tmp_path / "cruise.csv"
    pd.DataFrame(rows).to_csv(obs, index=False)
    out = tmp_path / "run"
    out.mkdir()
    res = pco2_flux.run_analysis("changjiang_estuary", "2010-05", "2010-06", out, obs_file=str(obs),
                                 fit_bio=True)
    fit = res["stats"]["bio_fit"]
    cfg = mesaa.load_config("ecs")
    assert fit["n"] >= 100
    assert fit["a"] == pytest.approx(cfg.bio_coefficients["a"], abs=3.0)
    assert fit["b"] == pytest.approx(cfg.bio_coefficients["b"], abs=4.0)
    assert abs(res["stats"]["pco2sw"]["mean_bias"]) < 2.0
    assert "fitted" in res["products"].attrs["mesaa_region_config"]


def test_demo_inputs_are_plausible_and_documented(demo_store):
    """The ecs_surface demo (synthetic) carries the signals its SIGNALS promise."""
    from satco2.demo import ecs_surface

    d = demo_store / "ecs"
    sst = xr.open_zarr(d / "global-sst-oisst-25km.zarr").sst
    sss = xr.open_zarr(d / "global-sss-smos-25km.zarr").sss
    chl = xr.open_zarr(d / "global-chl-modis-aqua-4km.zarr").chlor_a
    xco2 = xr.open_zarr(d / "extra-xco2-noaa-gml.zarr")
    assert sst.attrs["units"] == "degC" and float(sst.min()) >= 8 and float(sst.max()) <= 30
    north = sst.sel(lat=slice(33, 35))
    assert float(north.sel(time="2010-02").mean()) < 14 < float(north.sel(time="2010-08").mean())
    # Changjiang plume: fresh near the mouth, salty offshore; floored at 21
    mouth = sss.sel(time="2010-07", lat=31.45, lon=122.45, method="nearest")
    assert float(mouth) < 28 and float(sss.sel(time="2010-07", lat=25, lon=128, method="nearest")) > 34
    assert float(sss.min()) >= 21
    # cloud gaps: 30-70 % of the ocean pixels of each month
    ocean = sst.isel(time=0).notnull()
    frac = (chl.isnull() & ocean).sum(("lat", "lon")) / ocean.sum()
    assert float(frac.min()) >= 0.25 and float(frac.max()) <= 0.75
    # real NOAA GML record: 2010-01 global marine-surface mean
    rec = ecs_surface.read_noaa_monthly()
    got = float(xco2.xco2.sel(time="2010-01").isel(lat=0, lon=0).squeeze())
    assert got == pytest.approx(rec["2010-01"].iloc[0], abs=1e-3)
    assert 385 < rec["2010-01"].iloc[0] < 392
    assert "synthetic" in ecs_surface.SIGNALS.lower() and "truth" in ecs_surface.SIGNALS


def test_summary_regions_are_the_named_regions_inside():
    names = pco2_flux.summary_regions("ecs", regions.bbox("ecs"))
    assert names[0] == "ecs" and "changjiang_estuary" in names
    assert "pearl_river_estuary" not in names  # 112-116E lies outside 117-131E
    assert pco2_flux.summary_regions("changjiang_estuary", (121.0, 28.0, 124.0, 32.0)) == ["changjiang_estuary"]


# --- flux_from_pco2: the in-memory fast path equals the general (lazy dask) path ----------------


def _flux_inputs(shape=(5, 13, 11), seed=7, dtype=np.float32):
    """Realistic random inputs (documented ranges) with NaN land/gap pixels in every field at
    different places, a whole NaN row, and an xCO2 time series in float64."""
    rng = np.random.default_rng(seed)
    nt, ny, nx = shape
    time = pd.date_range("2015-01-01", periods=nt, freq="MS")
    coords = {"time": time, "lat": np.linspace(25, 30, ny), "lon": np.linspace(120, 126, nx)}

    def field(name, lo, hi):
        v = rng.uniform(lo, hi, shape).astype(dtype)
        v[rng.random(shape) < 0.1] = np.nan
        v[:, 3, :] = np.nan  # a land row
        return xr.DataArray(v, dims=("time", "lat", "lon"), coords=coords, name=name,
                            attrs={"product_id": f"test-{name}"})

    xco2 = xr.DataArray(np.linspace(395.0, 401.0, nt), dims="time", coords={"time": time}, name="xco2")
    return [field("sst", 5, 30), field("sss", 25, 35), field("wind", 1, 15), field("pco2sw", 300, 480),
            xco2, field("slp", 99500, 102500)]


def _general(args, dtype=None):
    """The general path: every input a lazy dask array (a task per chunk, chunks that do not
    divide the grid; ``chunk()`` of numpy alone holds its chunks in memory)."""
    lazy = [a.chunk({d: {"time": 2, "lat": 5, "lon": 4}[d] for d in a.dims}) for a in args]
    lazy = [a.copy(data=a.data.map_blocks(np.copy, dtype=a.dtype)) if a.ndim else a for a in lazy]
    assert not any(asf._persisted_blocks(a.data) for a in lazy if a.ndim)
    with raise_if_dask_computes():
        out = asf.flux_from_pco2(*lazy, dtype=dtype)
    assert out.chunks is not None  # lazy inputs, lazy result
    return out.compute()


def _reference(args):
    sst, sss, wind, psw, xco2, slp = (a.values.astype(float) for a in args)
    pa = ge.pco2_air(xco2[:, None, None], slp, sst, sss)
    return ge.flux_kernel(sst, sss, wind, psw - pa, "W14")


@pytest.mark.parametrize("dtype", [None, np.float32, np.float64])
def test_flux_from_pco2_numpy_path_equals_the_general_path(dtype, monkeypatch):
    args = _flux_inputs()
    ref = _general(args, dtype)
    monkeypatch.setattr(asf, "_SLAB_PX", 37)  # many slabs, edges inside the grid
    got = asf.flux_from_pco2(*args, dtype=dtype)
    assert isinstance(got.data, np.ndarray)
    xr.testing.assert_identical(got, ref)  # values bit for bit, NaNs, dims, coords, attrs
    assert got.dtype == (np.float64 if dtype is None else dtype)  # xCO2 is float64
    nan = np.isnan(got.values)
    assert nan[:, 3, :].all() and 0.2 < nan.mean() < 0.6
    np.testing.assert_allclose(got.values, _reference(args), rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_flux_from_pco2_numpy_path_splits_along_the_first_long_axis(monkeypatch):
    args = [a.isel(time=slice(0, 1)) for a in _flux_inputs()]  # one month: slabs along lat
    monkeypatch.setattr(asf, "_SLAB_PX", 20)
    xr.testing.assert_identical(asf.flux_from_pco2(*args), _general(args))


def test_flux_from_pco2_inputs_without_some_dimensions(monkeypatch):
    """A field without time (a climatological SLP map) and a scalar xCO2: broadcast alike."""
    args = _flux_inputs()
    args[5] = args[5].isel(time=0, drop=True)
    args[4] = args[4].isel(time=0, drop=True)
    monkeypatch.setattr(asf, "_SLAB_PX", 50)
    got = asf.flux_from_pco2(*args)
    xr.testing.assert_identical(got, _general(args))
    pers = [a.chunk({d: {"time": 2, "lat": 5, "lon": 4}[d] for d in a.dims}).persist() for a in args]
    xr.testing.assert_identical(asf.flux_from_pco2(*pers), got)


def test_flux_from_pco2_persisted_path_equals_the_general_path():
    args = _flux_inputs()
    ref = _general(args, np.float32)
    # persisted chunks that do not divide the grid; xCO2 in one chunk (unlike the fields), SLP
    # chunked otherwise than SST (assembled), wind kept as numpy
    pers = [a.chunk({"time": 2, "lat": 5, "lon": 4}).persist() for a in args[:2]]
    pers.append(args[2])
    pers.append(args[3].chunk({"time": 2, "lat": 5, "lon": 4}).persist())
    pers.append(args[4].chunk().persist())
    pers.append(args[5].chunk({"time": 3, "lat": 4, "lon": 6}).persist())
    assert all(asf._persisted_blocks(a.data) is not None for i, a in enumerate(pers) if i != 2)
    with raise_if_dask_computes():
        got = asf.flux_from_pco2(*pers, dtype=np.float32)
    assert isinstance(got.data, np.ndarray)
    xr.testing.assert_identical(got, ref)


def test_flux_from_pco2_out_of_range_inputs_warn_and_match_in_both_paths(monkeypatch):
    args = _flux_inputs(dtype=np.float64)
    args[0][1, 2, 2] = 45.0  # SST outside the validity range: warning, exact exp/log kernel
    with pytest.warns(satco2.ValidityWarning):
        ref = _general(args)
    monkeypatch.setattr(asf, "_SLAB_PX", 50)
    with pytest.warns(satco2.ValidityWarning):
        got = asf.flux_from_pco2(*args)
    # the piece holding the bad value uses the exact kernel, the others the polynomial one
    # (within ~2e-14 relative of it): pieces differ between the paths, so equal to that precision
    xr.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)
    assert np.isfinite(got.values[1, 2, 2]) == np.isfinite(ref.values[1, 2, 2])
    with pytest.warns(satco2.ValidityWarning):
        exact = _reference(args)
    np.testing.assert_allclose(got.values, exact, rtol=1e-12)


def test_flux_from_pco2_lazy_partly_persisted_inputs_stay_lazy():
    args = _flux_inputs()
    mixed = [args[0].chunk({"time": 2}).persist(), *(a.copy(data=a.chunk().data.map_blocks(np.copy))
                                                      for a in args[1:])]
    assert asf._persisted_blocks(mixed[0].data) is not None
    assert asf._persisted_blocks((mixed[0] + 1).data) is None  # a graph on top: not held in memory
    with raise_if_dask_computes():
        out = asf.flux_from_pco2(*mixed)
    xr.testing.assert_identical(out.compute(), asf.flux_from_pco2(*args))


def test_flux_from_pco2_bad_input():
    args = _flux_inputs()
    with pytest.raises(satco2.SatCO2Error, match="DataArrays"):
        asf.flux_from_pco2(*args[:5], args[5].values)
    with pytest.raises(satco2.SatCO2Error, match="float32 or float64"):
        asf.flux_from_pco2(*args, dtype=np.int32)
    with pytest.raises(satco2.SatCO2Error):
        asf.flux_from_pco2(*args, k_param="nope")


# --- write_flux_from_pco2: Zarr chunks read and written directly = xarray's to_zarr ------------


def _zarr_inputs(tmp_path, shape=(3, 13, 11), chunks=(1, 5, 4)):
    """:func:`_flux_inputs` written to Zarr stores (zstd, zarr's default; chunks that do not divide
    the grid; pCO2sw NaN over a whole chunk, i.e. a land block), opened lazily as a researcher
    opens them."""
    args = _flux_inputs(shape)
    args[3][:, 5:10, 4:8] = np.nan
    opened = []
    for a in args:
        enc = {a.name: {"chunks": chunks if a.ndim == 3 else (a.size,)}}
        p = tmp_path / f"{a.name}.zarr"
        a.to_dataset().to_zarr(p, mode="w", consolidated=True, encoding=enc)
        opened.append(xr.open_zarr(p)[a.name])
    return opened


def _tree(path):
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _blosc():
    from zarr.codecs import BloscCodec

    return {"flux": {"compressors": [BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")]}}


@pytest.mark.filterwarnings("ignore:.*[Cc]onsolidated metadata")
@pytest.mark.parametrize("encoding", [None, "blosc"])
def test_write_flux_from_pco2_direct_chunks_equal_xarrays_store(tmp_path, monkeypatch, encoding):
    from satco2.analyses import zarr_direct

    enc = _blosc() if encoding else None
    args = _zarr_inputs(tmp_path)
    assert all(zarr_direct.source(a) is not None for a in args)
    reads = []
    real_read = zarr_direct.ChunkFiles.read
    monkeypatch.setattr(zarr_direct.ChunkFiles, "read", lambda self, idx, buf: reads.append(idx) or
                        real_read(self, idx, buf))
    out = pco2_flux.write_flux_from_pco2(tmp_path / "direct.zarr", *args, encoding=enc)
    assert out == tmp_path / "direct.zarr" and len(reads) == 5 * 3 * 3 * 3  # the direct path ran
    ref = asf.flux_from_pco2(*args, dtype=np.float32).rename("flux").to_dataset()
    ref.to_zarr(tmp_path / "xarray.zarr", mode="w", consolidated=True, encoding=enc)
    direct, xarr = _tree(tmp_path / "direct.zarr"), _tree(tmp_path / "xarray.zarr")
    assert direct == xarr  # the same files, byte for byte: metadata, coordinates, chunks
    assert not any("flux/c/0/1/1" in k for k in direct)  # the land chunk: not written, as zarr does
    got = xr.open_zarr(tmp_path / "direct.zarr").flux.values
    np.testing.assert_allclose(got, _reference([a.load() for a in args]), rtol=1e-6)
    assert not list(tmp_path.glob(".direct.zarr*"))  # no temporary folder left


@pytest.mark.filterwarnings("ignore:.*[Cc]onsolidated metadata")
def test_write_flux_from_pco2_general_path_when_chunks_cannot_be_read_directly(tmp_path):
    from satco2.analyses import zarr_direct

    args = _zarr_inputs(tmp_path)
    sub = [a.isel(time=slice(1, None)) for a in args]  # a selection on top
    assert zarr_direct.source(sub[0]) is None and zarr_direct.source(args[0] + 0) is None
    assert zarr_direct.source(args[0].chunk({"lat": 3})) is None  # not chunked as stored
    pco2_flux.write_flux_from_pco2(tmp_path / "sub.zarr", *sub)
    ref = asf.flux_from_pco2(*sub, dtype=np.float32).rename("flux").to_dataset()
    ref.to_zarr(tmp_path / "ref.zarr", mode="w", consolidated=True)
    assert _tree(tmp_path / "sub.zarr") == _tree(tmp_path / "ref.zarr")
    mem = [a.load() for a in _zarr_inputs(tmp_path / "m")]  # in memory: computed, then written
    pco2_flux.write_flux_from_pco2(tmp_path / "mem.zarr", *mem)
    xr.testing.assert_identical(xr.open_zarr(tmp_path / "mem.zarr").flux.load(),
                                asf.flux_from_pco2(*mem, dtype=np.float32).rename("flux"))


@pytest.mark.filterwarnings("ignore:.*[Cc]onsolidated metadata")
def test_write_flux_from_pco2_failure_leaves_the_old_store_whole(tmp_path, monkeypatch):
    args = _zarr_inputs(tmp_path)
    target = tmp_path / "flux.zarr"
    pco2_flux.write_flux_from_pco2(target, *args)
    before = _tree(target)
    calls = []
    real = ge.flux_from_pco2_fast

    def failing(*a, **k):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("disk full")
        return real(*a, **k)

    monkeypatch.setattr(ge, "flux_from_pco2_fast", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        pco2_flux.write_flux_from_pco2(target, *args)
    assert len(calls) >= 4
    assert _tree(target) == before  # the old store, whole
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".flux.zarr")] == []
