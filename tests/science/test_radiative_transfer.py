"""Radiative transfer: the DISORT test problems (disotest) and the coupled ocean-atmosphere case.

Check values: DISORT Test Problems 1 and 2 as listed in ``disotest`` (Stamnes, Tsay, Wiscombe &
Laszlo, DISORT report v1.1, 2000; the C version's ``disort_test01``/``disort_test02``), which
reproduce van de Hulst 1980, *Multiple Light Scattering*, Vol. 1, Table 12 (isotropic scattering)
and Sweigart 1970, ApJS 22:1, Table 1 (Rayleigh scattering). The solver needs single-scattering
albedo < 1, so the conservative cases (1b, 1e, 2b, 2d) are left out.
"""
import math

import numpy as np
import pytest

from satco2 import SatCO2Error
from satco2.science import optics
from satco2.science import radiative_transfer as rt

UMU_T1 = [-1.0, -0.5, -0.1, 0.1, 0.5, 1.0]

# (case, tau, ssalb, beam, fisot, {rfldir, rfldn, flup at top/bottom}, uu[umu, (top, bottom)])
T1 = [
    ("1a", 0.03125, 0.2, True, 0.0,
     dict(rfldir=(3.14159, 2.29844), rfldn=(0.0, 7.94108e-02), flup=(7.99451e-02, 0.0)),
     [[0, 1.33826e-02], [0, 2.63324e-02], [0, 1.15898e-01],
      [1.17771e-01, 0], [2.64170e-02, 0], [1.34041e-02, 0]]),
    ("1c", 0.03125, 0.99, False, 1.0,
     dict(rfldir=(0.0, 0.0), rfldn=(3.14159, 3.04897), flup=(9.06556e-02, 0.0)),
     [[1.0, 9.84447e-01], [1.0, 9.69363e-01], [1.0, 8.63946e-01],
      [1.33177e-01, 0], [2.99879e-02, 0], [1.52233e-02, 0]]),
    ("1d", 32.0, 0.2, True, 0.0,
     dict(rfldir=(3.14159, 0.0), rfldn=(0.0, 0.0), flup=(2.59686e-01, 0.0)),
     [[0, 1.22980e-15], [0, 1.30698e-17], [0, 6.88840e-18],
      [2.62972e-01, 0], [9.06967e-02, 0], [5.02853e-02, 0]]),
]


@pytest.mark.parametrize("case,tau,ssalb,beam,fisot,fluxes,uu", T1, ids=[c[0] for c in T1])
def test_disort_problem_1_isotropic(case, tau, ssalb, beam, fisot, fluxes, uu):
    """Test Problem 1 (umu0 = 0.1, fbeam = pi/umu0): fluxes with 16 streams as in disotest, to the
    table's 6 digits; intensities at the user angles converge with the streams (64 here, 0.3 %)."""
    kw = dict(umu0=0.1, fbeam=math.pi / 0.1 if beam else 0.0, fisot=fisot, umu=UMU_T1)
    res = rt.solve([tau], [ssalb], rt.moments_isotropic(16), nummu=8, **kw)
    for name, good in fluxes.items():
        np.testing.assert_allclose(getattr(res, name), good, rtol=2e-5, atol=1e-5, err_msg=name)
    fine = rt.solve([tau], [ssalb], rt.moments_isotropic(64), nummu=32, **kw)
    np.testing.assert_allclose(fine.uu[:, :, 0], np.array(uu), rtol=3e-3, atol=2e-5)


UMU_T2 = [-0.981986, -0.538263, -0.018014, 0.018014, 0.538263, 0.981986]
T2 = [
    ("2a", 0.2, dict(rfldir=(2.52716e-01, 2.10311e-02), rfldn=(0.0, 4.41791e-02),
                     flup=(5.35063e-02, 0.0)),
     [[0, 7.71897e-03], [0, 2.00778e-02], [0, 2.57685e-02],
      [1.61796e-01, 0], [2.11501e-02, 0], [7.86713e-03, 0]]),
    ("2c", 5.0, dict(rfldir=(2.52716e-01, 2.56077e-28), rfldn=(0.0, 2.51683e-04),
                     flup=(6.24730e-02, 0.0)),
     [[0, 1.70004e-04], [0, 3.97168e-05], [0, 1.32472e-05],
      [1.62566e-01, 0], [2.45786e-02, 0], [1.01498e-02, 0]]),
]


@pytest.mark.parametrize("case,tau,fluxes,uu", T2, ids=[c[0] for c in T2])
def test_disort_problem_2_rayleigh(case, tau, fluxes, uu):
    """Test Problem 2 (Rayleigh, umu0 = 0.080442, fbeam = pi, ssalb 0.5): the azimuthal modes
    m = 0..2 all contribute at phi = 0."""
    kw = dict(umu0=0.080442, fbeam=math.pi, umu=UMU_T2)
    res = rt.solve([tau], [0.5], rt.moments_rayleigh(16), nummu=8, **kw)
    for name, good in fluxes.items():
        np.testing.assert_allclose(getattr(res, name), good, rtol=2e-5, atol=1e-6, err_msg=name)
    fine = rt.solve([tau], [0.5], rt.moments_rayleigh(64), nummu=32, **kw)
    np.testing.assert_allclose(fine.uu[:, :, 0], np.array(uu), rtol=1e-2, atol=2e-6)
    # dropping the azimuthal modes (order 0 only) must change the phi = 0 intensities
    m0 = rt.solve([tau], [0.5], rt.moments_rayleigh(64), nummu=32, aziorder=0, **kw)
    assert abs(m0.uu[3, 0, 0] / uu[3][0] - 1) > 0.05


def test_discretisation_bounds():
    with pytest.raises(SatCO2Error, match="aziorder"):
        rt.check_discretisation(4, 8)
    with pytest.raises(SatCO2Error, match="nummu"):
        rt.check_discretisation(0, 0)
    with pytest.raises(SatCO2Error, match="MODIS"):
        rt.iops_case1(500, 1.0)


def test_phase_function_helpers():
    g = rt.hg_g_for_backscatter(rt.PETZOLD_BB_RATIO)
    assert rt.hg_backscatter_fraction(g) == pytest.approx(0.0183, rel=1e-9)
    # 1 + cos^2 (Rayleigh) has chi_2 = 0.1 (the value disotest's getmom uses)
    assert rt.moments_rayleigh(4)[2] == pytest.approx(0.1)
    # Bricaud 1998 at its own 442 nm row and Chl = 1: A_ph
    assert rt.a_ph_B98(443, 1.0) == pytest.approx((0.0374489 + 0.0367647) / 2)


def test_thin_rayleigh_reflectance_is_single_scattering():
    """Over a black surface a thin Rayleigh layer (667 nm, tau 0.044) reflects as single
    scattering: rho = P(Theta) mu0/(mu0+mu) (1 - exp(-tau (1/mu0 + 1/mu))) / (4 mu0 mu) * 4 ...
    written out below; multiple scattering adds O(tau) ~ 4 %. The two azimuths differ, so this
    also checks the azimuth convention (0 = forward half-plane)."""
    tau = rt.rayleigh_tau_HT74(667)
    sza, vza = 40.0, 30.0
    mu0, mu = math.cos(math.radians(sza)), math.cos(math.radians(vza))
    for raz in (0.0, 180.0):
        out = rt.solve([tau], [rt.SSA_CONSERVATIVE], rt.moments_rayleigh(17), umu0=mu0, fbeam=1.0,
                       utau=[0.0], umu=[mu], phi=[raz], nummu=8)
        rho = math.pi * out.uu[0, 0, 0] / mu0
        cos_theta = (math.sin(math.radians(sza)) * math.sin(math.radians(vza))
                     * math.cos(math.radians(raz)) - mu0 * mu)
        p = 0.75 * (1 + cos_theta ** 2)
        radiance_ss = p / (4 * math.pi) * mu0 / (mu0 + mu) * (1 - math.exp(-tau * (1 / mu0 + 1 / mu)))
        rho_ss = math.pi * radiance_ss / mu0
        assert rho == pytest.approx(rho_ss, rel=0.06)
        assert rho > rho_ss  # multiple scattering only adds


@pytest.mark.parametrize("chl", [0.1, 1.0, 3.0])
def test_coupled_case_inverts_back_through_QAA(chl):
    """Forward: Rrs from the in-water DISORT run for Bricaud/Loisel-Morel IOPs. Inverse: QAA v6
    (Lee et al. 2002, an independent semi-analytical model) recovers a(443) and bb(443) from that
    Rrs - within 15 % and 10 %, QAA's own accuracy for case-1 water (IOCCG Report 5, 2006)."""
    out = {wl: rt.coupled_case(chl, wl, 30.0, 10.0, 90.0, nummu=8) for wl in optics.MODIS_BANDS}
    a, bb = optics.iops_QAA6({wl: o["Rrs"] for wl, o in out.items()})
    assert float(a[443]) == pytest.approx(out[443]["a"], rel=0.15)
    assert float(bb[443]) == pytest.approx(out[443]["bb"], rel=0.10)
    # blue-to-green ratio falls as chlorophyll rises (the basis of OCx band-ratio algorithms)
    assert all(o["Rrs"] > 0 for o in out.values())
    o443 = out[443]
    assert o443["rho_toa"] > o443["rho_path"] > 0
    assert o443["rho_toa"] - o443["rho_path"] == pytest.approx(o443["rho_w"], rel=0.4)


def test_coupled_case_band_ratio_and_stream_convergence():
    lo = {wl: rt.coupled_case(0.1, wl, 30.0, 10.0, 90.0, nummu=8)["Rrs"] for wl in (443, 547)}
    hi = {wl: rt.coupled_case(3.0, wl, 30.0, 10.0, 90.0, nummu=8)["Rrs"] for wl in (443, 547)}
    assert lo[443] / lo[547] > 2 * hi[443] / hi[547]
    coarse = rt.coupled_case(0.3, 547, 30.0, 10.0, 90.0, nummu=8)
    fine = rt.coupled_case(0.3, 547, 30.0, 10.0, 90.0, nummu=16)
    assert coarse["Rrs"] == pytest.approx(fine["Rrs"], rel=0.02)
    assert coarse["rho_toa"] == pytest.approx(fine["rho_toa"], rel=0.005)
