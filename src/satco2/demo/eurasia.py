"""Demo generator ``eurasia``: synthetic monthly SST, PAR, chlorophyll, Kd490 and Secchi depth over
the Eurasian marginal seas, 2003-2014, with known per-sea linear trends (truth ``truth/trends``).

The trend table imitates the pattern of Bai, He, Yu, Chen 2018 (Sustainability 10:635, abstract):
SST up everywhere and faster in the enclosed seas, PAR mostly down, SDD up everywhere (Persian
Gulf 3.02 %/yr), chlorophyll down in tropical seas and up at high latitudes. The numbers are
**synthetic**: only the Persian Gulf SDD rate is the paper's; the rest are invented for the demo.
See :data:`SIGNALS`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

from ..catalog.footprints import FOOTPRINTS
from ..science import optics, regions
from . import fields

FOOTPRINT = "eurasia"
VERSION = 2
GROUP = "bai2018"
PRODUCTS = ("global-sst-oisst-25km", "global-par-modis-aqua-4km", "global-chl-modis-aqua-4km",
            "extra-kd490-modis-aqua-4km", "extra-sdd-modis-aqua-4km")
VARIABLES = {"sst": "global-sst-oisst-25km", "par": "global-par-modis-aqua-4km",
             "chlor_a": "global-chl-modis-aqua-4km", "sdd": "extra-sdd-modis-aqua-4km"}

#: Injected trends per sea: SST in degC/yr (additive), PAR, chlor_a and SDD in %/yr of the
#: climatology (multiplicative: value = climatology x (1 + r (t - 2009.0))). SYNTHETIC (except the
#: Persian Gulf SDD rate, 3.02 %/yr, from the abstract of Bai et al. 2018).
TRENDS = {
    #                   sst     par    chl   sdd
    "baltic_sea":       (0.075, 0.15, 1.5, 0.8),
    "black_sea":        (0.080, 0.10, 0.5, 1.0),
    "mediterranean_sea": (0.060, 0.10, -0.5, 1.2),
    "red_sea":          (0.030, -0.25, -1.5, 1.5),
    "persian_gulf":     (0.070, -0.30, -1.0, 3.02),
    "arabian_sea":      (0.025, -0.20, -2.0, 1.0),
    "bay_of_bengal":    (0.020, -0.30, -1.5, 0.7),
    "south_china_sea":  (0.020, -0.20, -1.0, 0.9),
    "east_china_sea":   (0.035, -0.25, 0.5, 1.1),
    "yellow_sea":       (0.040, -0.35, 0.8, 1.3),
    "sea_of_japan":     (0.065, -0.15, 1.2, 0.9),
    "sea_of_okhotsk":   (0.045, -0.20, 1.8, 0.6),
}
#: Per-sea climatological means of chlorophyll (mg m-3) and Kd490 (m-1), synthetic but plausible
#: in order of magnitude; outside the seas 0.15 mg m-3 and 0.035 m-1.
BASE = {
    "baltic_sea": (3.0, 0.30), "black_sea": (1.2, 0.15), "mediterranean_sea": (0.15, 0.035),
    "red_sea": (0.3, 0.05), "persian_gulf": (1.0, 0.113), "arabian_sea": (0.6, 0.06),
    "bay_of_bengal": (0.5, 0.07), "south_china_sea": (0.25, 0.045), "east_china_sea": (1.0, 0.12),
    "yellow_sea": (2.0, 0.25), "sea_of_japan": (0.6, 0.06), "sea_of_okhotsk": (1.5, 0.10),
}
T_MID = 2009.0
RRS_TR = 0.005  # sr-1, the Rrs_tr used to derive SDD from Kd490 (satco2.science.optics)

SIGNALS = """
All fields are **synthetic**. Grid: footprint `eurasia` (10 W-180 E, 0-66 N, 0.5 deg at scale 1),
monthly 2003-01..2014-12; land (Natural Earth 1:50m) is NaN. Seas: the 12 regions of group
`bai2018` in `catalogs/regions.yaml` (Natural Earth 10m marine polygons).

- **SST** (`global-sst-oisst-25km`, degC): 29 - 0.33 max(lat - 5, 0) annual mean, seasonal
  amplitude 0.5 + 0.12 lat peaking mid-August, + trend, + 0.25 degC smooth month-to-month
  anomalies (10-cell blobs, independent between months) + 0.1 degC pixel noise.
- **PAR** (`global-par-modis-aqua-4km`, einstein m-2 d-1): (48 - 0.35 lat)(1 + 0.006 lat cos(season,
  max mid-June)) x (1 + trend) x (1 + 5 % smooth + 3 % pixel noise).
- **Chlorophyll** (`global-chl-modis-aqua-4km`, mg m-3): per-sea mean (table `BASE`), seasonal
  +-0.15 dex (spring bloom north of 35 N, winter maximum south of it) x (1 + trend) x log-normal
  noise (0.1 dex smooth + 0.08 dex pixel); **cloud gaps** 10-45 % of ocean pixels per month.
- **Kd490** (`extra-kd490-modis-aqua-4km`, m-1): per-sea mean x (1 + 0.2 seasonal) /
  (1 + SDD trend) x noise, same cloud gaps.
- **SDD** (`extra-sdd-modis-aqua-4km`, m): derived from Kd490 with
  `satco2.science.optics.sdd_from_kd490` (Lee et al. 2015 with Kd_tr = Kd490, Rrs_tr = 0.005 sr-1),
  so SDD = 0.936 / Kd490 carries the injected relative trend exactly.
- **Injected trends** (table `TRENDS` in `satco2/demo/eurasia.py`): SST +0.02..+0.08 degC/yr
  (fastest in the enclosed Black, Baltic, Japan, Mediterranean seas and Persian Gulf); PAR
  -0.35..+0.15 %/yr (up only in the European seas); chlorophyll -2..+1.8 %/yr (down in tropical,
  up in high-latitude seas); SDD +0.6..+3.02 %/yr (Persian Gulf 3.02 %/yr as in Bai et al. 2018).
  Values are blended at sea borders by fractional coverage. `truth/trends.json` gives, per sea and
  variable, the slope that an area-weighted regional mean of the *noise-free, gap-free* fields has
  after deseasonalization (units/yr and %/yr of the mean), computed with numpy.polyfit here.
"""


def _season(month, peak):
    return np.cos(2 * np.pi * (month - peak) / 12.0)[:, None, None]


def build(scale: int = 1, seed: int = 0) -> dict[str, xr.Dataset]:
    fp = FOOTPRINTS[FOOTPRINT]
    c = fp.coords(scale)
    time, lat, lon = c["time"], c["lat"], c["lon"]
    nt, ny, nx = time.size, lat.size, lon.size
    LAT = np.broadcast_to(lat.values[:, None], (ny, nx))
    month = pd.DatetimeIndex(time.values).month.values.astype(float)
    tyear = (pd.DatetimeIndex(time.values).year.values + (month - 1) / 12.0)
    tau = (tyear - T_MID)[:, None, None]
    land = fields.land_mask(lat.values, lon.values).values
    grid = xr.Dataset(coords={"lat": lat, "lon": lon})
    seas = list(TRENDS)
    cov = np.stack([regions.mask(s, grid).values for s in seas])  # (sea, lat, lon)
    cov_sum = cov.sum(0)
    inside = cov_sum > 0
    w = np.where(inside, cov / np.where(inside, cov_sum, 1.0), 0.0)  # blend weights per pixel

    def blend(values, outside):
        v = np.asarray(values, dtype=np.float64)[:, None, None]
        return np.where(inside, (w * v).sum(0), outside)

    r = {k: blend([TRENDS[s][i] for s in seas], 0.0) for i, k in enumerate(("sst", "par", "chl", "sdd"))}
    chl0 = blend([np.log10(BASE[s][0]) for s in seas], np.log10(0.15))
    kd0 = blend([np.log10(BASE[s][1]) for s in seas], np.log10(0.035))

    def smooth(name, sd, cells=10.0):
        """Spatially smooth noise, independent between months: white noise on a grid ``cells``
        times coarser, linearly interpolated (one ndimage.zoom call), unit variance x sd."""
        cy, cx = int(np.ceil(ny / cells)) + 1, int(np.ceil(nx / cells)) + 1
        coarse = fields.rng(seed, "eurasia-smooth", name).standard_normal((nt, cy, cx))
        f = ndimage.zoom(coarse, (1, ny / cy, nx / cx), order=1, grid_mode=True, mode="nearest")
        f = f[:, :ny, :nx]
        return sd * f / f.std()

    def pixel(name, sd):
        return sd * fields.rng(seed, "eurasia-pixel", name).standard_normal((nt, ny, nx))

    # --- noise-free climatology x trend ("clean") and observed fields -------------------------
    sst_clim = (29.0 - 0.33 * np.maximum(LAT - 5.0, 0.0))[None] + (0.5 + 0.12 * LAT)[None] * _season(month, 8.0)
    sst_clean = sst_clim + r["sst"][None] * tau
    sst = sst_clean + smooth("sst", 0.25) + pixel("sst", 0.1)

    par_clim = (48.0 - 0.35 * LAT)[None] * (1.0 + 0.006 * LAT[None] * _season(month, 6.5))
    par_clean = par_clim * (1.0 + r["par"][None] / 100.0 * tau)
    par = par_clean * (1.0 + smooth("par", 0.05) + pixel("par", 0.03))

    bloom = np.where(LAT >= 35.0, 1.0, -1.0)[None] * _season(month, 4.5)
    chl_clean = 10.0 ** (chl0[None] + 0.15 * bloom) * (1.0 + r["chl"][None] / 100.0 * tau)
    chl = chl_clean * 10.0 ** (smooth("chl", 0.1) + pixel("chl", 0.08))

    kd_clim = 10.0 ** kd0[None] * (1.0 + 0.2 * _season(month, 2.0))
    kd_clean = kd_clim / (1.0 + r["sdd"][None] / 100.0 * tau)
    kd = kd_clean * 10.0 ** (smooth("kd", 0.04) + pixel("kd", 0.03))

    clouds = fields.cloud_mask((nt, ny, nx), seed, (0.1, 0.45), 8.0, 0.3, "eurasia")
    landm = land[None]
    sst = np.where(landm, np.nan, sst)
    par = np.where(landm, np.nan, par)
    chl = np.where(landm | clouds, np.nan, chl)
    kd = np.where(landm | clouds, np.nan, kd)
    sdd = optics.sdd_from_kd490(kd, RRS_TR)
    sdd_clean = optics.sdd_from_kd490(kd_clean, RRS_TR)

    dims = ("time", "lat", "lon")
    coords = {"time": time, "lat": lat, "lon": lon}

    def product(name, data, title, **attrs):
        return fields.cf_dataset({name: fields.cf_var(data, dims, name, **attrs)}, coords,
                                 f"{title} (synthetic eurasia demo)", demo_signals="eurasia")

    out = {
        "global-sst-oisst-25km": product("sst", sst, "Sea surface temperature"),
        "global-par-modis-aqua-4km": product("par", par, "PAR"),
        "global-chl-modis-aqua-4km": product("chlor_a", chl, "Chlorophyll-a with cloud gaps"),
        "extra-kd490-modis-aqua-4km": product("Kd_490", kd, "Diffuse attenuation at 490 nm"),
        "extra-sdd-modis-aqua-4km": product(
            "sdd", sdd, "Secchi disk depth derived from Kd490",
            comment=f"Lee et al. 2015 with Kd_tr = Kd490, Rrs_tr = {RRS_TR} sr-1 "
                    "(satco2.science.optics.sdd_from_kd490)"),
    }

    # --- truth: regional slopes of the clean fields ------------------------------------------
    clean = {"sst": sst_clean, "par": par_clean, "chlor_a": chl_clean, "sdd": sdd_clean}
    coslat = np.cos(np.deg2rad(lat.values))[:, None]
    truth = {"description": "slopes of area-weighted regional means of the noise-free, gap-free "
                            "fields after removing the monthly climatology (numpy.polyfit)",
             "period": "2003-01..2014-12", "time_unit": "decimal year (month starts 1/12 apart)",
             "injected": {s: dict(zip(("sst_degC_per_yr", "par_pct_per_yr", "chl_pct_per_yr",
                                       "sdd_pct_per_yr"), TRENDS[s])) for s in seas},
             "seas": {}}
    for k, s in enumerate(seas):
        wk = cov[k] * coslat * (~land)
        if wk.sum() == 0:
            continue
        entry = {}
        for v, arr in clean.items():
            series = np.tensordot(arr, wk, axes=([1, 2], [0, 1])) / wk.sum()  # clean: no NaN
            anom = series - np.array([series[month == m].mean() for m in month])
            slope = float(np.polyfit(tyear, anom, 1)[0])
            mean = float(series.mean())
            entry[v] = {"slope": slope, "slope_pct": 100.0 * slope / abs(mean), "mean": mean,
                        "units": fields.CF[v]["units"] + " yr-1"}
        truth["seas"][s] = entry
    out["truth/trends"] = truth
    return out
