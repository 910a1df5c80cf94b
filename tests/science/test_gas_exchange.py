"""Gas exchange: check values from the cited papers, seaflux agreement, validity warnings, budgets."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import satco2
from satco2.science import gas_exchange as ge


# --- check values -------------------------------------------------------------------------------

def test_schmidt_number_W14_table1():
    # Wanninkhof (2014) Table 1: Sc(CO2, seawater, 20 °C) = 668.344
    assert ge.sc_W14(20.0) == pytest.approx(668.344, abs=5e-4)


def test_K0_W74_check_value():
    # Weiss (1974) eq. 12, volumetric constants: K0(20 °C, S 35) ≈ 0.0332 mol L-1 atm-1
    assert ge.K0_W74(20.0, 35.0) == pytest.approx(0.0332, abs=5e-5)
    # solubility falls with temperature and salinity
    assert ge.K0_W74(10.0, 35.0) > ge.K0_W74(20.0, 35.0) > ge.K0_W74(20.0, 38.0)


def test_k_W14_check_value():
    # Wanninkhof (2014) eq. 4 at U10 = 10 m s-1, 20 °C: 0.251*100*(668.344/660)^-0.5 = 24.94 cm/h
    assert ge.k_W14(10.0, 20.0) == pytest.approx(24.94, abs=0.01)


def test_flux_check_value():
    # issue 4: F(20 °C, S 35, 10 m/s, dpCO2 -50 µatm) ≈ -9.94 mmol m-2 d-1
    f = ge.flux_kernel(20.0, 35.0, 10.0, -50.0, k_param="W14")
    assert f == pytest.approx(-9.94, abs=0.01)


def test_pH2O_WP80_against_dickson2007():
    # Weiss & Price (1980) vs Dickson et al. (2007) SOP 5 value 0.030699 atm at 25 °C, S 35
    assert ge.pH2O_WP80(25.0, 35.0) == pytest.approx(0.030699, rel=2e-3)


def test_fugacity_factor_matches_pyco2sys():
    import PyCO2SYS as pyco2

    t = np.array([0.0, 10.0, 20.0, 30.0])
    ours = ge.fugacity_factor_W74(t, 1.0)
    # PyCO2SYS works in bar with R = 83.14462618 cm3 bar mol-1 K-1 (CODATA 2018, opt_gas_constant=3)
    theirs = pyco2.gas.fugacity_factor(t, 4, 83.14462618, 0.0, pressure_atmosphere=1.0)
    np.testing.assert_allclose(ours, theirs, rtol=2e-6)
    # Dickson et al. (2007): 350 µatm pCO2 at 25 °C is ~348.9 µatm fCO2
    assert ge.pco2_to_fco2(350.0, 25.0) == pytest.approx(348.88, abs=0.02)
    assert ge.fco2_to_pco2(ge.pco2_to_fco2(400.0, 12.0), 12.0) == pytest.approx(400.0)


def test_isochemical_temperature_sensitivity_through_pyco2sys():
    """Takahashi et al. (1993): d ln pCO2 / dT = 0.0423 °C-1 for a closed sample over 2-28 °C."""
    import PyCO2SYS as pyco2

    t = np.array([2.0, 28.0])
    r = pyco2.sys(par1=2300.0, par2=2000.0, par1_type=1, par2_type=2, salinity=35.0,
                  temperature=t, opt_k_carbonic=4)
    slope = np.log(r["pCO2"][1] / r["pCO2"][0]) / (t[1] - t[0])
    assert slope == pytest.approx(ge.T93_COEFFICIENT, abs=1e-3)
    # the T93 factor applied to the 2 °C value lands within 2 % of PyCO2SYS at 28 °C
    assert r["pCO2"][0] * ge.temperature_factor_T93(2.0, 28.0) == pytest.approx(r["pCO2"][1], rel=0.02)


# --- registry, validity -------------------------------------------------------------------------

def test_k_registry_and_ordering():
    assert set(ge.K_PARAMETERIZATIONS) == {"W14", "W92", "N00", "H06"}
    k = {n: f(10.0, 20.0) for n, f in ge.K_PARAMETERIZATIONS.items()}
    # quadratic coefficients 0.31 (W92) > 0.251 (W14); N00 has a linear term; all within 20-32 cm/h
    assert k["W92"] > k["W14"]
    assert all(18 < v < 32 for v in k.values())
    with pytest.raises(satco2.SatCO2Error, match="unknown gas-transfer"):
        ge.get_k("XX")


def test_validity_warning_outside_range():
    with pytest.warns(satco2.ValidityWarning, match="sc_W14"):
        ge.sc_W14(np.array([10.0, 45.0]))
    with pytest.warns(satco2.ValidityWarning, match="u10"):
        ge.k_W14(np.array([5.0, 40.0]), 20.0)
    # NaNs alone are not a violation
    ge.K0_W74(np.array([np.nan, 10.0]), np.array([35.0, np.nan]))


# --- agreement with seaflux --------------------------------------------------------------------

seaflux = pytest.importorskip("seaflux")


def test_seaflux_agreement_where_definitions_coincide():
    from seaflux import gas_transfer_velocity as skw
    from seaflux import solubility, vapour_pressure

    rng = np.random.default_rng(0)
    t = rng.uniform(2, 30, 200)
    s = rng.uniform(25, 36, 200)
    u = rng.uniform(1, 15, 200)
    np.testing.assert_allclose(ge.sc_W14(t), skw.schmidt_number(t), rtol=1e-12)
    np.testing.assert_allclose(ge.k_W14(u, t), skw.k_Wa14(u**2, t), rtol=1e-12)
    np.testing.assert_allclose(ge.k_W92(u, t), skw.k_Wa92(u**2, t), rtol=1e-12)
    np.testing.assert_allclose(ge.k_N00(u, t), skw.k_Ni00(u, t), rtol=1e-12)
    np.testing.assert_allclose(ge.k_H06(u, t), skw.k_Ho06(u**2, t), rtol=1e-12)
    np.testing.assert_allclose(ge.pH2O_WP80(t, s), vapour_pressure.weiss1980(s, t + 273.15), rtol=1e-12)
    # Definition difference: seaflux's solubility_weiss1974 returns K0 / (P - pH2O)
    # (it folds the moist-air correction into K0); ours is Weiss's K0 itself.
    p = 1.0
    np.testing.assert_allclose(
        ge.K0_W74(t, s) / (p - ge.pH2O_WP80(t, s)), solubility.solubility_weiss1974(s, t + 273.15, p),
        rtol=1e-12,
    )


def test_seaflux_flux_bulk_differs_only_by_its_solubility_definition():
    rng = np.random.default_rng(1)
    n = 100
    t, s, u = rng.uniform(5, 28, n), rng.uniform(28, 35, n), rng.uniform(2, 14, n)
    psw, pair = rng.uniform(250, 500, n), np.full(n, 380.0)
    slp_hpa = np.full(n, 1013.25)
    theirs = seaflux.flux_bulk(t, s, psw, pair, slp_hpa, u, kw_func=lambda w, tc: ge.k_W14(w, tc))
    ours = ge.flux_kernel(t, s, u, psw - pair)  # mmol m-2 d-1
    ours_g = ours * 12.0108e-3 / (slp_hpa / 1013.25 - ge.pH2O_WP80(t, s))  # seaflux: gC, K0/(P-pH2O)
    np.testing.assert_allclose(ours_g, theirs, rtol=1e-10)


def test_cell_area_against_authalic_sphere_and_seaflux():
    lat = np.arange(-89.5, 90, 1.0)
    lon = np.arange(0.5, 360, 1.0)
    a = ge.cell_area_WGS84(lat, lon)
    # Moritz (1980), GRS80/WGS84 authalic radius 6371007.181 m: total = 4 pi R^2
    assert a.sum() == pytest.approx(4 * np.pi * 6371007.181**2, rel=1e-9)
    from seaflux.area import area_grid

    sf = area_grid(lat[30:150], lon).T  # seaflux: local-radius approximation, same orientation
    # seaflux scales a sphere by the geocentric radius at each latitude: within 1 % of the exact
    # ellipsoidal areas between 60 S and 60 N
    np.testing.assert_allclose(a[30:150], sf, rtol=1e-2)


def test_budget_uniform_flux_over_known_area():
    lat = np.arange(21.05, 35.0, 0.1)
    lon = np.arange(117.05, 131.0, 0.1)
    area = ge.cell_area_WGS84(lat, lon).sum()
    f = xr.DataArray(np.full((2, lat.size, lon.size), -5.0), dims=("time", "lat", "lon"),
                     coords={"lat": ("lat", lat, {"standard_name": "latitude"}),
                             "lon": ("lon", lon, {"standard_name": "longitude"})})
    b = ge.budget_TgC_per_yr(f)
    expected = -5.0 * area * 1e-3 * 12.0107 * 365.25 / 1e12
    np.testing.assert_allclose(b.values, expected, rtol=1e-12)
    assert b.attrs["units"] == "Tg C yr-1"
    # half-weighted region gives half the budget
    w = xr.full_like(f.isel(time=0), 0.5)
    np.testing.assert_allclose(ge.budget_TgC_per_yr(f, w).values, expected / 2, rtol=1e-12)


def test_fused_kernels_equal_reference_functions():
    rng = np.random.default_rng(5)
    t, s, u = rng.uniform(0, 32, 500), rng.uniform(20, 36, 500), rng.uniform(0.5, 18, 500)
    dp = rng.uniform(-200, 150, 500)
    t[3] = np.nan
    for name in ge.K_PARAMETERIZATIONS:
        np.testing.assert_allclose(ge.flux_fast(t, s, u, dp, name), ge.flux_kernel(t, s, u, dp, name),
                                   rtol=1e-12, equal_nan=True)
    x, p = rng.uniform(360, 420, 500), rng.uniform(99000, 103000, 500)
    np.testing.assert_allclose(ge.pco2_air_fast(x, p, t, s), ge.pco2_air(x, p, t, s), rtol=1e-12,
                               equal_nan=True)
    psw = rng.uniform(200, 500, 500)
    for name in ge.K_PARAMETERIZATIONS:
        ref = ge.flux_kernel(t, s, u, psw - ge.pco2_air(x, p, t, s), name)
        np.testing.assert_allclose(ge.flux_from_pco2_fast(t, s, u, psw, x, p, name), ref, rtol=1e-10,
                                   equal_nan=True)
        got32 = ge.flux_from_pco2_fast(*(a.astype(np.float32) for a in (t, s, u, psw, x, p)), name)
        np.testing.assert_allclose(got32, ref, rtol=1e-3, atol=1e-3, equal_nan=True)
    with pytest.warns(satco2.ValidityWarning, match="u10"):
        ge.flux_fast(np.array([20.0]), np.array([35.0]), np.array([30.0]), np.array([1.0]))
    with pytest.raises(satco2.SatCO2Error):
        ge.flux_fast(t, s, u, dp, "XX")


def test_flux_from_pco2_fast_reads_mixed_precisions_as_they_are_and_writes_dtype_or_out():
    """float32 fields with a float64 xCO2 series (as opened from Zarr) are read without converted
    copies: the same values as the all-float64 call; ``dtype`` rounds that result once, ``out``
    receives it."""
    rng = np.random.default_rng(3)
    f32 = [rng.uniform(lo, hi, (4, 6, 7)).astype(np.float32)
           for lo, hi in ((5, 30), (25, 35), (1, 15), (300, 480))]
    f32[0][1, 2, 3] = np.nan
    x = np.linspace(390.0, 400.0, 4)[:, None, None]
    p = rng.uniform(99500, 102500, (4, 6, 7)).astype(np.float32)
    ref = ge.flux_from_pco2_fast(*(a.astype(np.float64) for a in f32), x, p.astype(np.float64))
    got = ge.flux_from_pco2_fast(*f32, x, p)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, ref)
    got32 = ge.flux_from_pco2_fast(*f32, x, p, dtype=np.float32)
    assert got32.dtype == np.float32
    np.testing.assert_array_equal(got32, ref.astype(np.float32))
    out = np.empty((4, 6, 7), np.float32)
    assert ge.flux_from_pco2_fast(*f32, x, p, dtype=np.float32, out=out) is out
    np.testing.assert_array_equal(out, got32)
    # writeable or read-only inputs (xarray hands read-only views): one compiled signature
    n_sigs = len(ge._poly_kernel().signatures)
    ro = [a.view() for a in f32]
    for a in ro:
        a.flags.writeable = False
    np.testing.assert_array_equal(ge.flux_from_pco2_fast(*ro, x, p), ref)
    np.testing.assert_array_equal(ge.flux_from_pco2_fast(*(a[:1] for a in f32), x[:1], p[:1]), ref[:1])
    assert len(ge._poly_kernel().signatures) == n_sigs
    with pytest.raises(ValueError, match="C-contiguous"):
        ge.flux_from_pco2_fast(*f32, x, p, out=np.empty((4, 6, 7), np.float32))  # float64 result
    with pytest.raises(ValueError, match="float32 or float64"):
        ge.flux_from_pco2_fast(*f32, x, p, dtype=np.int16)


def test_flux_from_pco2_polynomial_path_equals_exact_kernel_over_the_validity_ranges():
    """flux_from_pco2_fast evaluates exp/log as polynomials inside the validity ranges: equal to
    the exact fused kernel (libm exp/log) over the whole ranges and their corners, with inputs
    broadcast as xarray hands them (xCO2 per time step), in float64 and float32; outside the
    ranges it warns and uses the exact kernel."""
    rng = np.random.default_rng(11)
    n = 20000
    t, s, u = rng.uniform(-1, 40, n), rng.uniform(0, 40, n), rng.uniform(0, 25, n)
    t[:4], s[:4] = [-1, 40, -1, 40], [0, 0, 40, 40]
    psw, x, p = rng.uniform(100, 1000, n), rng.uniform(300, 450, n), rng.uniform(9e4, 1.05e5, n)
    q, l, scref = ge.K_COEFFICIENTS["W14"]
    exact = ge._kernels()[3](t, s, u, psw, x, p, q, l, scref)
    size = np.abs(ge._kernels()[3](t, s, u, psw, 0 * x, p, q, l, scref))  # the k K0 pCO2sw term
    assert np.max(np.abs(ge.flux_from_pco2_fast(t, s, u, psw, x, p) - exact) / size) < 1e-13
    T = rng.uniform(5, 30, (3, 4, 5))
    X = np.array([380.0, 390.0, 400.0])[:, None, None]
    args = (T, 0 * T + 35, 0 * T + 7, 0 * T + 400, X, 0 * T + 101325)
    ref = ge._kernels()[3](*args, q, l, scref)
    got = ge.flux_from_pco2_fast(*args)
    assert got.shape == (3, 4, 5) and np.abs(got - ref).max() < 1e-12
    got32 = ge.flux_from_pco2_fast(*(a.astype(np.float32) for a in args))
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, ref, rtol=1e-5)
    with pytest.warns(satco2.ValidityWarning, match="t_C"):
        out = ge.flux_from_pco2_fast(np.array([45.0, 20.0]), np.array([35.0, 35.0]), np.array([5.0, 5.0]),
                                     np.array([400.0, 400.0]), 390.0, 101325.0)
    np.testing.assert_allclose(out, ge._kernels()[3](np.array([45.0, 20.0]), 35.0, 5.0, 400.0, 390.0,
                                                     101325.0, q, l, scref), rtol=1e-15)
