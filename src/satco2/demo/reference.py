"""Demo generator ``reference``: SYNTHETIC stand-ins of the observation-based reference carbon
products (SeaFlux ensemble, coastal SOM-FFN climatology, CMEMS-LSCE-FFNN, OceanSODA-ETHZ) over
the East China Sea demo box, so that ``catalog.open(<id>, source="demo")`` and the pCO2/flux
dashboard's comparison panels work offline. Their grids are the products' own (1 deg or
0.25 deg); their values follow :func:`base_pco2` plus known per-product offsets (:data:`TRUTH`),
so that tests can check the regional means and the ensemble spread. See :data:`SIGNALS`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..catalog.footprints import FOOTPRINTS
from . import fields

FOOTPRINT = "ecs"
VERSION = 1
SEAFLUX_SPCO2 = "extra-spco2-seaflux-1deg"
SEAFLUX_FGCO2 = "extra-fgco2-seaflux-1deg"
COASTAL = "extra-spco2-somffn-coastal-25km"
CMEMS = "extra-carbonate-cmems-lsce-25km"
OCEANSODA = "extra-carbonate-oceansoda-1deg"
PRODUCTS = (SEAFLUX_SPCO2, SEAFLUX_FGCO2, COASTAL, CMEMS, OCEANSODA)

#: the injected numbers (also written to ``truth/reference.json``)
TRUTH = {
    "pco2_2000": 360.0,            # uatm, annual mean at lat 28 N in 2000
    "pco2_trend": 1.8,             # uatm per year
    "pco2_seasonal": 25.0,         # uatm, amplitude of cos(2 pi (month - 8) / 12): maximum in August
    "pco2_lat_gradient": -1.5,     # uatm per degree north of 28 N
    "pco2air_2000": 368.0,         # uatm
    "pco2air_trend": 2.0,          # uatm per year
    "k_flux": 0.06,                # mol m-2 yr-1 uatm-1: fgco2 = k_flux * wind_factor * (pco2 - pco2air)
    "noise_uatm": 2.0,             # standard deviation of the seeded pixel noise of pco2
    "seaflux_offsets": {"CMEMS_FFNN": -6.0, "CSIR_ML6": -3.0, "JENA_MLS": 0.0, "JMA_MLR": 2.0,
                        "MPI_SOMFFN": 3.0, "NIES_FNN": 4.0},
    "seaflux_wind_factors": {"CCMP2": 1.0, "ERA5": 0.95, "JRA55": 1.05},
    "coastal_offset": 5.0,         # uatm, on the 2000-2014 climatology of the base field
    "cmems_offset": 1.0, "cmems_spco2_sigma": 12.0, "cmems_fgco2_sigma": 0.3,
    "oceansoda_offset": -2.0, "oceansoda_spco2_uncert": 14.0,
}

SIGNALS = f"""
All five reference products are **synthetic** stand-ins (global attribute `synthetic = "yes"`,
title "SYNTHETIC ..."), on their real grids cut to the `ecs` box (117-131 E, 21-35 N): 1 deg
(SeaFlux, OceanSODA-ETHZ) or 0.25 deg (SOM-FFN coastal climatology, CMEMS-LSCE), monthly
2000-01..2014-12, NaN on Natural Earth land. Truth: `truth/reference.json`.

- **Base pCO2** (uatm): {TRUTH['pco2_2000']} + {TRUTH['pco2_trend']} (years since 2000) +
  {TRUTH['pco2_seasonal']} cos(2 pi (month - 8) / 12) + {TRUTH['pco2_lat_gradient']} (lat - 28),
  plus seeded pixel noise (sd {TRUTH['noise_uatm']} uatm, independent per product, cell and month).
  Atmospheric pCO2 (not a product) {TRUTH['pco2air_2000']} + {TRUTH['pco2air_trend']} (years since 2000).
- **SeaFlux** `extra-spco2-seaflux-1deg`: `spco2(product, time, lat, lon)` = base + a fixed offset per
  product: {', '.join(f'{k} {v:+g}' for k, v in TRUTH['seaflux_offsets'].items())} uatm (mean 0,
  population sd {np.std(list(TRUTH['seaflux_offsets'].values())):.3f} uatm).
  `extra-fgco2-seaflux-1deg`: `fgco2(product, wind, ...)` (mol m-2 yr-1, + to air) =
  {TRUTH['k_flux']} x wind factor x (spco2 - pCO2air), wind factors
  {', '.join(f'{k} {v:g}' for k, v in TRUTH['seaflux_wind_factors'].items())}.
- **SOM-FFN coastal climatology** `extra-spco2-somffn-coastal-25km`: the 2000-2014 monthly mean of
  the base field {TRUTH['coastal_offset']:+g} uatm, 12 months stamped 2000-01..2000-12 (attribute
  `climatology = "yes"`: compare by month of year).
- **CMEMS-LSCE** `extra-carbonate-cmems-lsce-25km`: spco2 = base {TRUTH['cmems_offset']:+g} uatm,
  `spco2_uncertainty` {TRUTH['cmems_spco2_sigma']} uatm, fgco2 = {TRUTH['k_flux']} (spco2 - pCO2air) with
  `fgco2_uncertainty` {TRUTH['cmems_fgco2_sigma']} mol m-2 yr-1; talk 2200 + 8 (lat - 21), tco2 =
  talk - 250 + 0.5 (spco2 - 360), ph 8.06 - 0.0009 (spco2 - 360) (uncertainties 10, 12 umol kg-1, 0.02).
- **OceanSODA-ETHZ** `extra-carbonate-oceansoda-1deg`: spco2 = base {TRUTH['oceansoda_offset']:+g} uatm,
  `spco2_uncert` {TRUTH['oceansoda_spco2_uncert']} uatm, fgco2 = {TRUTH['k_flux']} (spco2 - pCO2air), talk,
  dic and ph_total as for CMEMS-LSCE (uncertainties 11, 13 umol kg-1, 0.018).
Plausible in magnitude for the East China Sea only; the pattern is not the real one.
"""

MONTHS = pd.date_range("2000-01-01", "2014-12-01", freq="MS")


def _grid(step: float):
    fp = FOOTPRINTS[FOOTPRINT]
    (x0, x1), (y0, y1) = fp.lon, fp.lat
    lon = np.round(np.arange(x0 + step / 2, x1, step), 6)
    lat = np.round(np.arange(y0 + step / 2, y1, step), 6)
    return lat, lon


def base_pco2(time: pd.DatetimeIndex, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """The injected base field (time, lat, lon) in uatm, without noise (see :data:`SIGNALS`)."""
    years = (time.year - 2000 + (time.month - 0.5) / 12).values.astype(float)
    season = np.cos(2 * np.pi * (time.month.values - 8) / 12.0)
    t = TRUTH["pco2_2000"] + TRUTH["pco2_trend"] * years + TRUTH["pco2_seasonal"] * season
    return (t[:, None, None] + TRUTH["pco2_lat_gradient"] * (lat[None, :, None] - 28.0)
            + 0.0 * lon[None, None, :])


def pco2_air(time: pd.DatetimeIndex) -> np.ndarray:
    years = (time.year - 2000 + (time.month - 0.5) / 12).values.astype(float)
    return TRUTH["pco2air_2000"] + TRUTH["pco2air_trend"] * years


def _noise(seed, shape, *salt):
    return fields.rng(seed, "reference", *salt).normal(0.0, TRUTH["noise_uatm"], shape)


def _ds(data_vars, lat, lon, time, title, **attrs) -> xr.Dataset:
    coords = {"time": time, "lat": lat, "lon": lon}
    for name in ("product", "wind"):
        if name in attrs:
            coords[name] = np.array(attrs.pop(name), dtype=object)  # variable-length strings in Zarr
    return fields.cf_dataset(data_vars, coords, title=f"SYNTHETIC {title}",
                             comment="synthetic stand-in of the demo store; see docs/demo-signals.md", **attrs)


def build(scale: int, seed: int) -> dict:
    out: dict = {}
    time = MONTHS
    # ---- 1 deg: SeaFlux and OceanSODA
    lat, lon = _grid(1.0)
    land1 = fields.land_mask(lat, lon).values[None]
    base = base_pco2(time, lat, lon)
    air = pco2_air(time)[:, None, None]
    offs = TRUTH["seaflux_offsets"]
    sp = np.stack([np.where(land1, np.nan, base + o + _noise(seed, base.shape, "seaflux", p))
                   for p, o in offs.items()])
    winds = TRUTH["seaflux_wind_factors"]
    fg = np.stack([[TRUTH["k_flux"] * w * (sp[i] - air) for w in winds.values()] for i in range(len(offs))])
    out[SEAFLUX_SPCO2] = _ds({"spco2": fields.cf_var(sp, ("product", "time", "lat", "lon"), units="uatm",
                                                     long_name="sea-surface partial pressure of CO2 per product")},
                             lat, lon, time, "SeaFlux pCO2 ensemble", product=list(offs))
    out[SEAFLUX_FGCO2] = _ds({"fgco2": fields.cf_var(fg, ("product", "wind", "time", "lat", "lon"),
                                                     units="mol m-2 yr-1", long_name="sea-air CO2 flux")},
                             lat, lon, time, "SeaFlux flux ensemble", product=list(offs), wind=list(winds))
    so = np.where(land1, np.nan, base + TRUTH["oceansoda_offset"] + _noise(seed, base.shape, "oceansoda"))
    out[OCEANSODA] = _ds(_carbonate(so, air, land1, uncert=(TRUTH["oceansoda_spco2_uncert"], 11.0, 13.0, 0.018),
                                    names=("spco2_uncert", "talk", "talk_uncert", "dic", "dic_uncert",
                                           "ph_total", "ph_total_uncert", None, None), lat=lat),
                         lat, lon, time, "OceanSODA-ETHZ carbonate system")
    # ---- 0.25 deg: coastal climatology and CMEMS-LSCE
    lat, lon = _grid(0.25)
    land = fields.land_mask(lat, lon).values[None]
    base = base_pco2(time, lat, lon)
    air = pco2_air(time)[:, None, None]
    clim = np.stack([base[time.month == m].mean(0) for m in range(1, 13)]) + TRUTH["coastal_offset"]
    clim = np.where(land, np.nan, clim + _noise(seed, clim.shape, "coastal"))
    out[COASTAL] = _ds({"spco2": fields.cf_var(clim, ("time", "lat", "lon"), units="uatm",
                                               long_name="sea-surface pCO2, monthly climatology")},
                       lat, lon, MONTHS[:12], "SOM-FFN coastal pCO2 climatology", climatology="yes")
    cm = np.where(land, np.nan, base + TRUTH["cmems_offset"] + _noise(seed, base.shape, "cmems"))
    out[CMEMS] = _ds(_carbonate(cm, air, land, uncert=(TRUTH["cmems_spco2_sigma"], 10.0, 12.0, 0.02),
                                names=("spco2_uncertainty", "talk", "talk_uncertainty", "tco2", "tco2_uncertainty",
                                       "ph", "ph_uncertainty", "fgco2_uncertainty", TRUTH["cmems_fgco2_sigma"]),
                                lat=lat),
                     lat, lon, time, "CMEMS-LSCE-FFNN carbonate system")
    out["truth/reference"] = {"truth": TRUTH, "grid_1deg_step": 1.0, "grid_025deg_step": 0.25,
                              "months": [str(MONTHS[0].date()), str(MONTHS[-1].date())]}
    return out


def _carbonate(spco2, air, land, uncert, names, lat) -> dict:
    """spco2, its uncertainty, fgco2, talk, dic/tco2, pH and their uncertainties (see SIGNALS)."""
    su, ta, tau, dic, dicu, ph, phu, fgu, fgu_value = names
    dims = ("time", "lat", "lon")
    ones = np.where(np.isnan(spco2), np.nan, 1.0)
    talk = (2200.0 + 8.0 * (lat[None, :, None] - 21.0)) * ones
    v = {
        "spco2": fields.cf_var(spco2, dims, units="uatm", long_name="sea-surface partial pressure of CO2"),
        su: fields.cf_var(uncert[0] * ones, dims, units="uatm", long_name="uncertainty of spco2"),
        "fgco2": fields.cf_var(TRUTH["k_flux"] * (spco2 - air), dims, units="mol m-2 yr-1", long_name="sea-air CO2 flux"),
        ta: fields.cf_var(talk, dims, units="umol kg-1", long_name="total alkalinity"),
        tau: fields.cf_var(uncert[1] * ones, dims, units="umol kg-1", long_name="uncertainty of talk"),
        dic: fields.cf_var(talk - 250.0 + 0.5 * (spco2 - 360.0), dims, units="umol kg-1",
                           long_name="dissolved inorganic carbon"),
        dicu: fields.cf_var(uncert[2] * ones, dims, units="umol kg-1", long_name="uncertainty of dic"),
        ph: fields.cf_var(8.06 - 0.0009 * (spco2 - 360.0), dims, units="1", long_name="pH (total scale)"),
        phu: fields.cf_var(uncert[3] * ones, dims, units="1", long_name="uncertainty of pH"),
    }
    if fgu:
        v[fgu] = fields.cf_var(fgu_value * ones, dims, units="mol m-2 yr-1", long_name="uncertainty of fgco2")
    return v
