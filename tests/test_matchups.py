"""satco2.analyses.matchups: real files against a real product and the demo store, by-hand computations,
window semantics, chunk-awareness, streaming, every input layout, errors and the CLI."""
from __future__ import annotations

import json

import dask
import dask.array as dsa
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from typer.testing import CliRunner

import satco2
from satco2.analyses import matchups as mu
from satco2.science import validation as V
from satco2.science.gas_exchange import fugacity_factor_W74
from satco2.testing import matchups as tm

ERSST = "extra-sst-ersst-2deg"


@pytest.fixture(scope="module")
def ersst_mirror(shared_data, tmp_path_factory):
    """The real ERSST v5 sample ingested into a temporary mirror."""
    from satco2.catalog import ingest

    root = tmp_path_factory.mktemp("mirror")
    ingest.ingest(ERSST, [shared_data / "sst" / "ersstv5_sst.mnmean_2010-2020.nc"], root=str(root),
                  progress=False)
    mp = pytest.MonkeyPatch()
    mp.setenv("SATCO2_MIRROR_ROOT", str(root))
    yield root
    mp.undo()


def test_hogreef_sst_against_ersst_by_hand(shared_data, ersst_mirror, tmp_path):
    """The MAPCO2 buoy (CR line endings) against the real ERSST v5 sample: every matched value
    and the statistics equal a direct computation on the raw NetCDF file."""
    obs_file = shared_data / "pco2" / "HOGREEF.tsv"
    res = mu.match_file(obs_file, ERSST, source="mirror", out=tmp_path / "hog.csv")
    t = res.table
    assert res.quantity == "sst" and res.counts["observations"] == len(t) > 550
    raw = xr.open_dataset(shared_data / "sst" / "ersstv5_sst.mnmean_2010-2020.nc").sst
    # by hand: 2-degree cells centred on even degrees, longitudes 0..358, the month of the record
    lat_c = 2 * np.round(t.lat.values / 2)
    lon_c = (2 * np.round(t.lon.values / 2)) % 360
    month = pd.DatetimeIndex(t.time).to_period("M").to_timestamp()
    hand = np.array([float(raw.sel(time=m, lat=a, lon=o)) for m, a, o in zip(month, lat_c, lon_c)])
    np.testing.assert_allclose(t.model_sst.values, hand, rtol=0, atol=1e-5)
    ok = t.flag.values == "ok"
    assert ok.sum() == np.isfinite(t.obs_sst).sum()
    s = V.statistics(t.obs_sst.values[ok], hand[ok])
    row = res.stats[(res.stats.region == "all") & (res.stats.month == "all")].iloc[0]
    assert row.n == s["n"] and row.mean_bias == pytest.approx(s["mean_bias"], abs=1e-9)
    assert row.rmse == pytest.approx(s["rmse"], rel=1e-9) and row.r2 == pytest.approx(s["r2"], rel=1e-6)
    aug = month == pd.Timestamp("2014-08-01")
    d = hand[ok & aug] - t.obs_sst.values[ok & aug]
    r = res.stats[(res.stats.region == "all") & (res.stats.month == "2014-08")].iloc[0]
    assert r.n == d.size and r.mean_bias == pytest.approx(d.mean()) and r.rmse == pytest.approx(np.sqrt((d**2).mean()))
    # distances: to the centre of the cell (32N, 64W), time to mid-month
    assert t.dist_km.iloc[0] == pytest.approx(V.haversine_km(32.457, -64.824, 32.0, -64.0))
    assert abs(t.dt_days).max() <= 16
    # a real buoy in warm water: ERSST agrees within about a degree
    assert abs(row.mean_bias) < 1.0 and row.rmse < 1.5
    # the files
    assert len(pd.read_csv(tmp_path / "hog.csv")) == len(t)
    summary = json.loads((tmp_path / "hog.csv.summary.json").read_text())
    assert summary["counts"]["ok"] == int(ok.sum()) and summary["variable"] == "sst"


def test_socat_upload_outside_coverage_is_one_sentence(shared_data, ersst_mirror, tmp_path):
    """WFCH20220615 (Svalbard, June 2022) lies after the ERSST sample and outside the demo's
    East China Sea: counted, then refused in one sentence; no output left behind."""
    f = shared_data / "pco2" / "WFCH20220615.csv"
    with pytest.raises(satco2.SatCO2Error, match=r"all 1862 observations .* outside the coverage .*"
                                                  r"1862 outside its period") as e:
        mu.match_file(f, ERSST, source="mirror", out=tmp_path / "w.csv")
    assert str(e.value).count(". ") == 0
    assert not list(tmp_path.iterdir())
    with pytest.raises(satco2.SatCO2Error, match="1862 outside its grid"):
        mu.match_file(f, "global-sst-oisst-25km", source="demo")


def test_socat_upload_file_against_an_analytic_field(shared_data):
    """The real WFCH20220615 cruise (SOCAT upload CSV: fCO2 at SST -> pCO2) against a daily
    0.25-degree field f = lat + 0.01 lon + 0.1 day-of-month over Svalbard: every matched value
    equals f at the centre of the cell and day containing the record, computed by hand."""
    lat = np.arange(76.125, 82.0, 0.25)
    lon = np.arange(5.125, 36.0, 0.25)
    time = pd.date_range("2022-06-01", "2022-06-30", freq="D")
    f = (lat[None, :, None] + 0.01 * lon[None, None, :] + 0.1 * time.day.values[:, None, None])
    da = xr.DataArray(f, dims=("time", "lat", "lon"), coords={"time": time, "lat": lat, "lon": lon},
                      name="pco2sw", attrs={"units": "uatm"}).chunk({"time": 7, "lat": 8, "lon": 40})
    res = mu.match_file(shared_data / "pco2" / "WFCH20220615.csv", da, regions=[])
    t = res.table
    assert res.attrs["format"] == "socat" and res.counts["ok"] == len(t) == 1862
    lat_c = np.floor(t.lat.values * 4) / 4 + 0.125
    lon_c = np.floor(t.lon.values * 4) / 4 + 0.125
    hand = lat_c + 0.01 * lon_c + 0.1 * t.time.dt.day.values
    np.testing.assert_allclose(t.model_pco2sw.values, hand, atol=1e-9)
    corner = V.haversine_km(lat_c, lon_c, lat_c + 0.125, lon_c + 0.125)  # half the cell diagonal
    assert (t.dt_days.abs() <= 0.5).all() and (t.dist_km <= corner + 1e-9).all()
    # the observation side: pCO2 = fCO2 / Weiss (1974) factor at SST and the record's pressure
    assert (t.obs_pco2sw > t.fco2sw).all()


@pytest.fixture(scope="module")
def ecs_truth(demo_store):
    return xr.open_zarr(demo_store / "ecs" / "truth" / "flux.zarr")


@pytest.fixture(scope="module")
def socat_file(ecs_truth, tmp_path_factory):
    """A SYNTHETIC SOCAT .tsv: 3000 records on tracks in the ECS (2010), fCO2rec = the demo's
    true pCO2 x the Weiss (1974) factor at the record's PPPP, + 3 µatm noise; 100 records
    flagged WOCE 3, 50 from a QC-E cruise, 40 outside the demo grid (east of 131 E)."""
    tr = tm.ship_tracks(3000, (121.5, 25.5, 126.5, 31.5), "2010-03-01", "2010-10-31", n_cruises=6, seed=1)
    # positions as the file writes them (5 decimals), never exactly on a cell edge (k x 0.05)
    tr["lat"], tr["lon"] = tr.lat.round(4) + 3e-5, tr.lon.round(4) + 3e-5
    obs = tm.sample_field(ecs_truth.pco2sw, tr, noise=3.0, seed=2, name="pco2", time_method="pad")
    obs = obs[np.isfinite(obs.truth)].reset_index(drop=True)
    rng = np.random.default_rng(3)
    obs["sst"] = rng.uniform(15, 28, len(obs))
    obs["pppp"] = rng.uniform(1000, 1025, len(obs))
    obs["fco2"] = obs.pco2 * fugacity_factor_W74(obs.sst.values, obs.pppp.values / 1013.25)
    obs["woce_flag"] = 2
    obs.loc[obs.index[:100], "woce_flag"] = 3
    obs["qc_flag"] = "B"
    obs.loc[obs.index[100:150], "qc_flag"] = "E"
    obs.loc[obs.index[150:190], "lon"] = 140.0
    path = tmp_path_factory.mktemp("socat") / "synthetic.tsv"
    tm.write_socat_tsv(path, obs)
    return path, obs


def test_socat_tsv_against_demo_truth(socat_file, ecs_truth, tmp_path):
    path, obs = socat_file
    assert V.detect_format(path) == "socat_tsv"
    res = mu.match_file(path, ecs_truth[["pco2sw"]], regions=["ecs", "east_china_sea"],
                        out=tmp_path / "m.csv")
    t = res.table
    c = res.counts
    assert c["observations"] == len(obs)
    assert c["obs_quality"] == 150 and c["outside_grid"] == 40
    assert c["ok"] == len(obs) - 190
    # fCO2rec -> pCO2 at SST and PPPP (Weiss 1974) recovers the pCO2 the file was made from
    np.testing.assert_allclose(t.obs_pco2sw.values, obs.pco2.values, atol=2e-3)
    # nearest pixel = the true pixel, exactly
    ok = (t.flag == "ok").values
    np.testing.assert_allclose(t.model_pco2sw.values[ok], obs.truth.values[ok], rtol=1e-6)
    row = res.overall()
    assert row["n"] == ok.sum()
    assert abs(row["mean_bias"]) < 0.3 and 2.7 < row["rmse"] < 3.3  # the 3 µatm noise
    assert set(res.stats.region) >= {"all", "ecs"}
    assert (res.stats[res.stats.month != "all"].month.str.match(r"2010-\d\d")).all()
    ecs = res.stats[(res.stats.region == "ecs") & (res.stats.month == "all")].iloc[0]
    assert 0 < ecs.n <= row["n"]


def _cube():
    rng = np.random.default_rng(0)
    v = rng.normal(10, 3, (6, 9, 11))
    v[rng.random(v.shape) < 0.3] = np.nan
    time = pd.date_range("2011-01-01", periods=6, freq="D")
    return xr.DataArray(v, dims=("time", "lat", "lon"), name="value",
                        coords={"time": time, "lat": 30 + 0.1 * np.arange(9), "lon": 120 + 0.1 * np.arange(11)})


def _by_hand(da, t, la, lo, D, K, stat):
    """Direct computation of one window: containing day +- the days within D, +-K pixels."""
    k = int(np.searchsorted(da.time.values, np.datetime64(t), side="right") - 1)
    i = int(np.abs(da.lat.values - la).argmin())
    j = int(np.abs(da.lon.values - lo).argmin())
    mids = da.time.values + np.timedelta64(12, "h")
    ks = [kk for kk in range(da.sizes["time"]) if kk == k or abs((mids[kk] - np.datetime64(t)) / np.timedelta64(1, "D")) <= D]
    best, vals = None, []
    for kk in ks:
        for ii in range(max(i - K, 0), min(i + K + 1, da.sizes["lat"])):
            for jj in range(max(j - K, 0), min(j + K + 1, da.sizes["lon"])):
                x = float(da.values[kk, ii, jj])
                if np.isfinite(x):
                    vals.append(x)
                    d = (kk - k) ** 2 + (ii - i) ** 2 + (jj - j) ** 2
                    if best is None or d < best[0]:
                        best = (d, x)
    if not vals:
        return np.nan, 0
    return {"nearest": best[1], "median": np.median(vals), "mean": np.mean(vals)}[stat], len(vals)


@pytest.mark.parametrize("stat", ["nearest", "median", "mean"])
@pytest.mark.parametrize("D, K", [(0, 0), (0, 1), (1, 2)])
def test_windows_match_hand_computation_in_memory_and_chunked(stat, D, K):
    da = _cube()
    rng = np.random.default_rng(1)
    n = 80
    obs = pd.DataFrame({"time": pd.Timestamp("2011-01-01") + pd.to_timedelta(rng.uniform(0, 6, n), unit="D"),
                        "lat": rng.uniform(29.95, 30.85, n), "lon": rng.uniform(119.95, 121.05, n),
                        "value": 1.0})
    a = mu.match(obs, da, "value", D, K, stat)
    b = mu.match(obs, da.chunk({"time": 2, "lat": 3, "lon": 4}), "value", D, K, stat)  # halos cross chunks
    for x, y in zip(a.model.values, b.model.values):
        assert (np.isnan(x) and np.isnan(y)) or x == pytest.approx(y)
    np.testing.assert_array_equal(a.n_valid.values, b.n_valid.values)
    for r, m, nv in zip(obs.itertuples(), a.model.values, a.n_valid.values):
        want, count = _by_hand(da, r.time, r.lat, r.lon, D, K, stat)
        assert nv == count
        assert (np.isnan(want) and np.isnan(m)) or m == pytest.approx(want)
    assert set(a.flag) <= {"ok", "no_valid_pixel"} and (a.flag == "no_valid_pixel").sum() == (a.n_valid == 0).sum()
    if stat == "nearest":  # distances are those of the pixel used
        ok = a.flag == "ok"
        np.testing.assert_allclose(a.dist_km[ok], V.haversine_km(a.lat[ok], a.lon[ok], a.pixel_lat[ok], a.pixel_lon[ok]))


def test_only_touched_chunks_are_read():
    """Chunk-aware: a chunk without observations (or halo) is never computed."""
    touched = []

    def block(block_info=None):
        loc = block_info[None]["array-location"]
        touched.append((loc[0][0], loc[1][0], loc[2][0]))
        return np.ones(block_info[None]["chunk-shape"])

    data = dsa.map_blocks(block, chunks=((5, 5), (10, 10, 10), (10, 10, 10)), dtype=float)
    da = xr.DataArray(data, dims=("time", "lat", "lon"), name="value",
                      coords={"time": pd.date_range("2012-01-01", periods=10, freq="D"),
                              "lat": np.arange(30) * 0.1, "lon": np.arange(30) * 0.1})
    obs = pd.DataFrame({"time": pd.to_datetime(["2012-01-02", "2012-01-03"]), "lat": [0.5, 0.6],
                        "lon": [0.5, 0.7], "value": [1.0, 1.0]})
    with dask.config.set(scheduler="sync"):
        m = mu.match(obs, da, "value")
    assert (m.model == 1).all() and sorted(set(touched)) == [(0, 0, 0)]
    touched.clear()
    with dask.config.set(scheduler="sync"):
        mu.match(obs, da, "value", window_pixels=6)  # the halo reaches the next lat/lon chunks
    assert sorted(set(touched)) == [(0, 0, 0), (0, 0, 10), (0, 10, 0), (0, 10, 10)]


def test_pieces_of_a_file_read_each_chunk_once(tmp_path):
    """The pieces of one observation file share a ChunkCache: a chunk several pieces touch is
    read (computed) once, not once per piece; with a zero budget it is read once per piece; the
    values are the same either way, and a shared cache across match() calls behaves alike."""
    reads = []

    def block(block_info=None):
        loc = block_info[None]["array-location"]
        reads.append((loc[0][0], loc[1][0], loc[2][0]))
        t0 = loc[0][0]
        return np.fromfunction(lambda k, i, j: t0 + k + 0.01 * i + 0.0001 * j, block_info[None]["chunk-shape"])

    data = dsa.map_blocks(block, chunks=((5, 5), (10, 10, 10), (10, 10, 10)), dtype=float)
    da = xr.DataArray(data, dims=("time", "lat", "lon"), name="value",
                      coords={"time": pd.date_range("2012-01-01", periods=10, freq="D"),
                              "lat": np.arange(30) * 0.1, "lon": np.arange(30) * 0.1})
    rng = np.random.default_rng(7)
    n = 200
    obs = pd.DataFrame({"time": pd.Timestamp("2012-01-01") + pd.to_timedelta(rng.uniform(0, 10, n), unit="D"),
                        "lat": rng.uniform(0, 2.9, n), "lon": rng.uniform(0, 2.9, n), "value": 1.0})
    f = tmp_path / "obs.csv"
    obs.to_csv(f, index=False)
    with dask.config.set(scheduler="threads", num_workers=2):
        one = mu.match_file(f, da, regions=[], cache_bytes=0)  # one piece: every chunk once
        touched = sorted(set(reads))
        assert sorted(reads) == touched and len(touched) == 18
        reads.clear()
        many = mu.match_file(f, da, regions=[], chunksize=40)  # 5 pieces, one shared cache
        assert sorted(reads) == touched
        reads.clear()
        again = mu.match_file(f, da, regions=[], chunksize=40, cache_bytes=0)  # no cache: per piece
        assert len(reads) > 2 * len(touched) and sorted(set(reads)) == touched
        reads.clear()
        cache = mu.ChunkCache()
        parts = [mu.match(obs.iloc[s:s + 50], da, "value", cache=cache) for s in range(0, n, 50)]
        assert sorted(reads) == touched and cache.reads == len(touched)
        cache.clear()
    for r in (many, again):
        np.testing.assert_array_equal(one.table.model_value.values, r.table.model_value.values)
    np.testing.assert_array_equal(one.table.model_value.values, pd.concat(parts).model.values)
    i, j = np.floor(obs.lat / 0.1 + 0.5), np.floor(obs.lon / 0.1 + 0.5)  # cells; the value is chunk-local
    want = (obs.time - pd.Timestamp("2012-01-01")).dt.days + 0.01 * (i % 10) + 0.0001 * (j % 10)
    np.testing.assert_allclose(one.table.model_value.values, want.values)


def test_kernels_equal_their_numpy_expressions():
    """The numba kernels give bitwise what the numpy expressions they replace give: cells on
    regular, irregular, single-cell (infinite edges) and time grids, with values on the edges,
    outside, NaN and NaT; longitude wrapping; the gather."""
    from satco2.analyses import _matchup_kernels as K

    rng = np.random.default_rng(3)
    regular = mu._edges(20 + np.arange(1200) / 24)
    irregular = mu._edges(np.cumsum(rng.uniform(0.01, 1.0, 300)))
    for e in (regular, irregular, mu._edges(np.array([5.0])), mu._edges(np.array([1.0, 2.0]))):
        lo, hi = (float(e[0]), float(e[-1])) if np.isfinite(e[0]) else (-10.0, 10.0)
        x = np.r_[rng.uniform(lo - 1, hi + 1, 20000), e, e[1:-1] - 1e-12, np.nan, -np.inf, np.inf]
        pos = np.searchsorted(e, x, side="right") - 1
        np.testing.assert_array_equal(K.cell_positions(x, e), pos)
        for last in (True, False):
            idx, ok = K.cells(x, e, last)
            np.testing.assert_array_equal(idx, np.clip(pos, 0, e.size - 2))
            want = (pos >= 0) & (pos < e.size - 1) & np.isfinite(x) | (last & (x == e[-1]))
            np.testing.assert_array_equal(ok, want)
            assert ok.any() and not ok.all()
    te = pd.date_range("2020-01-01", periods=366, freq="D").values.astype("datetime64[ns]").view(np.int64)
    t = np.r_[rng.integers(te[0] - 10**14, te[-1] + 10**14, 20000), te, te - 1, np.iinfo(np.int64).min]
    pos = np.searchsorted(te, t, side="right") - 1
    np.testing.assert_array_equal(K.cell_positions(t, te), pos)
    k, in_time = K.cells(t, te, False)
    np.testing.assert_array_equal(k, np.clip(pos, 0, te.size - 2))
    np.testing.assert_array_equal(in_time, (pos >= 0) & (pos < te.size - 1) & (t != np.iinfo(np.int64).min))
    lon = np.r_[rng.uniform(-720, 720, 20000), -180.0, 180.0, 0.0, -0.0, 360.0, np.nan]
    for e0 in (-180.0, 0.0, 99.97916666666667):
        np.testing.assert_array_equal(K.wrap(lon, e0), (lon - e0) % 360.0 + e0)
    chunks = ((3, 3, 1), (4, 2, 4, 1), (5, 5))  # irregular, as Dask allows
    tabs = [np.repeat(np.arange(len(c)), c) for c in chunks]
    kk, ii, jj = rng.integers(0, 7, 5000), rng.integers(0, 11, 5000), rng.integers(0, 10, 5000)
    key = (tabs[0][kk] * 4 + tabs[1][ii]) * 2 + tabs[2][jj]
    order, starts, ends, keys = K.group_by_chunk(kk, ii, jj, *tabs, 4, 2, 3 * 4 * 2)
    np.testing.assert_array_equal(order, np.argsort(key, kind="stable"))
    np.testing.assert_array_equal(keys, np.unique(key))
    np.testing.assert_array_equal(ends - starts, np.bincount(key)[np.unique(key)])
    assert starts[0] == 0 and ends[-1] == 5000 and (starts[1:] == ends[:-1]).all()
    block = rng.normal(size=(4, 5, 6)).astype("float32")
    k, i, j = rng.integers(10, 14, 50), rng.integers(20, 25, 50), rng.integers(30, 36, 50)
    idx = rng.permutation(50)[:30]
    out = np.full(50, np.nan)
    K.gather_into(block, 10, 20, 30, k, i, j, idx, out)
    want = np.full(50, np.nan)
    want[idx] = block[k[idx] - 10, i[idx] - 20, j[idx] - 30]
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("stat, D, K", [("nearest", 0, 0), ("nearest", 1, 2), ("median", 0, 1)])
def test_local_threads_and_task_graph_agree(stat, D, K):
    """The local path (chunks read in threads, values gathered in place) gives what the task
    graph a distributed cluster runs gives, column for column, with 1 or 3 threads and a shared
    cache; and on a cluster the cache's default budget is a quarter of the worker's memory
    limit, not of the machine's memory."""
    da = _cube().chunk({"time": 2, "lat": 3, "lon": 4})
    rng = np.random.default_rng(5)
    n = 500
    obs = pd.DataFrame({"time": pd.Timestamp("2011-01-01") + pd.to_timedelta(rng.uniform(-1, 7, n), unit="D"),
                        "lat": rng.uniform(29.9, 30.9, n), "lon": rng.uniform(119.9, 121.1, n),
                        "value": 1.0})
    with dask.config.set(scheduler="sync"):
        one = mu.match(obs, da, "value", D, K, stat)
    with dask.config.set(scheduler="threads", num_workers=3):
        cache = mu.ChunkCache()
        three = mu.match(obs, da, "value", D, K, stat, cache=cache)
        assert cache.reads == len(cache._store()["blocks"]) > 1  # each touched chunk read once
        again = mu.match(obs, da, "value", D, K, stat, cache=cache)
        assert cache.reads == len(cache._store()["blocks"])
        cache.clear()
    # the cluster in a process of its own: a fresh interpreter, as a user's kernel has (in the
    # full suite an in-process Client once hung in gather, after hundreds of other tests)
    import pickle
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        with open(f"{tmp}/in.pkl", "wb") as f:
            pickle.dump((obs, da, D, K, stat), f)
        script = f"""
import pickle
from distributed import Client
from satco2.analyses import matchups as mu
if __name__ == "__main__":
    with open(r"{tmp}/in.pkl", "rb") as f:
        obs, da, D, K, stat = pickle.load(f)
    with Client(processes=False, n_workers=1, threads_per_worker=2, memory_limit="1GiB",
                dashboard_address=":0") as client:
        graph = mu.match(obs, da, "value", D, K, stat, cache=mu.ChunkCache())
        budget = client.submit(lambda c: c.max_bytes, mu.ChunkCache(), pure=False).result()
    with open(r"{tmp}/out.pkl", "wb") as f:
        pickle.dump((graph, budget), f)
"""
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
        with open(f"{tmp}/out.pkl", "rb") as f:
            graph, budget = pickle.load(f)
    assert budget == 2**30 // 4
    for r in (three, again, graph):
        pd.testing.assert_frame_equal(one, r, check_exact=True)
    assert (one.flag == "outside_period").any() and (one.flag == "ok").any()


def test_cache_budget_follows_the_memory_limit(monkeypatch):
    """The default budget is a quarter of the limit of this process's memory (here JupyterHub's
    MEM_LIMIT), and a chunk that another thread is reading is not waited for with wait=False."""
    import threading

    monkeypatch.setenv("MEM_LIMIT", str(64 * 2**20))
    assert mu.memory_limit() == 64 * 2**20 and mu.ChunkCache().max_bytes == 16 * 2**20
    assert mu.ChunkCache(1000).max_bytes == 1000
    cache = mu.ChunkCache()
    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        release.wait(10)
        return np.ones(3)

    t = threading.Thread(target=cache.get, args=("a", slow))
    t.start()
    started.wait(10)
    assert cache.get("a", lambda: np.zeros(3), wait=False) is None  # being read elsewhere
    release.set()
    t.join()
    np.testing.assert_array_equal(cache.get("a", lambda: np.zeros(3), wait=False), np.ones(3))
    assert cache.reads == 1
    cache.clear()


def test_streamed_pieces_equal_one_piece(tmp_path):
    """Out of core: a long CSV read in pieces of 37 rows gives the table and statistics of one
    read (streamed sums = statistics of all pairs)."""
    da = _cube()
    rng = np.random.default_rng(4)
    n = 300
    df = pd.DataFrame({"Date": (pd.Timestamp("2011-01-01") + pd.to_timedelta(rng.uniform(0, 6, n), unit="D")).strftime("%Y-%m-%dT%H:%M:%S"),
                       "Latitude": rng.uniform(30, 30.8, n), "Longitude": rng.uniform(120, 121, n),
                       "value": rng.normal(10, 3, n)})
    f = tmp_path / "long.csv"
    df.to_csv(f, index=False)
    one = mu.match_file(f, da, window_pixels=1, stat="mean", regions=[])
    many = mu.match_file(f, da, window_pixels=1, stat="mean", regions=[], chunksize=37, out=tmp_path / "o.csv")
    pd.testing.assert_frame_equal(one.stats, many.stats, check_exact=False, rtol=1e-9)
    pd.testing.assert_frame_equal(one.table.reset_index(drop=True), many.table.reset_index(drop=True))
    ok = one.table.flag == "ok"
    s = V.statistics(one.table.obs_value[ok], one.table.model_value[ok])
    assert one.overall()["r2"] == pytest.approx(s["r2"], rel=1e-9)
    assert len(pd.read_csv(tmp_path / "o.csv")) == n
    pq = mu.match_file(f, da, window_pixels=1, stat="mean", regions=[], chunksize=100,
                       out=tmp_path / "o.parquet", keep_table=False)
    assert pq.table is None and len(pd.read_parquet(tmp_path / "o.parquet")) == n


def test_wide_csv_with_dates_and_with_times(tmp_path):
    da = _cube().fillna(5.0)
    lat, lon = [30.1, 30.52, 40.0], [120.2, 120.71, 120.0]
    f = tmp_path / "wide.csv"
    pd.DataFrame({"lat": lat, "lon": lon, "2011-01-02": [1, 2, 3], "2011-01-04": [4, np.nan, 6]}).to_csv(f, index=False)
    assert V.detect_format(f) == "wide_csv"
    res = mu.match_file(f, da, regions=[])
    t = res.table
    assert len(t) == 5 and res.counts["outside_grid"] == 2 and res.counts["ok"] == 3
    want = [float(da.sel(time=tt, lat=a, lon=o, method="nearest"))
            for tt, a, o in zip(t.time, t.lat, t.lon) if a < 35]
    np.testing.assert_allclose(t.model_value[t.flag == "ok"], want)
    g = tmp_path / "wide_names.csv"
    pd.DataFrame({"latitude": lat, "longitude": lon, "cruise A": [1, 2, 3], "cruise B": [4, 5, 6]}).to_csv(g, index=False)
    with pytest.raises(satco2.SatCO2Error, match=r"are not dates; name the times .* --times"):
        mu.match_file(g, da)
    with pytest.raises(satco2.SatCO2Error, match="names 1 times but the file has 2"):
        mu.match_file(g, da, times="2011-01-02")
    r2 = mu.match_file(g, da, times="2011-01-02,2011-01-04", regions=[])
    assert sorted(r2.table.time.dt.strftime("%Y-%m-%d").unique()) == ["2011-01-02", "2011-01-04"]


def test_netcdf_trajectory_units_and_errors(tmp_path):
    da = _cube().fillna(5.0).rename("sst").assign_attrs(units="degC")
    n = 20
    rng = np.random.default_rng(5)
    traj = xr.Dataset(
        {"TEMP": ("obs", rng.uniform(280, 290, n), {"standard_name": "sea_surface_temperature", "units": "K"})},
        coords={"time": ("obs", pd.Timestamp("2011-01-02") + pd.to_timedelta(np.arange(n), unit="h")),
                "latitude": ("obs", rng.uniform(30, 30.8, n), {"standard_name": "latitude", "units": "degrees_north"}),
                "longitude": ("obs", rng.uniform(120, 121, n), {"standard_name": "longitude", "units": "degrees_east"})},
        attrs={"featureType": "trajectory"})
    f = tmp_path / "traj.nc"
    traj.to_netcdf(f)
    assert V.detect_format(f) == "netcdf"
    res = mu.match_file(f, da, regions=[])
    np.testing.assert_allclose(res.table.obs_sst.values, traj.TEMP.values - 273.15)  # K -> degC
    assert res.counts["ok"] == n
    traj.TEMP.attrs["units"] = "furlongs"
    traj.to_netcdf(tmp_path / "bad.nc")
    with pytest.raises(satco2.SatCO2Error, match=r"unknown units 'furlongs' of variable 'TEMP'"):
        mu.match_file(tmp_path / "bad.nc", da)
    # product units are converted too (K product vs degC observations)
    res_k = mu.match_file(f, (da + 273.15).assign_attrs(units="K").rename("sst"), regions=[])
    np.testing.assert_allclose(res_k.table.model_sst, res.table.model_sst, atol=1e-9)


def test_errors_are_one_sentence(tmp_path, socat_file):
    da = _cube()
    f = tmp_path / "obs.csv"
    f.write_text("time,lat,lon,chl\n2011-01-02,30.2,120.3,1.0\n")
    with pytest.raises(satco2.SatCO2Error, match=r"obs.csv: no value column \(looked for value, obs"):
        mu.match_file(f, da, obs_variable="value")
    with pytest.raises(satco2.SatCO2Error, match=r"has no chl to compare .* \(it has .*pco2sw.*--obs-variable"):
        mu.match_file(socat_file[0], da, obs_variable="chl")
    with pytest.raises(satco2.SatCO2Error, match="unknown observation quantity 'zz'"):
        mu.match_file(f, da, obs_variable="zz")
    with pytest.raises(satco2.SatCO2Error, match="unknown match-up statistic 'mode'"):
        mu.match_file(f, da, obs_variable="chl", stat="mode")
    with pytest.raises(satco2.SatCO2Error, match="no variable 'nope'"):
        mu.match_file(f, da.to_dataset(), variable="nope")
    g = tmp_path / "units.csv"
    g.write_text("time,lat,lon,SST [furlongs]\n2011-01-02,30.2,120.3,1.0\n")
    with pytest.raises(satco2.SatCO2Error, match=r"unknown units 'furlongs' of column 'SST \[furlongs\]'"):
        mu.match_file(g, da.rename("sst"))
    with pytest.raises(satco2.SatCO2Error, match="unknown product|not in the registry|unknown"):
        mu.match_file(f, "global-nothing-here-4km")


def test_cli_matchup(ecs_truth, socat_file, tmp_path, monkeypatch):
    from satco2.cli import app

    path, _ = socat_file
    store = tmp_path / "truth.nc"  # a product given as a NetCDF file path
    ecs_truth[["pco2sw"]].sel(time=slice("2010-01", "2010-12")).load().to_netcdf(store)
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["matchup", str(path), str(store), "--window-pixels", "1",
                                 "--stat", "median", "--out", "m.csv"])
    assert r.exit_code == 0, r.output
    assert "matched" in r.output and "RMSE" in r.output and "ecs:" in r.output
    t = pd.read_csv(tmp_path / "m.csv")
    assert {"obs_pco2sw", "model_pco2sw", "dist_km", "dt_days", "n_valid", "n_window", "flag",
            "woce_flag", "qc_flag"} <= set(t.columns)
    assert (t.n_window[t.flag == "ok"] <= 9).all() and (t.n_window[t.flag == "ok"] >= 4).all()
    st = pd.read_csv(tmp_path / "m.csv.stats.csv")
    assert {"region", "month", "n", "mean_bias", "rmse", "r2"} == set(st.columns)
    # an error: one sentence (satco2.cli.main prints it as "error: ..." with status 2)
    r = CliRunner().invoke(app, ["matchup", str(path), str(store), "--stat", "mode"])
    assert isinstance(r.exception, satco2.SatCO2Error)
    assert str(r.exception).startswith("unknown match-up statistic 'mode'") and "\n" not in str(r.exception)


@pytest.mark.parametrize("stat, D, K", [("nearest", 0, 0), ("median", 1, 1)])
def test_chunks_of_a_whole_zarr_variable_are_decoded_from_their_files(tmp_path, monkeypatch, stat, D, K):
    """A product that is a whole variable of a local Zarr store as ``xr.open_zarr`` opened it
    (zstd, edge chunks that do not divide the grid, missing all-NaN chunk files) has its chunks
    decoded straight from their files on the local scheduler; the match-ups equal those of the
    same values in memory, column for column, and a selection of it takes the dask path."""
    from satco2.analyses import zarr_direct

    mem = _cube()
    mem[:2, :3, :4] = np.nan  # an all-NaN chunk: no file written
    mem.to_dataset().to_zarr(tmp_path / "c.zarr", encoding={"value": {"chunks": (2, 4, 5)}}, consolidated=False)
    da = xr.open_zarr(tmp_path / "c.zarr", consolidated=False).value
    assert zarr_direct.source(da) is not None and zarr_direct.source(da.isel(lat=slice(1, None))) is None
    rng = np.random.default_rng(8)
    n = 400
    obs = pd.DataFrame({"time": pd.Timestamp("2011-01-01") + pd.to_timedelta(rng.uniform(-1, 7, n), unit="D"),
                        "lat": rng.uniform(29.9, 30.9, n), "lon": rng.uniform(119.9, 121.1, n),
                        "value": 1.0})
    want = mu.match(obs, mem, "value", D, K, stat)
    calls = []
    real = mu._direct
    monkeypatch.setattr(mu, "_direct", lambda files, idx: calls.append(idx) or real(files, idx))
    with dask.config.set(scheduler="threads", num_workers=2):
        got = mu.match(obs, da, "value", D, K, stat, cache=mu.ChunkCache())
        sub = mu.match(obs, da.isel(lat=slice(0, None, 1)), "value", D, K, stat)
    assert calls  # the direct path ran
    pd.testing.assert_frame_equal(want, got, check_exact=True)
    pd.testing.assert_frame_equal(want, sub, check_exact=True)
