"""Trend engine against the reference implementations (scipy.stats, pymannkendall) and on lazy data."""
from __future__ import annotations

import dask.array as dsa
import numpy as np
import pandas as pd
import pymannkendall as pmk
import pytest
import xarray as xr
from scipy import stats

from satco2 import SatCO2Error
from satco2.science import trends
from satco2.testing import raise_if_dask_computes

N_SERIES = 12


def _series(rng, n, ties: bool, gaps: bool, ar: float = 0.0):
    e = rng.normal(size=n)
    if ar:
        for i in range(1, n):
            e[i] += ar * e[i - 1]
    y = 0.02 * np.arange(n) * rng.normal() + e
    if ties:
        y = np.round(y * 2) / 2  # many ties
    if gaps:
        y[rng.random(n) < 0.2] = np.nan
    return y


def _block(method, y, t=None, alpha=0.05):
    n = y.size
    t = np.arange(n, dtype=float) if t is None else t
    month = (np.arange(n) % 12 + 1).astype(np.int64)
    res = trends.METHODS[method].block(y[None], t, month, deseason=False, alpha=alpha, min_count=3,
                                       small=True)[0]
    return dict(zip(trends.METHODS[method].stats, res))


@pytest.mark.parametrize("path", ["numba", "numpy"])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("gaps", [False, True])
def test_theil_sen_mk_matches_pymannkendall_and_scipy(ties, gaps, path, monkeypatch):
    """Both paths of ``theil_sen_mk``: the numba kernel and the numba-free numpy path of small
    inputs (``_trend_small``)."""
    monkeypatch.setattr(trends, "_use_numpy_path", lambda m, Y: path == "numpy")
    rng = np.random.default_rng(1 + 2 * ties + gaps)
    for k in range(N_SERIES):
        n = int(rng.integers(20, 150))  # > 93 exercises the bracketed median selection
        y = _series(rng, n, ties, gaps)
        r = _block("theil_sen_mk", y)
        ref = pmk.original_test(y)
        for ours, theirs in [("slope", ref.slope), ("intercept", ref.intercept), ("p_value", ref.p),
                             ("z", ref.z), ("tau", ref.Tau), ("s", ref.s), ("var_s", ref.var_s)]:
            assert r[ours] == pytest.approx(theirs, abs=1e-9, rel=1e-9), (ours, n)
        v = ~np.isnan(y)
        ts = stats.theilslopes(y[v], np.arange(n)[v])
        assert r["slope"] == pytest.approx(ts.slope, abs=1e-9)
        assert r["intercept"] == pytest.approx(ts.intercept, abs=1e-9)


def test_select2_matches_sort():
    """The branch-free quickselect behind the Theil-Sen median, on ties, sorted and constant data."""
    from satco2.science import _trend_kernels as K

    rng = np.random.default_rng(5)
    cases = []
    for n in [2, 3, 16, 17, 40, 333, 1500]:
        x = rng.normal(size=n)
        cases += [x, np.round(x * 2) / 2, np.sort(x), np.sort(x)[::-1].copy(), np.zeros(n),
                  np.where(rng.random(n) < 0.5, 1.0, -1.0),
                  # signed zeros and the smallest subnormals: "v < pivot" is "v <= the float
                  # below the pivot" in the compress-based filter
                  rng.choice([0.0, -0.0, 5e-324, -5e-324, 1e-310], size=n)]
    for x in cases:
        ref = np.sort(x)
        for k in {0, len(x) // 2 - 1, len(x) // 2, len(x) - 2, int(rng.integers(0, len(x) - 1))}:
            if not 0 <= k < len(x) - 1:
                continue
            a, b = K._select2(x.copy(), len(x), k, True)
            assert (a, b) == (ref[k], ref[k + 1]), (len(x), k)
            assert K._select2(x.copy(), len(x), k, False)[0] == ref[k]


@pytest.mark.parametrize("nsamp", [256, 1024, 8])
def test_theil_sen_kernel_is_the_exact_median_of_all_pair_slopes(nsamp):
    """The bracketed median equals the median of every pairwise slope computed directly, with and
    without ties, gaps and outliers; ``nsamp=8`` makes the sample's bracket miss often, so the
    fall-back path (keep every slope) is checked too."""
    from satco2.science import _trend_kernels as K

    rng = np.random.default_rng(17)
    nt = 150
    t = 2003 + np.arange(nt) / 12.0
    inv = np.zeros((nt, nt))
    for a in range(nt):
        inv[a, a + 1:] = 1.0 / (t[a + 1:] - t[a])
    m_max = nt * (nt - 1) // 2
    for k in range(60):
        y = _series(rng, nt, ties=bool(k % 3 == 1), gaps=bool(k % 2))
        if k % 5 == 4:
            y[rng.integers(0, nt, 5)] = 1e3  # outliers
        if k == 6:
            y[:] = 1.5  # constant: every slope is zero
        idx = np.flatnonzero(~np.isnan(y))
        yv = y[idx]
        n = yv.size
        ii, jj = np.triu_indices(n, 1)
        slopes = (yv[jj] - yv[ii]) * inv[idx[ii], idx[jj]]
        got = K._theil_sen(yv, idx, n, inv, np.empty(max(nsamp, 1)), np.empty(m_max + 8),
                           np.empty(nt + 8), np.full(2 * max(nsamp, 1) + 2, -1), nsamp)
        assert got[0] == np.median(slopes), k
        assert got[1] == slopes.size
        assert (got[2], got[3]) == ((yv[jj] > yv[ii]).sum(), (yv[jj] < yv[ii]).sum())


@pytest.mark.parametrize("gaps", [False, True])
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_hamed_rao_matches_pymannkendall(gaps, alpha):
    rng = np.random.default_rng(7 + gaps)
    # pymannkendall detrends over the gap-closed index: "theil_sen_mk_hr_index" is that variant.
    # The default "theil_sen_mk_hr" detrends over time; without gaps it is the same test, up to
    # floating-point rounding of the two points the Theil-Sen line passes through (an exact tie
    # after detrending in one variant may be 1 ulp apart in the other), hence the looser check.
    for k in range(N_SERIES):
        n = int(rng.integers(30, 150))
        y = _series(rng, n, ties=bool(k % 2), gaps=gaps, ar=0.6)
        ref = pmk.hamed_rao_modification_test(y, alpha=alpha)
        r = _block("theil_sen_mk_hr_index", y, alpha=alpha)
        for ours, theirs in [("slope", ref.slope), ("intercept", ref.intercept), ("p_value", ref.p),
                             ("z", ref.z), ("var_s", ref.var_s), ("s", ref.s), ("tau", ref.Tau)]:
            if np.isnan(theirs):
                assert np.isnan(r[ours])
            else:
                assert r[ours] == pytest.approx(theirs, abs=1e-9, rel=1e-9), ours
        if not gaps:
            r2 = _block("theil_sen_mk_hr", y, alpha=alpha)
            assert r2["p_value"] == pytest.approx(ref.p, abs=1e-3)


def test_hamed_rao_widens_variance_for_autocorrelated_series():
    rng = np.random.default_rng(3)
    y = _series(rng, 144, ties=False, gaps=False, ar=0.9)
    assert _block("theil_sen_mk_hr", y)["hr_factor"] > 1.5


@pytest.mark.parametrize("gaps", [False, True])
def test_ols_matches_linregress(gaps):
    rng = np.random.default_rng(11)
    for k in range(N_SERIES):
        n = int(rng.integers(10, 150))
        t = 2003 + np.arange(n) / 12.0
        y = _series(rng, n, ties=False, gaps=gaps)
        r = _block("ols", y, t=t)
        v = ~np.isnan(y)
        ref = stats.linregress(t[v], y[v])
        assert r["slope"] == pytest.approx(ref.slope, abs=1e-9, rel=1e-9)
        assert r["intercept"] == pytest.approx(ref.intercept, rel=1e-9)
        assert r["p_value"] == pytest.approx(ref.pvalue, abs=1e-9)
        assert r["stderr"] == pytest.approx(ref.stderr, abs=1e-9, rel=1e-9)
        assert r["rvalue"] == pytest.approx(ref.rvalue, abs=1e-9)


def _cube(nt=72, ny=6, nx=7, seed=0, chunks=None):
    rng = np.random.default_rng(seed)
    time = pd.date_range("2003-01-01", periods=nt, freq="MS")
    season = 3.0 * np.sin(2 * np.pi * (np.arange(nt) % 12) / 12.0)
    slope = 0.3 * rng.normal(size=(ny, nx))  # units per year
    t = trends.decimal_year(time)
    data = 20 + season[:, None, None] + slope[None] * (t - t[0])[:, None, None] \
        + 0.3 * rng.normal(size=(nt, ny, nx))
    data[rng.random(data.shape) < 0.1] = np.nan
    data[:, 0, 0] = np.nan  # land
    da = xr.DataArray(
        data, dims=("time", "lat", "lon"),
        coords={"time": time, "lat": np.linspace(30, 35, ny), "lon": np.linspace(120, 126, nx)},
        name="sst", attrs={"units": "degC"},
    )
    if chunks:
        da = da.chunk(chunks)
    return da, slope


@pytest.mark.parametrize("method", ["ols", "theil_sen_mk", "theil_sen_mk_hr"])
def test_per_pixel_trend_lazy_and_recovers_slopes(method):
    da, slope = _cube(chunks={"time": 24, "lat": 3, "lon": 4})
    with raise_if_dask_computes():
        res = trends.trend(da, method=method, deseason=True)
    assert res["slope"].dims == ("lat", "lon")
    res = res.compute()
    assert np.isnan(res["slope"].values[0, 0])  # all-NaN pixel
    err = (res["slope"] - slope).values[~np.isnan(res["slope"].values)]
    assert np.abs(err).max() < 0.1  # noise 0.3 over 6 years: standard error about 0.02
    assert res["slope"].attrs["units"] == "degC yr-1"
    np.testing.assert_allclose(res["slope_pct"], 100 * res["slope"] / res["mean"])
    assert bool(res["significant"].values[1, 1]) == bool(res["p_value"].values[1, 1] < 0.05)
    # the same numbers as the eager (numpy) path
    eager = trends.trend(da.compute(), method=method)
    xr.testing.assert_allclose(res["slope"], eager["slope"])


def test_deseasonalized_pixel_equals_anomaly_series():
    da, _ = _cube(chunks=None)
    res = trends.trend(da, method="ols", deseason=True)
    anom = trends.deseasonalize(da)
    res2 = trends.trend(anom, method="ols", deseason=False)
    xr.testing.assert_allclose(res["slope"], res2["slope"])


def test_regional_mean_area_weighted():
    da, _ = _cube()
    frac = xr.zeros_like(da.isel(time=0, drop=True))
    frac[2, 3] = 1.0
    frac[4, 5] = 0.5
    out = trends.regional_mean(da, frac)
    a, b = da[:, 2, 3], da[:, 4, 5]
    wa, wb = np.cos(np.deg2rad(da.lat[2])), 0.5 * np.cos(np.deg2rad(da.lat[4]))
    both = (a * wa + b * wb) / (wa + wb)
    expected = both.where(a.notnull() & b.notnull(), a.where(a.notnull(), b))
    np.testing.assert_allclose(out.values, expected.values)


def test_period_outside_data_is_a_clear_error():
    da, _ = _cube()
    with pytest.raises(SatCO2Error, match="outside the data"):
        trends.trend(da, period=("1998-01", "2004-12"))
    with pytest.raises(SatCO2Error, match="unknown trend method"):
        trends.trend(da, method="spline")
    res = trends.trend(da, period=("2004-01", "2006-12"))
    assert res.attrs["period"] == "2004-01..2006-12"


@pytest.mark.parametrize("method,deseason", [("ols", False), ("ols", True), ("theil_sen_mk", True)])
def test_trend_netcdf_streamed_equals_trend(tmp_path, method, deseason):
    da, _ = _cube(nt=48, ny=5, nx=6)
    da = da.astype("float32")
    da.time.encoding["units"] = "days since 2003-01-01"
    f = tmp_path / "in.nc"
    da.to_dataset().to_netcdf(f)
    out = tmp_path / "out.nc"
    trends.trend_netcdf(f, out, "sst", method=method, deseason=deseason, block_bytes=2000)
    got = xr.open_dataset(out)
    ref = trends.trend(da, method=method, deseason=deseason, min_count=3)
    for name in ["slope", "intercept", "p_value", "n", "mean"]:
        np.testing.assert_allclose(got[name].values, ref[name].values, rtol=2e-5, atol=2e-5,
                                   equal_nan=True, err_msg=name)
    np.testing.assert_allclose(got["slope_per_step"].values, ref["slope"].values / 12, rtol=2e-5,
                               equal_nan=True)
    assert not list(tmp_path.glob("*.tmp*"))
    with pytest.raises(SatCO2Error, match="no variable"):
        trends.trend_netcdf(f, tmp_path / "x.nc", "chl")
    assert not (tmp_path / "x.nc").exists()


def test_trend_netcdf_streamed_ols_precision_threads_and_stats(tmp_path):
    """The streamed OLS (BLAS sums, float32 within a slab) on SST-in-kelvin-like values with
    clouds, land and a pixel count large enough for the threaded split: slopes, intercepts and
    p-values as scipy.stats.linregress in float64; ``stats`` selects the outputs."""
    rng = np.random.default_rng(3)
    nt, ny, nx = 30, 400, 400  # 160 000 pixels: split over threads
    time = pd.date_range("2003-01-01", periods=nt, freq="MS")
    slope = rng.normal(0, 0.05, (ny, nx))
    y = (290.0 + 0.01 * rng.normal(size=(ny, nx)))[None] + slope[None] * np.arange(nt)[:, None, None] / 12
    y = (y + rng.normal(0, 0.2, y.shape)).astype(np.float32)
    y[rng.random(y.shape) < 0.3] = np.nan  # clouds: pixels valid at some steps only
    y[:, :40, :] = np.nan  # land
    y[2:, 100, :] = np.nan  # at most 2 values (< min_count 3) -> NaN
    da = xr.DataArray(y, dims=("time", "lat", "lon"), name="sst", attrs={"units": "K"},
                      coords={"time": time, "lat": np.arange(ny) * 0.1, "lon": np.arange(nx) * 0.1})
    f = tmp_path / "in.nc"
    da.to_dataset().to_netcdf(f)
    out = tmp_path / "out.nc"
    trends.trend_netcdf(f, out, "sst", method="ols", block_bytes=4 * 7 * ny * nx,
                        stats=("slope", "intercept", "p_value", "mean"))
    got = xr.open_dataset(out)
    assert sorted(got.data_vars) == ["intercept", "mean", "p_value", "slope"]
    t = trends.decimal_year(time.values)
    for j, i in [(200, 17), (399, 399), (41, 0), (250, 321)]:
        ok = np.isfinite(y[:, j, i])
        ref = stats.linregress(t[ok], y[ok, j, i].astype(np.float64))
        np.testing.assert_allclose(got.slope.values[j, i], ref.slope, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(got.intercept.values[j, i], ref.intercept, rtol=1e-6)
        np.testing.assert_allclose(got.p_value.values[j, i], ref.pvalue, rtol=1e-3, atol=1e-6)
    full = trends.trend(da, method="ols", deseason=False, min_count=3)
    np.testing.assert_allclose(got.slope.values, full.slope.values, rtol=1e-4, atol=1e-5, equal_nan=True)
    np.testing.assert_allclose(got["mean"].values, full["mean"].values, rtol=1e-6, equal_nan=True)
    assert np.isnan(got.slope.values[:40]).all() and np.isnan(got.slope.values[100]).all()
    # without p-value, stderr and rvalue the statistics come from a shorter path: the same values
    cols = ("slope", "intercept", "n", "mean", "slope_pct", "slope_per_step")
    trends.trend_netcdf(f, tmp_path / "cols.nc", "sst", method="ols", stats=cols)
    trends.trend_netcdf(f, tmp_path / "all.nc", "sst", method="ols")
    short, every = xr.open_dataset(tmp_path / "cols.nc"), xr.open_dataset(tmp_path / "all.nc")
    assert sorted(short.data_vars) == sorted(cols)
    for name in cols:
        np.testing.assert_array_equal(short[name].values, every[name].values, err_msg=name)
    with pytest.raises(SatCO2Error, match="not outputs of the method"):
        trends.trend_netcdf(f, tmp_path / "x.nc", "sst", stats=("slope", "tau"))
    assert not (tmp_path / "x.nc").exists()


def test_trend_netcdf_streamed_ols_mapped_equals_read(tmp_path):
    """A contiguous uncompressed variable is summed through the page cache (mmap, pieces of
    pixels, NaN handling only where a piece has some); a chunked zlib copy of the same values
    goes through netCDF4's reads: both give the same statistics, equal to
    scipy.stats.linregress, with clouds (also at the first step), inf, land and several mappings."""
    from satco2.science import trend_stream

    rng = np.random.default_rng(11)
    nt, ny, nx = 40, 300, 300  # 90 000 pixels: split over threads, pieces of 16 384
    time = pd.date_range("2003-01-01", periods=nt, freq="MS")
    slope = rng.normal(0, 0.05, (ny, nx))
    y = (285.0 + rng.normal(0, 3, (ny, nx)))[None] + slope[None] * np.arange(nt)[:, None, None] / 12
    y = (y + rng.normal(0, 0.2, y.shape)).astype(np.float32)
    y[:, :150][rng.random((nt, 150, nx)) < 0.3] = np.nan  # clouds, at the first step too
    y[:, :30, :] = np.nan  # land
    y[:3, 200, :] = np.nan  # first valid value at step 3
    y[:14, 30:40, :] = np.nan  # no value in the first 2 slabs (like land), then values
    y[5, 201, ::7] = np.inf  # not a value either
    y[:, 150:, 10] = np.nan  # a few cloudy pixels in otherwise clear pieces (rows 150-299)
    y[[4, 17, 33], 150:, 10] = np.array([290.0, 290.5, 290.2], np.float32)[:, None]
    da = xr.DataArray(y, dims=("time", "lat", "lon"), name="sst", attrs={"units": "K"},
                      coords={"time": time, "lat": np.arange(ny) * 0.1, "lon": np.arange(nx) * 0.1})
    flat, packed = tmp_path / "flat.nc", tmp_path / "zlib.nc"
    da.to_dataset().to_netcdf(flat)
    da.to_dataset().to_netcdf(packed, encoding={"sst": {"zlib": True, "chunksizes": (nt, 50, 50)}})
    import netCDF4

    with netCDF4.Dataset(flat) as a, netCDF4.Dataset(packed) as b:
        assert trend_stream._contiguous_offset(flat, a["sst"], y.shape) is not None
        assert trend_stream._contiguous_offset(packed, b["sst"], y.shape) is None
    bb = 4 * 7 * ny * nx  # float32 sums over slabs of 7 steps
    trend_netcdf = trend_stream.trend_netcdf
    trend_netcdf(flat, tmp_path / "m.nc", "sst", block_bytes=bb)
    trend_netcdf(packed, tmp_path / "r.nc", "sst", block_bytes=bb)
    m, r = xr.open_dataset(tmp_path / "m.nc"), xr.open_dataset(tmp_path / "r.nc")
    for name in ("slope", "intercept", "p_value", "n", "mean", "stderr", "rvalue"):
        # the count sums differ in rounding (float64 total less the missing steps here, float32
        # products there): slopes within 1e-7 K/yr (both ~4e-8 from a float64 computation),
        # intercepts (at year 0) within 2000 times that
        np.testing.assert_allclose(m[name].values, r[name].values, rtol=1e-6,
                                   atol=2e-4 if name == "intercept" else 1e-7, equal_nan=True, err_msg=name)
    assert np.isnan(m.slope.values[:30]).all() and np.isfinite(m.slope.values[30:]).mean() > 0.99
    t = trends.decimal_year(time.values)
    # pieces and bands of other sizes, one thread: the same sums
    with netCDF4.Dataset(flat) as a:
        where = trend_stream._contiguous_offset(flat, a["sst"], y.shape)
    args = (flat, *where, nt, ny * nx, t - t.mean(), 7)
    acc, shift = trend_stream._ols_mapped_sums(*args, nthreads=1, piece=1000, band=3500)
    ref_acc, ref_shift = trend_stream._ols_mapped_sums(*args)
    np.testing.assert_array_equal(shift, ref_shift)
    # a block beyond the end of the file cannot be mapped: None, and trend_netcdf reads instead
    assert trend_stream._ols_mapped_sums(flat, 10**9, np.dtype("f4"), *args[3:]) is None
    np.testing.assert_allclose(acc, ref_acc, rtol=1e-7, atol=1e-5)  # float32 sums in another order
    for j, i in [(200, 5), (201, 7), (201, 8), (160, 10), (299, 299), (30, 0), (35, 123), (120, 77)]:
        ok = np.isfinite(y[:, j, i])
        ref = stats.linregress(t[ok], y[ok, j, i].astype(np.float64))
        np.testing.assert_allclose(m.slope.values[j, i], ref.slope, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(m.intercept.values[j, i], ref.intercept, rtol=1e-6)
        np.testing.assert_allclose(m.rvalue.values[j, i], ref.rvalue, rtol=1e-4, atol=1e-5)
        assert m.n.values[j, i] == ok.sum()


@pytest.mark.parametrize("dtype,endian", [("f8", "native"), ("f4", "big")])
def test_trend_netcdf_streamed_ols_mapped_other_floats(tmp_path, dtype, endian):
    """float64 and big-endian float32 variables stored contiguous take the page-cache path too
    and give what the read path gives (float64 values: both as close to a float64 least squares;
    the page-cache path shifts before rounding to float32, the read path after)."""
    import netCDF4

    from satco2.science import trend_stream

    rng = np.random.default_rng(5)
    nt, ny, nx = 30, 60, 70
    y = 280.0 + rng.normal(0, 0.5, (nt, ny, nx)) + 0.02 * np.arange(nt)[:, None, None]
    y[rng.random(y.shape) < 0.2] = np.nan
    y[:, :5] = np.nan
    f = tmp_path / "in.nc"
    with netCDF4.Dataset(f, "w") as nc:
        for d, n in (("time", nt), ("lat", ny), ("lon", nx)):
            nc.createDimension(d, n)
        t = nc.createVariable("time", "f8", ("time",))
        t.units = "days since 2003-01-01"
        t[:] = np.arange(nt) * 30.5
        fill = np.array(np.nan, np.dtype(dtype).newbyteorder(">" if endian == "big" else "="))
        v = nc.createVariable("sst", fill.dtype, ("time", "lat", "lon"), contiguous=True, endian=endian,
                              fill_value=fill)
        v[:] = y
    with netCDF4.Dataset(f) as nc:
        assert trend_stream._contiguous_offset(f, nc["sst"], y.shape) is not None
    trend_stream.trend_netcdf(f, tmp_path / "m.nc", "sst")
    offset = trend_stream._contiguous_offset
    try:
        trend_stream._contiguous_offset = lambda *a: None
        trend_stream.trend_netcdf(f, tmp_path / "r.nc", "sst")
    finally:
        trend_stream._contiguous_offset = offset
    m, r = xr.open_dataset(tmp_path / "m.nc"), xr.open_dataset(tmp_path / "r.nc")
    if dtype == "f4":
        for name in ("slope", "intercept", "p_value", "n", "mean"):
            np.testing.assert_allclose(m[name].values, r[name].values, rtol=1e-6,
                                       atol=2e-4 if name == "intercept" else 1e-7, equal_nan=True, err_msg=name)
    else:  # float64 least squares over the valid values, per pixel
        with netCDF4.Dataset(f) as nc:
            tt = trend_stream._decimal_years_cf(nc["time"][:], nc["time"].units)[0]
        ok = np.isfinite(y)
        ok[:, :5] = True  # land: kept out of the reference (its slope is NaN, tested below)
        y = np.where(ok & ~np.isfinite(y), 0.0, y)
        n = ok.sum(axis=0)
        tm = np.where(ok, tt[:, None, None], 0).sum(axis=0) / n
        ym = np.where(ok, y, 0).sum(axis=0) / n
        dt = np.where(ok, tt[:, None, None] - tm, 0)
        exact = (dt * np.where(ok, y - ym, 0)).sum(axis=0) / (dt * dt).sum(axis=0)
        err_m = np.nanmax(np.abs(m.slope.values - exact))
        err_r = np.nanmax(np.abs(r.slope.values - exact))
        assert err_m < 2e-5 and err_r < 2e-5  # slopes up to 0.8 K/yr: the float32 slab sums
        np.testing.assert_allclose(m["n"].values[5:], n[5:])
    assert np.isnan(m.slope.values[:5]).all() and np.isfinite(m.slope.values[5:]).all()


@pytest.mark.parametrize("method", ["ols", "theil_sen_mk"])
def test_trend_netcdf_decodes_packed_integers(tmp_path, method):
    """int16 with scale_factor, add_offset and _FillValue (as OISST and MODIS SST files store
    it): the streamed trend equals trend() on the decoded values."""
    da, _ = _cube(nt=36, ny=4, nx=5)
    da = (da - float(da.mean()) + 20.0).astype("float32")
    da[3:6, 1, 2] = np.nan
    da.time.encoding["units"] = "days since 2003-01-01"
    f = tmp_path / "packed.nc"
    da.to_dataset().to_netcdf(f, encoding={"sst": {"dtype": "int16", "scale_factor": 0.01,
                                                   "add_offset": 20.0, "_FillValue": -32768}})
    decoded = xr.open_dataset(f)["sst"].load()
    trends.trend_netcdf(f, tmp_path / "out.nc", "sst", method=method, stats=("slope", "mean", "n"))
    got = xr.open_dataset(tmp_path / "out.nc")
    ref = trends.trend(decoded, method=method, deseason=False, min_count=3)
    for name in ("slope", "mean", "n"):
        np.testing.assert_allclose(got[name].values, ref[name].values, rtol=1e-5, atol=1e-6,
                                   equal_nan=True, err_msg=name)


# --- Hamed-Rao on real time axes (issue 20): monthly decimal years, days, gaps -------------------
def _hr_reference(y, x, alpha):
    """Hamed-Rao variance factor by the documented definition, in plain numpy/scipy: Theil-Sen
    slope against ``x`` over the valid values, detrend y_k - slope * x_k, ranks, their
    autocorrelation over the gap-closed sequence, significant lags summed."""
    v = ~np.isnan(y)
    yv, xv = y[v], x[v]
    n = yv.size
    ii, jj = np.triu_indices(n, 1)
    slope = np.median((yv[jj] - yv[ii]) / (xv[jj] - xv[ii]))
    r = stats.rankdata(yv - slope * xv)
    r = r - r.mean()
    acf = np.array([np.dot(r[: n - k], r[k:]) for k in range(n)]) / np.dot(r, r)
    bound = stats.norm.ppf(1 - alpha / 2) / np.sqrt(n)
    k = np.arange(1, n)
    sig = np.abs(acf[1:]) > bound
    return 1 + 2 / (n * (n - 1) * (n - 2)) * np.sum(((n - k) * (n - k - 1) * (n - k - 2) * acf[1:])[sig])


@pytest.mark.parametrize("gaps", [False, True])
def test_hamed_rao_index_matches_pymannkendall_on_monthly_decimal_years(gaps):
    """``theil_sen_mk_hr_index`` on a monthly axis in decimal years (what ``trend`` passes), with
    and without gaps, is pymannkendall's Hamed-Rao test: Var(S), z, p and the variance factor to
    1e-9, the slope per year = pymannkendall's slope per step x 12. (It detrended with the slope
    per year times the observation index: Var(S) up to 1000x too large on such axes.)"""
    rng = np.random.default_rng(21 + gaps)
    for k in range(N_SERIES):
        n = int(rng.integers(40, 200))
        t = 1997 + 8 / 12 + np.arange(n) / 12.0
        y = _series(rng, n, ties=bool(k % 2), gaps=gaps, ar=0.6)
        ref = pmk.hamed_rao_modification_test(y)
        r = _block("theil_sen_mk_hr_index", y, t=t)
        for ours, theirs in [("p_value", ref.p), ("z", ref.z), ("var_s", ref.var_s), ("s", ref.s),
                             ("tau", ref.Tau)]:
            assert r[ours] == pytest.approx(theirs, abs=1e-9, rel=1e-9), (ours, n)
        assert r["slope"] / 12 == pytest.approx(ref.slope, abs=1e-9, rel=1e-9)


def test_hamed_rao_does_not_depend_on_the_time_unit_or_step():
    """The same monthly series with time in decimal years, months, days (30.44-day steps) and
    shifted: identical S, Var(S), factor and p for both Hamed-Rao variants; without gaps the
    time-detrended variant equals pymannkendall, with gaps it equals the documented definition
    (detrended against time) computed in plain numpy."""
    rng = np.random.default_rng(33)
    for k in range(8):
        n = int(rng.integers(60, 180))
        gaps = bool(k % 2)
        y = _series(rng, n, ties=False, gaps=gaps, ar=0.7)
        axes = {"years": 2003 + np.arange(n) / 12.0, "months": np.arange(n, dtype=float) + 5.0,
                "days": 12000.0 + 30.436875 * np.arange(n)}
        for method in ("theil_sen_mk_hr", "theil_sen_mk_hr_index"):
            # the time variant: equal up to rounding of the two points the Theil-Sen line passes
            # through (a tie after detrending on one axis can be 1 ulp apart on another: at most
            # a half-rank change, see test_hamed_rao_matches_pymannkendall)
            tol = 2e-3 if method == "theil_sen_mk_hr" else 1e-9
            res = {u: _block(method, y, t=t) for u, t in axes.items()}
            for u in ("months", "days"):
                for name in ("s", "var_s", "hr_factor", "p_value"):
                    assert res[u][name] == pytest.approx(res["years"][name], rel=tol, abs=tol), (method, u, name)
            if not gaps or method == "theil_sen_mk_hr_index":
                ref = pmk.hamed_rao_modification_test(y)
                assert res["years"]["var_s"] == pytest.approx(ref.var_s, rel=tol)
                assert res["years"]["p_value"] == pytest.approx(ref.p, abs=tol)
        for u, t in axes.items():
            assert _block("theil_sen_mk_hr", y, t=t)["hr_factor"] == pytest.approx(
                _hr_reference(y, t, 0.05), rel=2e-3), u


def test_trend_hamed_rao_on_a_monthly_cube_with_gaps_equals_pymannkendall():
    """Through ``trend()`` (datetimes -> decimal years): per pixel, the index variant equals
    pymannkendall's Hamed-Rao p-value, and the default variant finds about as many significant
    pixels (it found none before the fix on real monthly chlorophyll)."""
    rng = np.random.default_rng(4)
    nt, npix = 150, 40
    time = pd.date_range("1997-09-01", periods=nt, freq="MS")
    y = np.stack([_series(rng, nt, ties=False, gaps=True, ar=0.5) + 0.03 * np.arange(nt) * (p % 3)
                  for p in range(npix)])
    da = xr.DataArray(y, dims=("pixel", "time"), coords={"time": time}, name="chl")
    idx = trends.trend(da, method="theil_sen_mk_hr_index", deseason=False, min_count=3)
    tim = trends.trend(da, method="theil_sen_mk_hr", deseason=False, min_count=3)
    ref = np.array([pmk.hamed_rao_modification_test(row).p for row in y])
    np.testing.assert_allclose(idx["p_value"].values, ref, rtol=1e-9, atol=1e-12)
    n_ref = int((ref < 0.05).sum())
    assert n_ref >= 10
    assert abs(int(tim["significant"].sum()) - n_ref) <= max(2, n_ref // 10)


def test_streamed_ols_loads_neither_xarray_nor_numba(tmp_path):
    """trend_netcdf's streamed OLS (the `cdo trend` counterpart) runs in a process that imports
    numpy and netCDF4 only: xarray, pandas, cf_xarray and numba cost it ~1 s of start-up."""
    import subprocess
    import sys

    import netCDF4

    path = tmp_path / "c.nc"
    with netCDF4.Dataset(path, "w") as nc:
        for d, n in (("time", 6), ("lat", 2), ("lon", 3)):
            nc.createDimension(d, n)
        t = nc.createVariable("time", "f8", ("time",))
        t.units = "days since 2003-01-01"
        t[:] = [0, 31, 59, 90, 120, 151]
        nc.createVariable("x", "f4", ("time", "lat", "lon"))[:] = np.arange(36, dtype=np.float32).reshape(6, 2, 3)
    code = ("import sys; from satco2.science import trend_stream; "
            f"trend_stream.trend_netcdf({str(path)!r}, {str(tmp_path / 'o.nc')!r}, 'x', "
            "stats=('intercept', 'slope_per_step')); "
            "print(sorted(m for m in ('xarray', 'pandas', 'cf_xarray', 'numba', 'dask') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    with netCDF4.Dataset(tmp_path / "o.nc") as nc:
        np.testing.assert_allclose(nc["slope_per_step"][:], 6.0, rtol=0.05)  # +6 per step, months of unequal length


def _adversarial_block(rng, nt, npix):
    """(npix, nt) series that break shortcuts: ties (values on a 0.5 grid), gaps, constant rows,
    all-missing rows, rows with 3 and 2 valid values, outliers, and float32 rows."""
    Y = rng.normal(size=(npix, nt)) + 0.05 * np.arange(nt) * rng.normal(size=(npix, 1))
    Y[::3] = np.round(Y[::3] * 2) / 2
    Y[1::2][rng.random((len(Y[1::2]), nt)) < 0.2] = np.nan
    Y[0] = 1.5
    Y[1] = np.nan
    Y[2, :-3] = np.nan
    Y[3, :-2] = np.nan
    Y[4, rng.integers(0, nt, 4)] = 1e3
    Y[5, ::2] = Y[5, 1::2][: len(Y[5, ::2])] if nt % 2 == 0 else Y[5, ::2]
    return Y


@pytest.mark.parametrize("deseason", [False, True])
def test_numpy_small_path_equals_the_numba_kernel_exactly(deseason, monkeypatch):
    """The numba-free path for small inputs gives bit-identical raw statistics (slope, intercept,
    n, S, Var(S), mean) to the numba kernel: regular, irregular and repeated time steps, short
    and long series (the bracketed median above 4 x 1024 pairs), float32 input, min_count, and
    forced bracket misses (a bracket of one sample quantile)."""
    from satco2.science import _trend_kernels as K
    from satco2.science import _trend_small as S

    rng = np.random.default_rng(23)
    checked = 0
    for case in range(24):
        nt = [3, 4, 12, 40, 91, 92, 128, 144, 150][case % 9]
        t = 2003 + np.arange(nt) / 12.0
        if case % 4 == 1:
            t = np.sort(rng.uniform(0, 10, nt))  # irregular steps
        if case % 4 == 3 and nt > 8:
            t[5:8] = t[5]  # repeated times: those pairs have slope 0, as in the kernel
        month = (np.arange(nt) % 12 + 1).astype(np.int64)
        Y = _adversarial_block(rng, nt, 30)
        if case % 5 == 0:
            Y = Y.astype(np.float32)
        if case % 6 == 5:
            monkeypatch.setattr(S, "_QLO", 0.5)
            monkeypatch.setattr(S, "_QHI", 0.5)
        else:
            monkeypatch.setattr(S, "_QLO", 0.44)
            monkeypatch.setattr(S, "_QHI", 0.56)
        for min_count in (3, 12):
            got = S.theil_sen_mk_block(Y, t, month, deseason, min_count)
            ref = K.theil_sen_mk_block(np.ascontiguousarray(Y), t, month, deseason, min_count,
                                       False, False, 1.96, 1)
            assert np.array_equal(got, ref, equal_nan=True), (case, nt, min_count)
            checked += int(np.isfinite(ref[:, 0]).sum())
    assert checked > 500


def test_first_small_trend_loads_no_numba_and_equals_the_kernel(shared_data, tmp_path):
    """On a small real cube (ERSST v5, 20 x 20 pixels, 128 months) ``trend(theil_sen_mk)`` in a
    fresh process does not import numba (its cache load alone costs > 1 s), and its statistics
    equal the numba kernel's."""
    import subprocess
    import sys

    src = shared_data / "sst" / "ersstv5_sst.mnmean_2010-2020.nc"
    out = tmp_path / "small.nc"
    code = ("import sys, xarray as xr; from satco2.science import trends; "
            f"da = xr.open_dataset({str(src)!r})['sst'].isel(lat=slice(20, 40), lon=slice(60, 80)).load(); "
            f"trends.trend(da, method='theil_sen_mk').to_netcdf({str(out)!r}); "
            "print('numba' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"
    got = xr.open_dataset(out)
    da = xr.open_dataset(src)["sst"].isel(lat=slice(20, 40), lon=slice(60, 80)).load()
    from satco2.science import _trend_kernels  # noqa: F401  (the kernel path from here on)

    ref = trends.trend(da, method="theil_sen_mk")
    assert int(np.isfinite(ref["slope"]).sum()) > 300
    for v in ("slope", "intercept", "n", "s", "var_s", "p_value", "mean"):
        np.testing.assert_array_equal(got[v].values, ref[v].values, err_msg=v)


@pytest.mark.parametrize("method", ["theil_sen_mk_hr", "theil_sen_mk_hr_index"])
@pytest.mark.parametrize("kind", ["constant", "line"])
def test_hamed_rao_on_a_series_that_detrends_to_a_constant_is_the_original_test(method, kind):
    """A constant series (or an exact line, constant once detrended) has no autocorrelation to
    count: n/n* = 1, so the statistics are pymannkendall's original (unmodified) test. (The kernel
    divided 0 by 0 before; pymannkendall's Hamed-Rao test returns NaN variance there, and NaN z and
    p for the exact line, whose trend is certain.)"""
    y = np.full(48, 3.25) if kind == "constant" else 0.5 + 0.25 * np.arange(48.0)
    ref = pmk.original_test(y)
    r = _block(method, y)
    assert r["hr_factor"] == 1.0
    for ours, theirs in [("slope", ref.slope), ("s", ref.s), ("var_s", ref.var_s), ("z", ref.z),
                         ("p_value", ref.p)]:
        assert r[ours] == pytest.approx(theirs, abs=1e-9), ours


@pytest.mark.slow
def test_theil_sen_kernel_without_avx512_compress_gives_the_same_results(tmp_path):
    """The kernel compiles its in-bracket compaction and selection filters with AVX-512's compress
    where the CPU has it, a branch-free scalar loop elsewhere: compiled for a generic x86-64 CPU
    (``NUMBA_CPU_NAME``, in a fresh process with its own numba cache) the scalar variant gives
    bit-identical statistics, Hamed-Rao included, on series that break shortcuts."""
    import os
    import subprocess
    import sys

    from satco2.science import _trend_kernels as K

    rng = np.random.default_rng(5)
    blocks = {nt: _adversarial_block(rng, nt, 400) for nt in (40, 144)}
    for nt, Y in blocks.items():
        np.save(tmp_path / f"Y{nt}.npy", Y)
    script = f"""
import numpy as np, sys
from satco2.science import _trend_kernels as K
assert not K._COMPRESS
for nt in (40, 144):
    Y = np.load(r"{tmp_path}/Y%d.npy" % nt)
    t = 2003 + np.arange(nt) / 12.0
    month = (np.arange(nt) % 12 + 1).astype(np.int64)
    np.save(r"{tmp_path}/out%d.npy" % nt, K.theil_sen_mk_block(Y, t, month, False, 3, True, False, 1.96, 2))
"""
    env = {**os.environ, "NUMBA_CPU_NAME": "generic", "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    for nt, Y in blocks.items():
        t = 2003 + np.arange(nt) / 12.0
        month = (np.arange(nt) % 12 + 1).astype(np.int64)
        ref = K.theil_sen_mk_block(Y, t, month, False, 3, True, False, 1.96, 2)
        np.testing.assert_array_equal(np.load(tmp_path / f"out{nt}.npy"), ref)
