"""Air-sea CO2 gas exchange: solubility, Schmidt number, transfer velocity, pCO2(air), flux, budgets.

Every parameterization is named by quantity and citation; all kernels take and return numpy arrays
(they also work elementwise on dask chunks through :func:`xarray.apply_ufunc`).

=====================  ==========================================================================
name                   quantity, source
=====================  ==========================================================================
:func:`sc_W14`         Schmidt number of CO2 in seawater (S = 35), Wanninkhof (2014) Table 1
:func:`K0_W74`         CO2 solubility, mol L-1 atm-1, Weiss (1974) eq. 12 + Table 1 (volumetric)
:func:`pH2O_WP80`      water vapour pressure over seawater, atm, Weiss & Price (1980) eq. 10
:func:`fugacity_factor_W74`  fCO2/pCO2 from the virial expansion, Weiss (1974) eq. 9 (x2 = 1)
:func:`k_W14`          k = 0.251 U10^2 (Sc/660)^-1/2, cm h-1, Wanninkhof (2014) eq. 4
:func:`k_W92`          k = 0.31 U10^2 (Sc/660)^-1/2, cm h-1, Wanninkhof (1992) eq. 3
:func:`k_N00`          k = (0.222 U10^2 + 0.333 U10) (Sc/600)^-1/2, cm h-1, Nightingale et al. (2000)
:func:`k_H06`          k = 0.266 U10^2 (Sc/600)^-1/2, cm h-1, Ho et al. (2006)
:func:`temperature_factor_T93`  isochemical pCO2(T) scaling exp(0.0423 dT), Takahashi et al. (1993)
:func:`pco2_air`       pCO2(air) = xCO2 (P - pH2O), µatm (e.g. Wanninkhof 2014; Dickson et al. 2007 SOP)
:func:`flux`           F = k K0 (pCO2sw - pCO2air), mmol C m-2 d-1 (positive: sea to air)
:func:`cell_area_WGS84`  exact cell areas on the WGS84 ellipsoid, m2
:func:`budget_TgC_per_yr`  area-integrated flux, Tg C yr-1
=====================  ==========================================================================

:data:`K_PARAMETERIZATIONS` is the registry of gas-transfer velocities (name -> function).

Sign convention: positive flux is out of the ocean (source), negative into the ocean (sink), as
in Wanninkhof (2014) and seaflux.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import SatCO2Error
from ..cf import coord_name
from .validity import check_all, valid

# ----------------------------------------------------------------------------------------------
# coefficients: each written once, used by the functions below and by the fused numba kernels

SC_W14_COEFFICIENTS = (2116.8, -136.25, 4.7353, -0.092307, 0.0007555)
"""Sc = a0 + a1 t + a2 t^2 + a3 t^3 + a4 t^4 (t in °C), CO2 in seawater at S = 35, Wanninkhof
(2014), Limnol. Oceanogr. Methods 12:351-362, Table 1."""

K0_W74_COEFFICIENTS = (-58.0931, 90.5069, 22.2940, 0.027766, -0.025888, 0.0050578)
"""ln K0 = A1 + A2 (100/T) + A3 ln(T/100) + S (B1 + B2 (T/100) + B3 (T/100)^2), mol L-1 atm-1,
Weiss (1974), Mar. Chem. 2:203-215, Table 1 (volumetric constants; Wanninkhof 2014 Table 1)."""

PH2O_WP80_COEFFICIENTS = (24.4543, -67.4509, -4.8489, -0.000544)
"""ln pH2O = c0 + c1 (100/T) + c2 ln(T/100) + c3 S, atm, Weiss & Price (1980), Mar. Chem.
8:347-359, eq. 10."""

KELVIN = 273.15  # 0 °C in K
PA_PER_ATM = 101325.0  # standard atmosphere, Pa
CM_H_TO_M_D = 0.24  # 1 cm h-1 = 24 cm d-1 = 0.24 m d-1


# The formulas, written once on scalars or arrays: the numpy functions call them directly and the
# fused kernels compile the very same functions with numba (same coefficients, same expressions).

def _sc_poly(t):
    a0, a1, a2, a3, a4 = SC_W14_COEFFICIENTS
    return a0 + t * (a1 + t * (a2 + t * (a3 + t * a4)))


def _ln_k0(T100, lnT100, s):
    a1, a2, a3, b1, b2, b3 = K0_W74_COEFFICIENTS
    return a1 + a2 / T100 + a3 * lnT100 + s * (b1 + b2 * T100 + b3 * T100 * T100)


def _ln_ph2o(T100, lnT100, s):
    c0, c1, c2, c3 = PH2O_WP80_COEFFICIENTS
    return c0 + c1 / T100 + c2 * lnT100 + c3 * s


def _k_form(u, sc, q, l, scref):
    return (q * u * u + l * u) / np.sqrt(sc / scref)


# ----------------------------------------------------------------------------------------------
# thermodynamics


@valid(t_C=(-2.0, 40.0))
def sc_W14(t_C):
    """Schmidt number of CO2 in seawater (S = 35), dimensionless.

    Wanninkhof (2014), Limnol. Oceanogr. Methods 12:351-362, Table 1:
    Sc = 2116.8 - 136.25 t + 4.7353 t^2 - 0.092307 t^3 + 0.0007555 t^4, valid -2..40 °C
    (:data:`SC_W14_COEFFICIENTS`). Check value (Table 1): Sc(20 °C) = 668.344.

    t_C: temperature, °C.
    """
    return _sc_poly(np.asarray(t_C, dtype=float))


@valid(t_C=(-1.0, 40.0), s=(0.0, 40.0))
def K0_W74(t_C, s):
    """Solubility of CO2 in seawater, mol L-1 atm-1 (per unit fugacity).

    Weiss (1974), Mar. Chem. 2:203-215, eq. 12 with the volumetric (mol L-1 atm-1) constants of
    his Table 1, as restated in Wanninkhof (2014) Table 1 (:data:`K0_W74_COEFFICIENTS`):
    ln K0 = -58.0931 + 90.5069 (100/T) + 22.2940 ln(T/100)
            + S (0.027766 - 0.025888 (T/100) + 0.0050578 (T/100)^2),  T in K.
    Fitted to measurements over -1..40 °C and S 0..40. Check value: K0(20 °C, 35) = 0.0332 (issue 4; 0.03322 computed).

    t_C: temperature, °C; s: practical salinity.
    """
    T100 = (np.asarray(t_C, dtype=float) + KELVIN) / 100.0
    return np.exp(_ln_k0(T100, np.log(T100), np.asarray(s, dtype=float)))


@valid(t_C=(-2.0, 40.0), s=(0.0, 40.0))
def pH2O_WP80(t_C, s):
    """Water vapour pressure over seawater, atm.

    Weiss & Price (1980), Mar. Chem. 8:347-359, eq. 10 (:data:`PH2O_WP80_COEFFICIENTS`):
    ln pH2O = 24.4543 - 67.4509 (100/T) - 4.8489 ln(T/100) - 0.000544 S,  T in K.
    Check: 0.03066 atm at 25 °C, S 35 (Dickson et al. 2007 SOP 5 gives 0.03070 by another route).

    t_C: temperature, °C; s: practical salinity.
    """
    T100 = (np.asarray(t_C, dtype=float) + KELVIN) / 100.0
    return np.exp(_ln_ph2o(T100, np.log(T100), np.asarray(s, dtype=float)))


@valid(t_C=(-2.0, 40.0))
def fugacity_factor_W74(t_C, p_atm=1.0):
    """fCO2 / pCO2 of CO2 in moist air at total pressure ``p_atm``, dimensionless.

    Weiss (1974) eq. 9 with the "x2" term set to 1 (as in Dickson et al. 2007 SOP 24 and
    PyCO2SYS ``gas.fugacity_factor``):
    f/p = exp(P (B + 2 delta) / (R T)),
    B = -1636.75 + 12.0408 T - 3.27957e-2 T^2 + 3.16528e-5 T^3  (cm3 mol-1),
    delta = 57.7 - 0.118 T (cm3 mol-1), R = 82.0578 cm3 atm mol-1 K-1, T in K.

    t_C: temperature, °C; p_atm: total pressure, atm.
    """
    T = np.asarray(t_C, dtype=float) + KELVIN
    B = -1636.75 + 12.0408 * T - 3.27957e-2 * T**2 + 3.16528e-5 * T**3
    delta = 57.7 - 0.118 * T
    return np.exp(np.asarray(p_atm, dtype=float) * (B + 2.0 * delta) / (82.0578 * T))


def fco2_to_pco2(fco2, t_C, p_atm=1.0):
    """pCO2 (µatm) from fCO2 (µatm) with :func:`fugacity_factor_W74` (Weiss 1974)."""
    return np.asarray(fco2, dtype=float) / fugacity_factor_W74(t_C, p_atm)


def pco2_to_fco2(pco2, t_C, p_atm=1.0):
    """fCO2 (µatm) from pCO2 (µatm) with :func:`fugacity_factor_W74` (Weiss 1974)."""
    return np.asarray(pco2, dtype=float) * fugacity_factor_W74(t_C, p_atm)


T93_COEFFICIENT = 0.0423
"""Isochemical d ln pCO2 / dT, °C-1 (Takahashi et al. 1993, Global Biogeochem. Cycles 7:843)."""


def temperature_factor_T93(t_from_C, t_to_C, coefficient: float = T93_COEFFICIENT):
    """pCO2(t_to) / pCO2(t_from) for a closed (isochemical) sample, dimensionless.

    Takahashi et al. (1993), Global Biogeochem. Cycles 7:843-878: (d ln pCO2/dT) = 0.0423 °C-1,
    the mean of their experiments on North Atlantic surface water between 2 and 28 °C.
    """
    return np.exp(coefficient * (np.asarray(t_to_C, float) - np.asarray(t_from_C, float)))


# ----------------------------------------------------------------------------------------------
# gas transfer velocities (cm h-1; U10 in m s-1; t in °C)

_WIND_RANGE = (0.0, 25.0)  # m s-1: the wind ranges of the field data behind these fits end near 20-25

K_COEFFICIENTS: dict[str, tuple[float, float, float]] = {
    "W14": (0.251, 0.0, 660.0),   # Wanninkhof (2014) eq. 4
    "W92": (0.31, 0.0, 660.0),    # Wanninkhof (1992) eq. 3
    "N00": (0.222, 0.333, 600.0),  # Nightingale et al. (2000) eq. 6
    "H06": (0.266, 0.0, 600.0),   # Ho et al. (2006)
}
"""The gas-transfer parameterizations as coefficients of k = (q U^2 + l U) (Sc/Sc_ref)^-0.5, cm h-1:
name -> (q, l, Sc_ref). The functions below and the fused kernels both take them from here."""


def _k(name, u10, t_C):
    return _k_form(np.asarray(u10, dtype=float), sc_W14(t_C), *K_COEFFICIENTS[name])


@valid(u10=_WIND_RANGE)
def k_W14(u10, t_C):
    """Gas transfer velocity of CO2, cm h-1: k = 0.251 U10^2 (Sc/660)^-0.5.

    Wanninkhof (2014), Limnol. Oceanogr. Methods 12:351-362, eq. 4 (for CCMP-like winds).
    Check value: 24.94 cm h-1 at U10 = 10 m s-1 and 20 °C (Sc = 668.344).
    ``u10`` is the wind speed at 10 m, m s-1 (its second moment <U^2> is approximated by U^2).
    """
    return _k("W14", u10, t_C)


@valid(u10=_WIND_RANGE)
def k_W92(u10, t_C):
    """Gas transfer velocity of CO2, cm h-1: k = 0.31 U10^2 (Sc/660)^-0.5.

    Wanninkhof (1992), J. Geophys. Res. 97:7373-7382, eq. 3 (short-term/steady winds), with the
    Schmidt number of :func:`sc_W14`.
    """
    return _k("W92", u10, t_C)


@valid(u10=_WIND_RANGE)
def k_N00(u10, t_C):
    """Gas transfer velocity of CO2, cm h-1: k = (0.222 U10^2 + 0.333 U10) (Sc/600)^-0.5.

    Nightingale et al. (2000), Global Biogeochem. Cycles 14:373-387, eq. 6 (dual tracer).
    """
    return _k("N00", u10, t_C)


@valid(u10=_WIND_RANGE)
def k_H06(u10, t_C):
    """Gas transfer velocity of CO2, cm h-1: k = 0.266 U10^2 (Sc/600)^-0.5.

    Ho et al. (2006), Geophys. Res. Lett. 33:L16611 (SAGE experiment, QuikSCAT winds).
    """
    return _k("H06", u10, t_C)


K_PARAMETERIZATIONS: dict[str, Callable] = {
    "W14": k_W14,
    "W92": k_W92,
    "N00": k_N00,
    "H06": k_H06,
}
"""Gas-transfer velocity parameterizations, name -> ``k(u10 [m s-1], t [°C]) -> cm h-1``."""


def get_k(name: str) -> Callable:
    """The gas-transfer parameterization called ``name`` (a key of :data:`K_PARAMETERIZATIONS`)."""
    try:
        return K_PARAMETERIZATIONS[name]
    except KeyError:
        raise SatCO2Error(
            f"unknown gas-transfer parameterization {name!r}; choose one of "
            f"{', '.join(K_PARAMETERIZATIONS)}"
        ) from None


# ----------------------------------------------------------------------------------------------
# atmosphere and flux


def pco2_air(xco2_ppm, slp_Pa, t_C, s):
    """Atmospheric pCO2 at the sea surface (air saturated with water vapour at SST), µatm.

    pCO2air = xCO2 (P - pH2O), with xCO2 the dry-air mole fraction (ppm = µmol mol-1), P the
    sea-level pressure converted to atm (1 atm = 101325 Pa) and pH2O from :func:`pH2O_WP80`.

    xco2_ppm: ppm; slp_Pa: Pa; t_C: SST, °C; s: salinity.
    """
    p_atm = np.asarray(slp_Pa, dtype=float) / PA_PER_ATM
    return np.asarray(xco2_ppm, dtype=float) * (p_atm - pH2O_WP80(t_C, s))


def flux(k_cm_h, K0, dpco2_uatm):
    """Air-sea CO2 flux, mmol C m-2 d-1 (positive out of the sea).

    F = k K0 dpCO2 with k in cm h-1 (x 0.24 -> m d-1), K0 in mol L-1 atm-1 (= 1e3 mol m-3 atm-1)
    and dpCO2 = pCO2sw - pCO2air in µatm (1e-6 atm): m d-1 x 1e3 mol m-3 atm-1 x 1e-6 atm
    = 1e-3 mol m-2 d-1, i.e. the product k[m d-1] K0 dpCO2 is directly in mmol m-2 d-1.
    Check value: -9.94 mmol m-2 d-1 at 20 °C, S 35, U10 10 m s-1 (W14), dpCO2 -50 µatm.
    """
    return np.asarray(k_cm_h, float) * CM_H_TO_M_D * np.asarray(K0, float) * np.asarray(dpco2_uatm, float)


def flux_kernel(t_C, s, u10, dpco2_uatm, k_param: str = "W14"):
    """Flux (mmol C m-2 d-1) from SST (°C), salinity, U10 (m s-1) and dpCO2 (µatm): the numpy
    kernel that :mod:`satco2.science.air_sea_flux` wraps with ``xr.apply_ufunc``."""
    return flux(get_k(k_param)(u10, t_C), K0_W74(t_C, s), dpco2_uatm)


def _numba_kernels():
    """The fused kernels: the formulas above (:func:`_sc_poly`, :func:`_ln_k0`, :func:`_ln_ph2o`,
    :func:`_k_form`) compiled by numba, so they share the functions' coefficients."""
    import numba

    sc_f, ln_k0, ln_ph2o, k_form = (numba.njit(f) for f in (_sc_poly, _ln_k0, _ln_ph2o, _k_form))

    @numba.vectorize(["float64(float64, float64, float64, float64, float64, float64, float64)"],
                     nopython=True, cache=False)
    def flux_vec(t, s, u, dp, q, l, scref):
        T100 = (t + KELVIN) / 100.0
        k0 = np.exp(ln_k0(T100, np.log(T100), s))
        return k_form(u, sc_f(t), q, l, scref) * CM_H_TO_M_D * k0 * dp

    @numba.vectorize(["float64(float64, float64, float64, float64)"], nopython=True, cache=False)
    def pco2air_vec(x, p, t, s):
        T100 = (t + KELVIN) / 100.0
        return x * (p / PA_PER_ATM - np.exp(ln_ph2o(T100, np.log(T100), s)))

    @numba.njit(cache=False)
    def nanminmax(a):
        lo, hi = np.inf, -np.inf
        for v in a.flat:
            if v == v:
                if v < lo:
                    lo = v
                if v > hi:
                    hi = v
        if lo > hi:
            return np.nan, np.nan
        return lo, hi

    sigs = [f"float64({t}, {t}, {t}, {t}, {t}, {t}, float64, float64, float64)"
            for t in ("float32", "float64")]

    @numba.vectorize(sigs, nopython=True, cache=False)
    def flux_from_pco2_vec(t, s, u, psw, x, p, q, l, scref):
        T100 = (t + KELVIN) / 100.0
        lnT100 = np.log(T100)
        ph2o = np.exp(ln_ph2o(T100, lnT100, s))
        k0 = np.exp(ln_k0(T100, lnT100, s))
        return k_form(u, sc_f(t), q, l, scref) * CM_H_TO_M_D * k0 * (psw - x * (p / PA_PER_ATM - ph2o))

    return flux_vec, pco2air_vec, nanminmax, flux_from_pco2_vec


# Inside the validity ranges of the fused flux (t -1..40 °C, S 0..40), T/100 K lies in 2.72..3.14,
# ln K0 in -3.9..-2.5 and ln pH2O in -5.2..-2.6. There exp and log are evaluated as polynomials
# (plain multiply-adds, which the compiler turns into SIMD instructions; calls to libm's exp/log
# are not vectorized), accurate to a few 1e-15 relative; outside, the exact kernel is used.
_LN_T100_CENTRE = 2.9265  # middle of T/100 over -1..40 °C
_EXP_CENTRES = (-3.2, -3.9)  # ln K0, ln pH2O: within 1.5 of these over the validity ranges


def _exp_near(y, c, exp_c):
    """exp(y) for |y - c| <= 1.5, to ~2e-15 relative: exp(c) P(d/8)^8 with P the Taylor
    polynomial of degree 10 (truncation 2.5e-16 at |d/8| = 0.19), d = y - c."""
    z = (y - c) * 0.125
    p = 1.0 + z * (1.0 + z * (1.0 / 2 + z * (1.0 / 6 + z * (1.0 / 24 + z * (1.0 / 120 + z * (
        1.0 / 720 + z * (1.0 / 5040 + z * (1.0 / 40320 + z * (1.0 / 362880 + z / 3628800)))))))))
    p = p * p
    p = p * p
    return exp_c * (p * p)


def _log_near(x, c, log_c):
    """log(x) for x within 7 % of c, to ~1e-16: log c + 2 atanh(w), w = (x - c)/(x + c) (|w| <=
    0.036), atanh by its series to w^9 (next term < 1e-17)."""
    w = (x - c) / (x + c)
    w2 = w * w
    return log_c + 2.0 * w * (1.0 + w2 * (1.0 / 3 + w2 * (1.0 / 5 + w2 * (1.0 / 7 + w2 / 9))))


def _poly_flux_kernel():
    """The fused flux-from-pCO2sw loop over rows of contiguous arrays (numba, no GIL held,
    vectorized): :func:`_ln_k0`, :func:`_ln_ph2o`, :func:`_sc_poly`, :func:`_k_form` with
    :func:`_exp_near`/:func:`_log_near`. It also counts the inputs outside the validity ranges
    (then the caller warns and uses the exact kernel)."""
    import math

    import numba

    jit = numba.njit(nogil=True, error_model="numpy", fastmath={"contract"})
    sc_f, ln_k0, ln_ph2o, k_form, exp_near, log_near = (
        jit(f) for f in (_sc_poly, _ln_k0, _ln_ph2o, _k_form, _exp_near, _log_near))
    (tlo, thi), (slo, shi), (ulo, uhi) = (_FLUX_RANGES[k] for k in ("t_C", "s", "u10"))
    lnc = math.log(_LN_T100_CENTRE)
    ck, cw = _EXP_CENTRES
    eck, ecw = math.exp(ck), math.exp(cw)

    @jit
    def row(t, s, u, psw, x, p, q, l, scref, out):
        bad = 0
        for i in range(out.size):
            ti, si, ui = np.float64(t[i]), np.float64(s[i]), np.float64(u[i])
            bad += (ti < tlo) | (ti > thi) | (si < slo) | (si > shi) | (ui < ulo) | (ui > uhi)
            T100 = (ti + KELVIN) / 100.0
            lnT100 = log_near(T100, _LN_T100_CENTRE, lnc)
            ph2o = exp_near(ln_ph2o(T100, lnT100, si), cw, ecw)
            k0 = exp_near(ln_k0(T100, lnT100, si), ck, eck)
            pa = np.float64(x[i]) * (np.float64(p[i]) / PA_PER_ATM - ph2o)
            out[i] = k_form(ui, sc_f(ti), q, l, scref) * CM_H_TO_M_D * k0 * (np.float64(psw[i]) - pa)
        return bad

    @jit
    def _fill(a, v):
        a[:] = v
        return a

    @jit
    def rows(t, s, u, psw, x, p, q, l, scref, out, scratch):
        """Inputs (rows, m) or (rows, 1) (constant along a row: expanded into ``scratch``, a tuple
        of six (m,) arrays of the inputs' dtypes; inputs may mix float32 and float64)."""
        m = out.shape[1]
        bad = 0
        for k in range(out.shape[0]):
            tk = t[k] if t.shape[1] == m else _fill(scratch[0], t[k, 0])
            sk = s[k] if s.shape[1] == m else _fill(scratch[1], s[k, 0])
            uk = u[k] if u.shape[1] == m else _fill(scratch[2], u[k, 0])
            pk = psw[k] if psw.shape[1] == m else _fill(scratch[3], psw[k, 0])
            xk = x[k] if x.shape[1] == m else _fill(scratch[4], x[k, 0])
            sp = p[k] if p.shape[1] == m else _fill(scratch[5], p[k, 0])
            bad += row(tk, sk, uk, pk, xk, sp, q, l, scref, out[k])
        return bad

    return rows


_KERNELS = None
_POLY = None


def _poly_kernel():
    global _POLY
    if _POLY is None:
        _POLY = _poly_flux_kernel()
    return _POLY


def _as_rows(a, shape, dt=None):
    """``a`` broadcast to ``shape`` as a C-contiguous (rows, m) array when it varies along the
    last axis (no copy if it already has the shape), else as (rows, 1). ``dt``: the dtype (default:
    float32 and float64 arrays keep theirs, anything else becomes float64)."""
    a = np.asarray(a)
    if dt is None:
        dt = a.dtype if a.dtype in (np.float32, np.float64) else np.float64
    a = a.astype(dt, copy=False)
    m = shape[-1] if shape else 1
    rows = int(np.prod(shape[:-1])) if shape else 1
    a = a.reshape((1,) * (len(shape) - a.ndim) + a.shape)
    if not shape or a.shape[-1] == m:
        r = np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(rows, m)
    else:
        r = np.ascontiguousarray(np.broadcast_to(a, tuple(shape[:-1]) + (1,))).reshape(rows, 1)
    # always a read-only view: numba compiles once per dtype, not once more per writeable flag
    r = r.view()
    r.flags.writeable = False
    return r


def _kernels():
    global _KERNELS
    if _KERNELS is None:
        _KERNELS = _numba_kernels()
    return _KERNELS


# the validity ranges of the fused kernels: those of the functions they fuse
_FLUX_RANGES = {"t_C": K0_W74.validity["t_C"], "s": K0_W74.validity["s"], "u10": _WIND_RANGE}
_PCO2_AIR_RANGES = pH2O_WP80.validity


def _check(source, ranges, **arrays):
    check_all(source, ranges, stacklevel=3, minmax=_kernels()[2], **arrays)


def flux_fast(t_C, s, u10, dpco2_uatm, k_param: str = "W14"):
    """:func:`flux_kernel` fused into one compiled pass (numba), mmol C m-2 d-1.

    Same formulas and coefficients (Weiss 1974 K0, Wanninkhof 2014 Sc, :data:`K_COEFFICIENTS`) and
    the same validity ranges, checked in one pass each; used by :mod:`satco2.science.air_sea_flux`.
    """
    get_k(k_param)
    q, l, scref = K_COEFFICIENTS[k_param]
    _check("flux", _FLUX_RANGES, t_C=t_C, s=s, u10=u10)
    return _kernels()[0](np.asarray(t_C, float), np.asarray(s, float), np.asarray(u10, float),
                         np.asarray(dpco2_uatm, float), q, l, scref)


def flux_from_pco2_fast(t_C, s, u10, pco2sw_uatm, xco2_ppm, slp_Pa, k_param: str = "W14",
                        dtype=None, out=None):
    """Flux (mmol C m-2 d-1) straight from seawater pCO2 in one compiled pass:
    pCO2air = xCO2 (P - pH2O) (:func:`pco2_air`), then F = k K0 (pCO2sw - pCO2air)
    (:func:`flux_kernel`). Same formulas and validity ranges; float32 inputs are used without
    copies. One pass (:func:`_poly_flux_kernel`: exp and log as polynomials on the validity
    ranges, the range check counted in the same loop); if any input is outside the ranges, the
    usual warning and the exact kernel. The result is float32 when every input is, else float64;
    float32 and float64 inputs are read as they are (no converted copies; the loop computes in
    float64 either way). ``dtype`` sets the result's dtype instead (float32 or float64; the
    float64 values rounded once); ``out``, a C-contiguous array of the broadcast shape, receives
    the result (and is returned). Used by :func:`satco2.science.air_sea_flux.flux_from_pco2`; a
    test checks it against the reference."""
    get_k(k_param)
    q, l, scref = K_COEFFICIENTS[k_param]
    arrs = [np.asarray(a) for a in (t_C, s, u10, pco2sw_uatm, xco2_ppm, slp_Pa)]
    dt = np.float32 if all(a.dtype == np.float32 for a in arrs) else np.float64
    dt = np.dtype(dt if dtype is None else dtype)
    if dt not in (np.float32, np.float64):
        raise ValueError(f"flux_from_pco2_fast computes float32 or float64, not {dt}")
    shape = np.broadcast_shapes(*(a.shape for a in arrs))
    rowsd = [_as_rows(a, shape) for a in arrs]
    if out is None:
        result = np.empty(shape, dt)
    else:
        if out.shape != shape or out.dtype != dt or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous {dt} array of shape {shape}")
        result = out
    rows2 = result.reshape(rowsd[0].shape[:1] + (shape[-1] if shape else 1,))
    scratch = tuple(np.empty(rows2.shape[1] if r.shape[1] == 1 else 0, r.dtype) for r in rowsd)
    if _poly_kernel()(*rowsd, q, l, scref, rows2, scratch) == 0:
        return result
    # some input outside the validity ranges: warn, and evaluate exp/log exactly
    _check("flux", _FLUX_RANGES, t_C=t_C, s=s, u10=u10)
    edt = np.float32 if all(a.dtype == np.float32 for a in arrs) else np.float64
    result[...] = _kernels()[3](*(a.astype(edt, copy=False) for a in arrs), q, l, scref)
    return result


def pco2_air_fast(xco2_ppm, slp_Pa, t_C, s):
    """:func:`pco2_air` in one compiled pass (numba), µatm; same validity ranges as pH2O_WP80."""
    _check("pco2_air", _PCO2_AIR_RANGES, t_C=t_C, s=s)
    return _kernels()[1](np.asarray(xco2_ppm, float), np.asarray(slp_Pa, float),
                         np.asarray(t_C, float), np.asarray(s, float))


# ----------------------------------------------------------------------------------------------
# areas and budgets

WGS84_A = 6378137.0  # semi-major axis, m (NIMA TR8350.2)
WGS84_F = 1 / 298.257223563  # flattening (NIMA TR8350.2)
MOLAR_MASS_C = 12.0107  # g mol-1 (IUPAC standard atomic weight, conventional value)
DAYS_PER_YEAR = 365.25


def _authalic_q(phi_rad, e):
    s = np.sin(phi_rad)
    return s / (1 - e**2 * s**2) + np.log((1 + e * s) / (1 - e * s)) / (2 * e)


def cell_edges(centres) -> np.ndarray:
    """Cell edges of a regular or irregular 1-D coordinate of cell centres (midpoints,
    extrapolated by half a cell at the ends)."""
    c = np.asarray(centres, dtype=float)
    if c.size < 2:
        raise SatCO2Error("cell areas need at least two grid points along each axis")
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def cell_area_WGS84(lat, lon) -> np.ndarray:
    """Exact area (m2) of lat-lon cells on the WGS84 ellipsoid, shape (len(lat), len(lon)).

    Area between two parallels on an ellipsoid of revolution,
    A = (b^2 dlambda / 2) [q(phi2) - q(phi1)], q(phi) = sin phi / (1 - e^2 sin^2 phi)
    + ln((1 + e sin phi)/(1 - e sin phi)) / (2e) (e.g. Snyder 1987, USGS PP 1395, eq. 3-12
    for the authalic latitude). The global sum equals 4 pi R_q^2 with the authalic radius
    R_q = 6371007.181 m (Moritz 1980, Geodetic Reference System 1980).

    lat, lon: 1-D cell-centre coordinates in degrees (edges halfway between centres, clipped to
    +-90 degrees latitude).
    """
    e = np.sqrt(WGS84_F * (2 - WGS84_F))
    b = WGS84_A * (1 - WGS84_F)
    late = np.clip(cell_edges(lat), -90.0, 90.0)
    lone = cell_edges(lon)
    q = _authalic_q(np.deg2rad(late), e)
    dq = np.abs(np.diff(q))
    dlon = np.abs(np.deg2rad(np.diff(lone)))
    return (b**2 / 2) * dq[:, None] * dlon[None, :]


def budget_TgC_per_yr(flux_da, weights=None):
    """Area-integrated flux of ``flux_da`` (mmol C m-2 d-1, dims ... lat, lon), Tg C yr-1.

    Cell areas come from :func:`cell_area_WGS84` on the array's ``lat``/``lon`` coordinates;
    ``weights`` (0..1, e.g. ``satco2.science.regions.mask``) is the fraction of each cell inside
    the region. Cells with NaN flux contribute nothing (the budget covers valid cells only).
    Returns a DataArray over the remaining dims (e.g. one value per month), lazily if dask-backed.
    """
    import xarray as xr

    lat = coord_name(flux_da, "latitude")
    lon = coord_name(flux_da, "longitude")
    area = xr.DataArray(
        cell_area_WGS84(flux_da[lat].values, flux_da[lon].values),
        dims=(lat, lon), coords={lat: flux_da[lat], lon: flux_da[lon]},
    )
    if weights is not None:
        area = area * weights
    total = (flux_da * area).sum((lat, lon), skipna=True)
    out = total * (1e-3 * MOLAR_MASS_C * DAYS_PER_YEAR / 1e12)
    out.attrs = {"long_name": "area-integrated air-sea CO2 flux", "units": "Tg C yr-1",
                 "comment": "cell areas on the WGS84 ellipsoid; positive = outgassing"}
    return out


