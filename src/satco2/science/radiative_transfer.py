"""Plane-parallel radiative transfer on a maintained discrete-ordinate solver, and a coupled
ocean-atmosphere case (water-leaving and top-of-atmosphere reflectance for a given chlorophyll).

Solver
------
PythonicDISORT (Ho 2024, "PythonicDISORT: A Python reimplementation of the Discrete Ordinate
Radiative Transfer package DISORT", J. Open Source Softw. 9(103), 6442; MIT licence, a dependency,
never copied): the DISORT method of Stamnes, Tsay, Wiscombe & Jayaweera 1988 (Appl. Opt. 27:2502)
in NumPy/SciPy. Its parameters map to the seed platform's (RT3/PolRadTran) names as

- ``nummu`` — quadrature angles per hemisphere (NUMMU); the solver's ``NQuad = 2 * nummu``
  streams. The cost of each Fourier mode grows like ``nummu**3`` (an eigenproblem of size nummu).
- ``aziorder`` — azimuthal Fourier order (AZIORDER); ``NFourier = aziorder + 1`` modes. The DISORT
  family resolves at most as many modes as phase-function moments it keeps (``NFourier <= NLeg <=
  NQuad``), so ``aziorder <= 2 * nummu - 1`` (RT3 allows larger orders; the modes beyond the
  moments carry only single scattering). A larger request raises :class:`satco2.SatCO2Error`.

:func:`solve` is DISORT-shaped (``fbeam``, ``umu0``, ``phi0`` in degrees, ``fisot``, Lambertian
``albedo``; outputs ``rfldir``, ``rfldn``, ``flup`` and ``uu[umu, utau, phi]``) so that the DISORT
test problems read as in ``disotest`` (Stamnes et al., DISORT report v1.1, 2000): tests
reproduce Test Problem 1 (isotropic scattering, van de Hulst 1980 Table 12) and Test Problem 2
(Rayleigh scattering, Sweigart 1970 Table 1). The solver needs single-scattering albedo < 1.

Phase-function moments (unweighted Legendre coefficients chi_l, ``p(mu) = sum (2l+1) chi_l P_l``):
:func:`moments_isotropic`, :func:`moments_rayleigh` (``1 + a cos^2``; a = 1 for air, Chandrasekhar
1950; a = 0.835 for pure sea water, depolarization 0.09, Morel 1974), :func:`moments_hg`
(Henyey & Greenstein 1941), :func:`mix_moments` (scattering-weighted mean).

Ocean optics (case-1 water, no CDOM/detritus beyond what the covariation below carries):

- pure-water absorption ``a_w``: Pope & Fry 1997 (Appl. Opt. 36:8710), MODIS-Aqua band averages
  (:data:`satco2.science.optics.AW_MODIS`, NASA OBPG ``water_coef.txt``);
- pure-seawater scattering ``b_w = 2 b_bw``: Smith & Baker 1981 (Appl. Opt. 20:177), same table
  (:data:`satco2.science.optics.BBW_MODIS`);
- phytoplankton absorption ``a_ph = A_ph(lambda) Chl^E_ph(lambda)``: Bricaud, Morel, Babin,
  Allali & Claustre 1998 (JGR 103(C13):31033), the 2-nm table (columns wl, A_p, E_p, A_ph, E_ph)
  as distributed by NASA GSFC (P. J. Werdell, ``bricaud_1998_aph.txt``), rows around the MODIS
  bands in :data:`BRICAUD98_APH`, interpolated linearly;
- particle scattering ``b_p = 0.416 Chl^0.766 (550/lambda)``: Loisel & Morel 1998 (Deep-Sea Res. I
  45:1947) for b_p(550), with the lambda^-1 spectral shape of Gordon & Morel 1983;
- particle phase function: Henyey-Greenstein with the asymmetry that reproduces the backscattering
  ratio 0.0183 of Petzold's average-particle phase function (Mobley, Sundman & Boss 2002, Appl.
  Opt. 41:1035) — the HG backscattered fraction ``(1-g)/(2g) ((1+g)/sqrt(1+g^2) - 1)`` solved for g.

Coupled case (:func:`coupled_case`): the in-water DISORT run with the refracted beam
(Snell, n = 1.34) gives the subsurface remote-sensing ratio ``rrs = L_u(0-)/E_d(0-)``; Lee,
Carder & Arnone 2002 (Appl. Opt. 41:5755, Eq. 4) carries it across the surface,
``Rrs = 0.52 rrs / (1 - 1.7 rrs)``; the atmosphere (Rayleigh optical depth of Hansen & Travis 1974,
Rev. Space Sci. 16:527, Eq. 2.29 at 1013.25 hPa) is then solved over a Lambertian ocean of
albedo ``pi Rrs`` and gives the TOA reflectance ``rho = pi L / (mu0 F0)``. SIMPLIFICATIONS (say
them when quoting numbers): no aerosol, no ozone, no sun glint or Fresnel reflection of sky light,
the water-leaving radiance treated as isotropic at the bottom of the atmosphere, and Rayleigh
single-scattering albedo 1 - 1e-6 (the solver needs < 1; the effect is ~1e-6 relative).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .. import SatCO2Error
from .optics import AW_MODIS, BBW_MODIS

#: Bricaud et al. 1998 table rows (wl nm, A_p, E_p, A_ph, E_ph) bracketing the MODIS bands, as
#: distributed by NASA GSFC (Werdell, ``bricaud_1998_aph.txt``); a_ph = A_ph Chl**E_ph [m-1]
BRICAUD98_APH = np.array([
    [412, 0.047328, 0.686245, 0.029655, 0.681803],
    [442, 0.051398, 0.629752, 0.0374489, 0.619551],
    [444, 0.050464, 0.623199, 0.0367647, 0.610037],
    [488, 0.034834, 0.613506, 0.0258937, 0.598583],
    [546, 0.012554, 0.834129, 0.00758758, 0.9210046],
    [548, 0.012194, 0.835807, 0.00730458, 0.9262056],
    [666, 0.017442, 0.819722, 0.014952, 0.817174],
    [668, 0.0188, 0.817599, 0.0162698, 0.814107],
])
#: Loisel & Morel 1998 particle scattering at 550 nm, b_p = coef * Chl**exp [m-1]
LM98 = {"coef": 0.416, "exp": 0.766, "ref_nm": 550.0}
#: Petzold average-particle backscattering ratio (Mobley, Sundman & Boss 2002, Table 1)
PETZOLD_BB_RATIO = 0.0183
#: Refractive index of sea water used for Snell's law
N_WATER = 1.34
#: Lee et al. 2002 (Appl. Opt. 41:5755) Eq. 4 coefficients, Rrs = c0 rrs / (1 - c1 rrs)
L02 = {"c0": 0.52, "c1": 1.7}
#: Morel 1974 sea-water molecular phase function anisotropy, beta ~ 1 + 0.835 cos^2(psi)
WATER_RAYLEIGH_A = 0.835
#: Hansen & Travis 1974 Eq. 2.29: tau_R = 0.008569 l^-4 (1 + 0.0113 l^-2 + 0.00013 l^-4), l in um
HT74 = (0.008569, 0.0113, 0.00013)
#: Single-scattering albedo used for conservative (pure Rayleigh) layers: the solver needs < 1
SSA_CONSERVATIVE = 1.0 - 1e-6
#: Moments kept of the untruncated ocean phase function (the Nakajima-Tanaka single-scattering
#: correction sums them): HG g = 0.92 needs g**L < 1e-6, L ~ 170; a short series rings and gives
#: negative backscatter
N_MOMENTS_TRUE = 400


# ----------------------------------------------------------------------------- phase functions
def moments_isotropic(n: int) -> np.ndarray:
    """Legendre moments (chi_0..chi_{n-1}) of isotropic scattering."""
    chi = np.zeros(n)
    chi[0] = 1.0
    return chi


def moments_rayleigh(n: int, a: float = 1.0) -> np.ndarray:
    """Moments of ``p ~ 1 + a cos^2(psi)``: chi_2 = (2a/3) / (1 + a/3) / 5 (a = 1: 0.1, the
    Rayleigh phase function of Chandrasekhar 1950; a = 0.835: sea water, Morel 1974)."""
    chi = moments_isotropic(n)
    if n > 2:
        chi[2] = (2.0 * a / 3.0) / (1.0 + a / 3.0) / 5.0
    return chi


def moments_hg(g: float, n: int) -> np.ndarray:
    """Moments of the Henyey-Greenstein phase function: chi_l = g**l."""
    return float(g) ** np.arange(n)


def mix_moments(scattering, moments) -> np.ndarray:
    """Scattering-weighted mean of phase-function moments (``scattering`` [m-1] per component)."""
    b = np.asarray(scattering, dtype=float)
    m = np.asarray(moments, dtype=float)
    return (b[:, None] * m).sum(axis=0) / b.sum()


def hg_backscatter_fraction(g: float) -> float:
    """Fraction of Henyey-Greenstein scattering into the backward hemisphere."""
    return (1.0 - g) / (2.0 * g) * ((1.0 + g) / math.sqrt(1.0 + g * g) - 1.0)


def hg_g_for_backscatter(ratio: float = PETZOLD_BB_RATIO) -> float:
    """The HG asymmetry parameter whose backscattered fraction is ``ratio`` (bisection)."""
    if not 0.0 < ratio < 0.5:
        raise SatCO2Error(f"a backscattering ratio must lie in (0, 0.5), got {ratio}.")
    lo, hi = 1e-9, 1.0 - 1e-12
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if hg_backscatter_fraction(mid) > ratio:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


# ----------------------------------------------------------------------------- the solver
@dataclass
class Result:
    """DISORT-shaped output. Fluxes [same units as fbeam] at ``utau``; ``uu[umu, utau, phi]``."""
    rfldir: np.ndarray
    rfldn: np.ndarray
    flup: np.ndarray
    uu: np.ndarray
    seconds: float


def check_discretisation(nummu: int, aziorder: int) -> None:
    """Raise :class:`SatCO2Error` unless ``1 <= nummu`` and ``0 <= aziorder <= 2 nummu - 1``."""
    if int(nummu) != nummu or nummu < 1:
        raise SatCO2Error(f"nummu must be a positive integer, got {nummu!r}.")
    if int(aziorder) != aziorder or not 0 <= aziorder <= 2 * nummu - 1:
        raise SatCO2Error(
            f"aziorder={aziorder} is outside 0..{2 * nummu - 1}, the Fourier orders a DISORT solver "
            f"resolves with nummu={nummu} (2*nummu streams).")


def solve(dtauc, ssalb, pmom, *, umu0: float, phi0: float = 0.0, fbeam: float = 0.0,
          fisot: float = 0.0, albedo: float = 0.0, utau=None, umu=(1.0,), phi=(0.0,),
          nummu: int = 8, aziorder: int | None = None, delta_m: bool = True) -> Result:
    """Solve a layered plane-parallel medium with PythonicDISORT.

    Parameters
    ----------
    dtauc : array (nlyr,)
        Optical thickness of each layer, top first.
    ssalb : array (nlyr,)
        Single-scattering albedo of each layer (< 1).
    pmom : array (nlyr, nmom) or (nmom,)
        Unweighted phase-function Legendre moments per layer (chi_0 = 1); at least ``2 nummu``
        are needed (zeros are appended for a short isotropic/Rayleigh list).
    umu0, phi0 : float
        Cosine of the beam's polar angle; beam azimuth [degrees].
    fbeam : float
        Beam flux perpendicular to its direction (direct flux at the top is ``umu0 * fbeam``).
    fisot : float
        Isotropic intensity incident at the top.
    albedo : float
        Lambertian bottom albedo.
    utau : array, optional
        Optical depths for output (default: top and bottom).
    umu : array
        Cosines of the output polar angles (positive = upward, DISORT's convention).
    phi : array
        Output azimuths [degrees].
    nummu, aziorder : int
        Quadrature angles per hemisphere; azimuthal Fourier order (default ``2 nummu - 1``).
    delta_m : bool
        Delta-M scaling with the moment ``chi_{2 nummu}`` as the forward peak when available
        (Wiscombe 1977), with Nakajima & Tanaka 1988 intensity corrections applied at the
        quadrature angles and then interpolated to ``umu`` (PythonicDISORT's ``NT_cor=True``;
        applying them at the output angles instead converged much more slowly with ``nummu``
        for a nadir view of forward-peaked ocean scattering).
    """
    from PythonicDISORT import pydisort, subroutines

    nquad = 2 * int(nummu)
    if aziorder is None:
        aziorder = nquad - 1
    check_discretisation(nummu, aziorder)
    dtauc = np.atleast_1d(np.asarray(dtauc, dtype=float))
    ssalb = np.atleast_1d(np.asarray(ssalb, dtype=float))
    pmom = np.atleast_2d(np.asarray(pmom, dtype=float))
    if pmom.shape[0] == 1 and dtauc.size > 1:
        pmom = np.repeat(pmom, dtauc.size, axis=0)
    if pmom.shape[1] < nquad + 1:
        pmom = np.pad(pmom, ((0, 0), (0, nquad + 1 - pmom.shape[1])))
    if np.any(ssalb >= 1) or np.any(ssalb < 0):
        raise SatCO2Error("single-scattering albedos must lie in [0, 1) for this solver.")
    tau = np.cumsum(dtauc)
    utau = np.array([0.0, tau[-1]]) if utau is None else np.asarray(utau, dtype=float)
    f_arr = pmom[:, nquad] if delta_m else 0.0
    kwargs = {}
    if albedo > 0:
        kwargs["BDRF_Fourier_modes"] = [float(albedo)]
    if fisot > 0:
        kwargs["b_neg"] = float(fisot)
    t0 = time.perf_counter()
    mu_arr, flux_up, flux_down, _u0, u = pydisort(
        tau, ssalb, nquad, pmom, float(umu0), float(fbeam), math.radians(phi0) % (2 * math.pi),
        NLeg=nquad, NFourier=int(aziorder) + 1, f_arr=f_arr, NT_cor=bool(delta_m), **kwargs)
    diffuse_down, direct_down = flux_down(utau)
    umu = np.asarray(umu, dtype=float)
    uu = np.asarray(subroutines.interpolate(u)(umu, utau, np.radians(np.asarray(phi, dtype=float))))
    uu = uu.reshape(len(umu), len(utau), len(phi))
    seconds = time.perf_counter() - t0
    shape = utau.shape
    return Result(rfldir=np.broadcast_to(direct_down, shape).copy(),
                  rfldn=np.broadcast_to(diffuse_down, shape).copy(),
                  flup=np.broadcast_to(flux_up(utau), shape).copy(), uu=uu, seconds=seconds)


# ----------------------------------------------------------------------------- ocean optics
def _band(wavelength: float) -> int:
    wl = int(round(float(wavelength)))
    if wl not in AW_MODIS:
        raise SatCO2Error(f"wavelength {wavelength} nm is not a MODIS-Aqua band of the optics tables "
                          f"({', '.join(map(str, AW_MODIS))}).")
    return wl


def a_ph_B98(wavelength: float, chl):
    """Phytoplankton absorption [m-1] at a MODIS band for chlorophyll [mg m-3] (Bricaud 1998)."""
    wl = _band(wavelength)
    t = BRICAUD98_APH
    A = np.interp(wl, t[:, 0], t[:, 3])
    E = np.interp(wl, t[:, 0], t[:, 4])
    return A * np.asarray(chl, dtype=float) ** E


def b_p_LM98(wavelength: float, chl):
    """Particle scattering [m-1], Loisel & Morel 1998 at 550 nm with a lambda^-1 spectral shape."""
    return LM98["coef"] * np.asarray(chl, dtype=float) ** LM98["exp"] * (LM98["ref_nm"] / float(wavelength))


def iops_case1(wavelength: float, chl: float) -> dict:
    """Inherent optical properties [m-1] of case-1 water at a MODIS band (see module docstring)."""
    if not chl > 0:
        raise SatCO2Error(f"chlorophyll must be positive (mg m-3), got {chl}.")
    wl = _band(wavelength)
    a_w, b_w = AW_MODIS[wl], 2.0 * BBW_MODIS[wl]
    a_ph, b_p = float(a_ph_B98(wl, chl)), float(b_p_LM98(wl, chl))
    return {"a_w": a_w, "a_ph": a_ph, "b_w": b_w, "b_p": b_p, "a": a_w + a_ph, "b": b_w + b_p,
            "bb": 0.5 * b_w + PETZOLD_BB_RATIO * b_p}


def rayleigh_tau_HT74(wavelength: float) -> float:
    """Rayleigh optical depth of the standard atmosphere (1013.25 hPa), Hansen & Travis 1974."""
    lam = float(wavelength) / 1000.0
    c0, c1, c2 = HT74
    return c0 * lam ** -4 * (1.0 + c1 * lam ** -2 + c2 * lam ** -4)


def refracted_mu(mu_air: float, n: float = N_WATER) -> float:
    """Cosine of the refracted polar angle below a flat surface (Snell's law)."""
    s = math.sqrt(max(0.0, 1.0 - mu_air * mu_air)) / n
    return math.sqrt(1.0 - s * s)


def rrs_above_L02(rrs_below):
    """Above-surface Rrs [sr-1] from subsurface rrs = Lu(0-)/Ed(0-) (Lee et al. 2002, Eq. 4)."""
    r = np.asarray(rrs_below, dtype=float)
    return L02["c0"] * r / (1.0 - L02["c1"] * r)


def coupled_case(chl: float, wavelength: float, sza: float, vza: float, raz: float, *,
                 nummu: int = 8, aziorder: int | None = None, optical_depth_water: float | None = None
                 ) -> dict:
    """Water-leaving and TOA reflectance of a Rayleigh atmosphere over case-1 water.

    Parameters
    ----------
    chl : float
        Chlorophyll-a [mg m-3].
    wavelength : float
        A MODIS-Aqua band [nm] (412, 443, 488, 547, 667).
    sza, vza : float
        Solar and viewing zenith angles [degrees].
    raz : float
        Relative azimuth [degrees], DISORT's phi - phi0 of the upwelling radiance: 0 = the
        radiance travels in the sun's horizontal direction (forward-scattering half-plane,
        sensor facing the sun), 180 = it travels back toward the sun (backscattering half-plane).
    nummu, aziorder : int
        Discretisation of both runs (see the module docstring).
    optical_depth_water : float, optional
        Optical thickness of the water column (default: deep enough that the attenuation
        ``a * z`` exceeds 30, a black bottom below).

    Returns
    -------
    dict with ``rrs_below``, ``Rrs`` [sr-1], ``rho_w`` (= pi Rrs), ``rho_toa``, ``rho_path``
    (black ocean), ``water_fraction`` (share of the TOA signal from the water), ``tau_rayleigh``,
    the IOPs and ``seconds`` (solver wall time of both runs).
    """
    mu0, muv = math.cos(math.radians(sza)), math.cos(math.radians(vza))
    if not (0 < mu0 <= 1 and 0 < muv <= 1):
        raise SatCO2Error(f"zenith angles must lie in [0, 90) degrees, got sza={sza}, vza={vza}.")
    iop = iops_case1(wavelength, chl)
    nquad = 2 * nummu
    g_p = hg_g_for_backscatter(PETZOLD_BB_RATIO)
    nm = max(nquad + 1, N_MOMENTS_TRUE)
    pm_water = mix_moments([iop["b_w"], iop["b_p"]],
                           [moments_rayleigh(nm, WATER_RAYLEIGH_A), moments_hg(g_p, nm)])
    c = iop["a"] + iop["b"]
    ssa_w = iop["b"] / c
    tau_w = optical_depth_water if optical_depth_water else 30.0 * c / iop["a"]
    mu0_w, muv_w = refracted_mu(mu0), refracted_mu(muv)
    water = solve([tau_w], [ssa_w], pm_water, umu0=mu0_w, phi0=0.0, fbeam=1.0, utau=[0.0],
                  umu=[muv_w], phi=[raz], nummu=nummu, aziorder=aziorder)
    ed = mu0_w * 1.0 + float(water.rfldn[0])
    rrs_below = float(water.uu[0, 0, 0]) / ed
    Rrs = float(rrs_above_L02(rrs_below))
    rho_w = math.pi * Rrs
    tau_r = rayleigh_tau_HT74(wavelength)
    pm_air = moments_rayleigh(nquad + 1, 1.0)
    common = dict(umu0=mu0, phi0=0.0, fbeam=1.0, utau=[0.0], umu=[muv], phi=[raz], nummu=nummu,
                  aziorder=aziorder)
    atm = solve([tau_r], [SSA_CONSERVATIVE], pm_air, albedo=rho_w, **common)
    path = solve([tau_r], [SSA_CONSERVATIVE], pm_air, albedo=0.0, **common)
    rho_toa = math.pi * float(atm.uu[0, 0, 0]) / mu0
    rho_path = math.pi * float(path.uu[0, 0, 0]) / mu0
    return {"chl": chl, "wavelength": float(wavelength), "sza": sza, "vza": vza, "raz": raz,
            "nummu": nummu, "aziorder": nquad - 1 if aziorder is None else aziorder,
            "rrs_below": rrs_below, "Rrs": Rrs, "rho_w": rho_w, "rho_toa": rho_toa,
            "rho_path": rho_path, "water_fraction": (rho_toa - rho_path) / rho_toa,
            "tau_rayleigh": tau_r, "g_particles": g_p, **iop,
            "seconds": water.seconds + atm.seconds + path.seconds}
