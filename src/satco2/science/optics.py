"""Water transparency: Secchi disk depth (SDD) from remote-sensing reflectance or from Kd(490).

Parameterizations:

- :func:`zsd_L15` — Lee, Shang, Hu, Du, Weidemann, Hou, Lin, Lin 2015, "Secchi disk depth: A new
  theory and mechanistic model for underwater visibility", Remote Sens. Environ. 169:139-149:
  ``Zsd = ln(|0.14 - Rrs_tr| / 0.013) / (2.5 Kd_tr)`` [m], with Kd_tr the minimum of Kd over the
  visible bands and Rrs_tr the reflectance at that band (validated for SDD < 1 m to > 30 m,
  N = 338, ~18 % mean absolute difference, abstract).
- :func:`kd_L13` — Lee, Hu, Shang, Du, Lewis, Arnone, Brewin 2013, JGR Oceans 118:4241-4255:
  ``Kd = (1 + 0.005 theta_s) a + 4.259 (1 - 0.265 bbw/bb)(1 - 0.52 exp(-10.8 a)) bb`` [m-1].
- :func:`iops_QAA6` — Quasi-Analytical Algorithm v6 (Lee, Carder, Arnone 2002, Appl. Opt.
  41:5755-5772; v6 update, IOCCG QAA_v6 2014): a(λ), bb(λ) from Rrs(λ) at MODIS-Aqua bands
  412, 443, 488, 547, 667 nm. Reference band 547 when Rrs(667) < 0.0015 sr-1, else 667. Pure
  water: aw from Pope & Fry 1997 and bbw (= 0.5 bw) from Smith & Baker 1981, band-averaged for
  MODIS-Aqua as tabulated by NASA OBPG (``water_coef.txt``; values as carried by
  BIO-RSG/oceancolouR ``qaa``, R/CHLA_QAA.R). Pitfalls of some public ports are avoided (the
  QAA v6 document and Lee et al. 2015 are followed): the -0.469 sign, g0 = 0.089 and g1 = 0.1245,
  Rrs_tr (not Rrs_max, the Landsat rule of Lee et al. 2016), bbw at the reference band actually
  used, bbw = 0.5 bw.
- :func:`sdd_from_rrs` — the whole Lee 2015 chain from Rrs (the standard route).
- :func:`sdd_from_kd490` — where only Kd(490) exists (this project's ``extra-kd490`` product):
  Lee 2015 with Kd_tr := Kd(490) and a configurable Rrs_tr (default 0.005 sr-1). SUBSTITUTE: in
  clear water the transparent window is near 490 nm so Kd_tr ≈ Kd(490); in turbid coastal water
  the minimum moves to green bands and this route underestimates SDD. With Rrs_tr in 0..0.02 sr-1
  the log term varies only 2.22..2.38, so Rrs_tr matters little (±4 %).

All functions are numpy ufunc-style (broadcasting, NaN-propagating); wrap them with
``xr.apply_ufunc(..., dask="parallelized")`` (done by :func:`sdd_dataset`).
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from .. import SatCO2Error

MODIS_BANDS = (412, 443, 488, 547, 667)  # nm
#: Pure-water absorption [m-1], Pope & Fry 1997, MODIS-Aqua band averages (NASA OBPG water_coef.txt)
AW_MODIS = {412: 0.00455056, 443: 0.00706914, 488: 0.0145167, 547: 0.0531686, 667: 0.434888}
#: Pure-seawater backscattering [m-1] (0.5 x scattering), Smith & Baker 1981, same table
BBW_MODIS = {412: 0.003325, 443: 0.002436175, 488: 0.001610175, 547: 0.000988925, 667: 0.000425025}
#: QAA v6 constants (Lee et al. 2002; QAA v6 2014)
QAA6 = {"g0": 0.089, "g1": 0.1245, "h0": -1.146, "h1": -1.366, "h2": -0.469, "a670_coef": 0.39,
        "a670_exp": 1.14, "rrs670_switch": 0.0015}
#: Lee et al. 2015 constants
L15 = {"c_rrs": 0.14, "c_den": 0.013, "gamma": 2.5}
#: Lee et al. 2013 Kd constants
L13 = {"m0": 0.005, "m1": 4.259, "m2": 0.52, "m3": 10.8, "chi": 0.265}


def zsd_L15(kd_tr, rrs_tr):
    """Secchi depth [m] from Kd at the transparent window [m-1] and Rrs there [sr-1] (Lee 2015)."""
    kd_tr = np.asarray(kd_tr, dtype=np.float64)
    rrs_tr = np.asarray(rrs_tr, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.log(np.abs(L15["c_rrs"] - rrs_tr) / L15["c_den"]) / (L15["gamma"] * kd_tr)
    return np.where(kd_tr > 0, z, np.nan)


def kd_L13(a, bb, bbw, theta_s=30.0):
    """Diffuse attenuation Kd [m-1] from total a and bb [m-1], water bbw [m-1] and solar zenith
    angle theta_s [degrees] (Lee et al. 2013)."""
    a = np.asarray(a, dtype=np.float64)
    bb = np.asarray(bb, dtype=np.float64)
    return (1.0 + L13["m0"] * theta_s) * a + L13["m1"] * (1.0 - L13["chi"] * bbw / bb) * (
        1.0 - L13["m2"] * np.exp(-L13["m3"] * a)) * bb


def iops_QAA6(rrs: dict):
    """QAA v6: total absorption a and backscattering bb [m-1] at the MODIS bands.

    ``rrs``: mapping band (nm) -> above-water Rrs [sr-1] arrays (412, 443, 488, 547, 667).
    Returns (a, bb) as dicts band -> array.
    """
    missing = [b for b in MODIS_BANDS if b not in rrs]
    if missing:
        raise SatCO2Error(f"QAA v6 needs Rrs at {MODIS_BANDS} nm; missing {missing}")
    R = {b: np.asarray(rrs[b], dtype=np.float64) for b in MODIS_BANDS}
    r = {b: R[b] / (0.52 + 1.7 * R[b]) for b in MODIS_BANDS}  # below-water rrs
    g0, g1 = QAA6["g0"], QAA6["g1"]
    u = {b: (-g0 + np.sqrt(g0 * g0 + 4.0 * g1 * r[b])) / (2.0 * g1) for b in MODIS_BANDS}
    use555 = R[667] < QAA6["rrs670_switch"]
    with np.errstate(divide="ignore", invalid="ignore"):
        chi = np.log10((r[443] + r[488]) / (r[547] + 5.0 * r[667] ** 2 / r[488]))
        a547 = AW_MODIS[547] + 10.0 ** (QAA6["h0"] + QAA6["h1"] * chi + QAA6["h2"] * chi * chi)
        a667 = AW_MODIS[667] + QAA6["a670_coef"] * (R[667] / (R[443] + R[488])) ** QAA6["a670_exp"]
        bbp547 = u[547] * a547 / (1.0 - u[547]) - BBW_MODIS[547]
        bbp667 = u[667] * a667 / (1.0 - u[667]) - BBW_MODIS[667]
        eta = 2.0 * (1.0 - 1.2 * np.exp(-0.9 * r[443] / r[547]))
    lam_ref = np.where(use555, 547.0, 667.0)
    bbp_ref = np.where(use555, bbp547, bbp667)
    a, bb = {}, {}
    for b in MODIS_BANDS:
        bb[b] = BBW_MODIS[b] + bbp_ref * (lam_ref / b) ** eta
        a[b] = (1.0 - u[b]) * bb[b] / u[b]
    return a, bb


def sdd_from_rrs(rrs: dict, theta_s=30.0):
    """Secchi depth [m] from MODIS-band Rrs [sr-1] by QAA v6 -> Kd (Lee 2013) -> Zsd (Lee 2015),
    with the transparent window searched over 443, 488, 547, 667 nm (visible bands with IOPs)."""
    a, bb = iops_QAA6(rrs)
    bands = (443, 488, 547, 667)
    kd = np.stack([kd_L13(a[b], bb[b], BBW_MODIS[b], theta_s) for b in bands])
    R = np.stack([np.asarray(rrs[b], dtype=np.float64) for b in bands])
    kd_valid = np.where(np.isfinite(kd) & (kd > 0), kd, np.inf)
    i = np.argmin(kd_valid, axis=0)
    kd_tr = np.take_along_axis(kd, i[None], 0)[0]
    rrs_tr = np.take_along_axis(R, i[None], 0)[0]
    bad = ~np.isfinite(kd_valid).any(axis=0)
    return np.where(bad, np.nan, zsd_L15(kd_tr, rrs_tr))


def sdd_from_kd490(kd490, rrs_tr=0.005):
    """Secchi depth [m] from Kd(490) [m-1] by Lee 2015 with Kd_tr := Kd(490) (SUBSTITUTE, see
    the module docstring) and Rrs_tr [sr-1] (a scalar or array)."""
    return zsd_L15(kd490, rrs_tr)


def sdd_dataset(kd490: xr.DataArray, rrs_tr=0.005) -> xr.DataArray:
    """Lazy SDD DataArray [m] from a Kd_490 DataArray (``dask="parallelized"``)."""
    out = xr.apply_ufunc(sdd_from_kd490, kd490, kwargs={"rrs_tr": rrs_tr}, dask="parallelized",
                         output_dtypes=[np.float64]).astype(kd490.dtype)
    out.name = "sdd"
    out.attrs = {"long_name": "Secchi disk depth", "standard_name": "secchi_depth_of_sea_water",
                 "units": "m", "comment": "Lee et al. 2015 (RSE 169:139) with Kd_tr = Kd(490), "
                 f"Rrs_tr = {rrs_tr} sr-1 (satco2.science.optics.sdd_from_kd490)"}
    return out
