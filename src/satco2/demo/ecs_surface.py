"""Demo generator ``ecs_surface``: synthetic East China Sea surface fields with a known CO2 flux.

Products (footprint ``ecs``, monthly 2000-2014): SST, SSS, 10-m wind (two products: CCMP and a
SYNTHETIC ERA5 stand-in), chlorophyll with cloud gaps, PAR, atmospheric xCO2 (two REAL NOAA GML
records shipped in ``satco2/data``: the global marine-surface mean ``co2_mm_gl.txt`` and Mauna
Loa ``co2_mm_mlo.txt``) and sea-level pressure. The truth ``truth/flux`` is computed here,
on the generator side, with plain numpy (and the exact PyCO2SYS solve for the mixing term) so
that analysis code can be checked against it. See :data:`SIGNALS`.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..catalog.footprints import FOOTPRINTS
from ..science import mesaa
from . import fields

FOOTPRINT = "ecs"
VERSION = 2  # 2: the ERA5 wind stand-in and the Mauna Loa xCO2 record
PRODUCTS = (
    "global-sst-oisst-25km", "global-sss-smos-25km", "global-ssw-ccmp-25km",
    "global-chl-modis-aqua-4km", "global-par-modis-aqua-4km", "extra-xco2-noaa-gml",
    "extra-slp-ncep-reanalysis", "extra-ssw-era5-25km", "extra-xco2-noaa-mlo",
)
XCO2_FILE = Path(__file__).resolve().parent.parent / "data" / "co2_mm_gl.txt"
XCO2_MLO_FILE = Path(__file__).resolve().parent.parent / "data" / "co2_mm_mlo.txt"
#: the ERA5 stand-in: ERA5_SCALE x the CCMP wind + ERA5_OFFSET + its own smooth anomalies (sd, m s-1)
ERA5_SCALE, ERA5_OFFSET, ERA5_ANOMALY_SD = 0.92, 0.3, 0.4
MOUTH = (121.9, 31.4)  # Changjiang mouth, lon/lat degrees
MESAA_REGION = "ecs"
#: standard deviation (dex = log10 units) of the demo chlorophyll's log-normal pixel noise
CHL_PIXEL_NOISE_DEX = 0.15
K_PARAM = "W14"

SIGNALS = """
All fields are **synthetic** except the two xCO2 records (see below). Grid: footprint `ecs` (117-131 E, 21-35 N,
0.1 deg at scale 1), monthly 2000-01..2014-12; land (Natural Earth 1:50m) is NaN for ocean fields.

- **SST** (`global-sst-oisst-25km`, degC): annual mean 27.5 - 0.6 (lat - 21), seasonal amplitude
  2 + 0.55 (lat - 21) peaking mid-August, a +1.5 degC Kuroshio warm tongue along the shelf break
  (a band from 122 E 22 N to 130 E 31 N), 0.4 degC smooth anomalies; clipped to 8-30 degC.
- **SSS** (`global-sss-smos-25km`): 34.6 offshore, 33.0 on the shelf west of the Kuroshio, the
  Changjiang plume 34.6 - D exp(-r/L) from the mouth (121.9 E, 31.4 N) with D = 13 and an
  eastward/north-eastward extension in June-September (summer plume), D = 8 hugging the coast
  southward in October-May; floored at 21 (inside the validity range S 20-40 of the carbonic
  acid constants used by MeSAA).
- **Chlorophyll** (`global-chl-modis-aqua-4km`, mg m-3): 0.25 offshore, ~1 on the shelf, a
  summer bloom (up to ~6) along the plume front (S 24-31) in May-September, log-normal
  pixel noise (0.15 dex, independent per pixel and month); **cloud gaps** (30-70 % of pixels per
  month, cloud-shaped blobs) set to NaN.
- **PAR** (einstein m-2 d-1): 25-55 with season and latitude, +-10 % noise.
- **Wind** (`global-ssw-ccmp-25km`, U10, m s-1): 6.5 + 1.8 cos(season, max in January) (winter
  monsoon), +0.8 offshore, 0.6 m/s smooth anomalies; clipped to 2-14.
- **Second wind** (`extra-ssw-era5-25km`, U10, m s-1, a SYNTHETIC stand-in for ERA5 monthly
  means): 0.92 x the CCMP wind + 0.3, plus its own 0.4 m/s smooth anomalies (independent of
  CCMP's); clipped to 2-14. The 8 % lower slope and the offset are demo choices that make the two
  winds differ by a few tenths of m/s, not a measured ERA5 - CCMP difference. The truth uses CCMP.
- **SLP** (Pa): 101300 + 900 cos(season, max in January) + 300 (lat - 28)/7 in winter,
  60 Pa smooth anomalies.
- **xCO2** (`extra-xco2-noaa-gml`, ppm): REAL NOAA GML global marine-surface monthly means
  (Dlugokencky & Tans, NOAA/GML, `co2_mm_gl.txt`, see its PROVENANCE.md), broadcast over the grid.
  **Second xCO2** (`extra-xco2-noaa-mlo`, ppm): REAL Mauna Loa monthly means (NOAA GML and SIO,
  `co2_mm_mlo.txt`, see its PROVENANCE.md), broadcast the same way; over 2000-2014 it lies on average 1.05 ppm above the marine-surface
  mean (monthly differences -1.2 to +3.7 ppm: the seasonal cycles differ). The truth uses the
  marine-surface record.
- **Injected flux field (truth)** `truth/flux.zarr`: `pco2sw` = MeSAA with the default ECS
  configuration (catalogs/mesaa/ecs.yaml) applied to the *cloud-free* SST, SSS and Chl,
  the mixing term solved exactly per pixel with PyCO2SYS; `pco2air` = xCO2 (SLP - pH2O)
  (Weiss & Price 1980); `dpco2` = pco2sw - pco2air; `flux` = k K0 dpco2 in mmol C m-2 d-1 with
  k of Wanninkhof (2014) and K0 of Weiss (1974), all in plain numpy in this module (an
  independent implementation of satco2.science.gas_exchange). Analysis of the products should
  reproduce it wherever Chl is not cloudy.
"""


def fingerprint(scale: int, seed: int) -> str:
    """The truth depends on the MeSAA configuration: rebuild when it changes."""
    p = mesaa.config_dir() / f"{MESAA_REGION}.yaml"
    return hashlib.sha256(p.read_bytes()).hexdigest()[:16]


def read_noaa_monthly(path: Path = XCO2_FILE) -> pd.Series:
    """NOAA GML monthly CO2 text file (``#`` comments; year, month, decimal, average, ...) as a
    Series of the monthly average (ppm) indexed by month start."""
    rows = []
    for line in Path(path).read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        rows.append((int(parts[0]), int(parts[1]), float(parts[3])))
    df = pd.DataFrame(rows, columns=["year", "month", "xco2"])
    idx = pd.to_datetime(dict(year=df.year, month=df.month, day=1))
    s = pd.Series(df.xco2.values, index=idx, name="xco2")
    return s[s > 0]


def _band_distance(lon, lat, p0, p1):
    """Distance (degrees) of points to the segment p0-p1."""
    x0, y0 = p0
    dx, dy = p1[0] - x0, p1[1] - y0
    t = np.clip(((lon - x0) * dx + (lat - y0) * dy) / (dx * dx + dy * dy), 0, 1)
    return np.hypot(lon - (x0 + t * dx), lat - (y0 + t * dy))


# --- plain-numpy gas exchange for the truth (independent of satco2.science.gas_exchange) ---------
def _truth_flux(pco2sw, sst, sss, u10, xco2, slp):
    T = sst + 273.15
    ph2o = np.exp(24.4543 - 67.4509 * (100 / T) - 4.8489 * np.log(T / 100) - 0.000544 * sss)
    pco2air = xco2 * (slp / 101325.0 - ph2o)
    k0 = np.exp(-58.0931 + 90.5069 * (100 / T) + 22.2940 * np.log(T / 100)
                + sss * (0.027766 - 0.025888 * (T / 100) + 0.0050578 * (T / 100) ** 2))
    sc = 2116.8 - 136.25 * sst + 4.7353 * sst**2 - 0.092307 * sst**3 + 0.0007555 * sst**4
    k_cm_h = 0.251 * u10**2 * np.sqrt(660.0 / sc)
    dpco2 = pco2sw - pco2air
    flux = k_cm_h * 0.24 * k0 * dpco2  # m d-1 * mol L-1 atm-1 * µatm = mmol m-2 d-1
    return pco2air, dpco2, flux


def chl_pixel_noise(scale: int = 1, seed: int = 0) -> xr.DataArray:
    """log10 of the chlorophyll's multiplicative pixel noise (dex; N(0, CHL_PIXEL_NOISE_DEX^2),
    independent per pixel and month) on the footprint grid, exactly as :func:`build` draws it.

    With the store's ``demo_seed`` and ``demo_scale`` attributes, ``log10(chlor_a) - noise`` is the
    noise-free demo chlorophyll: the reference against which a gap filler's noise floor is measured
    (docs/gapfill.md)."""
    c = FOOTPRINTS[FOOTPRINT].coords(scale)
    shape = (c["time"].size, c["lat"].size, c["lon"].size)
    z = fields.rng(seed, "ecs_surface", "chl").standard_normal(shape)
    return xr.DataArray(CHL_PIXEL_NOISE_DEX * z, coords=c, dims=("time", "lat", "lon"),
                        attrs={"units": "dex", "long_name": "log10 of the chlorophyll pixel noise"})


def build(scale: int = 1, seed: int = 0) -> dict[str, xr.Dataset]:
    fp = FOOTPRINTS[FOOTPRINT]
    c = fp.coords(scale)
    time, lat, lon = c["time"], c["lat"], c["lon"]
    nt, ny, nx = time.size, lat.size, lon.size
    LON, LAT = np.meshgrid(lon.values, lat.values)
    month = pd.DatetimeIndex(time.values).month.values.astype(float)
    season = np.cos(2 * np.pi * (month - 8.0) / 12.0)[:, None, None]  # +1 mid-August
    winter = np.cos(2 * np.pi * (month - 1.0) / 12.0)[:, None, None]  # +1 January
    summer = ((month >= 6) & (month <= 9))[:, None, None]
    bloom = ((month >= 5) & (month <= 9))[:, None, None]
    land = fields.land_mask(lat.values, lon.values).values
    cc = 15.0 * scale  # correlation length in cells (~1.5 degrees)

    def anomalies(name, sd):
        return sd * fields.smooth_series(nt, (ny, nx), seed, cc, 0.5, "ecs_surface", name)

    kuro = np.exp(-(_band_distance(LON, LAT, (122.0, 22.0), (130.0, 31.0)) / 0.8) ** 2)
    shelf = np.clip((_band_distance(LON, LAT, (122.0, 22.0), (130.0, 31.0)) / 2.0), 0, 1) * (
        (LAT - 21) > (LON - 121) * 1.1)  # west/north of the Kuroshio axis
    # SST
    tm = 27.5 - 0.6 * (LAT - 21)
    amp = 2 + 0.55 * (LAT - 21)
    sst = tm + amp * season + 1.5 * kuro + anomalies("sst", 0.4)
    sst = np.clip(sst, 8.0, 30.0)
    # SSS
    dx, dy = LON - MOUTH[0], LAT - MOUTH[1]
    r_summer = np.hypot(dx / 2.2, (dy - 0.35 * dx) / 1.0)  # long axis east/north-east
    r_summer = np.where(dx < -0.3, np.inf, r_summer)
    r_winter = np.hypot((dx - 0.35 * dy) / 0.5, dy / 2.5)  # along the coast southward
    r_winter = np.where(dy > 0.5, np.inf, r_winter)
    base_s = 34.6 - 1.6 * shelf
    plume = np.where(summer, 13.0 * np.exp(-r_summer), 8.0 * np.exp(-r_winter))
    sss = np.maximum(base_s - plume + anomalies("sss", 0.15), 21.0)
    # chlorophyll (cloud-free "true" field and the gappy product)
    front = np.exp(-(((sss - 27.5) / 2.5) ** 2))
    chl_true = (0.25 + 0.8 * shelf) * (1 + 1.5 * front) + np.where(bloom, 4.5 * front, 0.0)
    chl_true = chl_true * 10 ** chl_pixel_noise(scale, seed).values
    clouds = fields.cloud_mask((nt, ny, nx), seed, (0.3, 0.7), 12.0 * scale, 0.3, "ecs_surface")
    chl = np.where(clouds, np.nan, chl_true)
    # PAR, wind, SLP, xCO2
    par = (40 + 12 * season - 0.4 * (LAT - 28)) * (
        1 + 0.1 * fields.rng(seed, "ecs_surface", "par").uniform(-1, 1, (nt, ny, nx)))
    wind = np.clip(6.5 + 1.8 * winter + 0.8 * (1 - shelf) + anomalies("wind", 0.6), 2.0, 14.0)
    slp = (101300 + 900 * winter + 300 * (LAT - 28) / 7 * np.maximum(winter, 0)
           + anomalies("slp", 60.0))
    era5 = np.clip(ERA5_SCALE * wind + ERA5_OFFSET + anomalies("wind_era5", ERA5_ANOMALY_SD), 2.0, 14.0)

    def record(path):
        x = read_noaa_monthly(path).reindex(pd.DatetimeIndex(time.values)).values
        if np.isnan(x).any():
            raise ValueError(f"the NOAA GML record {path.name} does not cover the ecs footprint's period")
        return np.broadcast_to(x[:, None, None], (nt, ny, nx))

    xco2, xco2_mlo = record(XCO2_FILE), record(XCO2_MLO_FILE)

    ocean = ~land
    sst, sss, chl, chl_true, par = (np.where(ocean, a, np.nan) for a in (sst, sss, chl, chl_true, par))

    # truth: MeSAA (exact PyCO2SYS mixing term) + plain-numpy air-sea exchange
    cfg = mesaa.load_config(MESAA_REGION)
    pmix = np.full((nt, ny, nx), np.nan)
    idx = np.flatnonzero(np.isfinite(sst))
    for lo in range(0, idx.size, 500_000):  # bounded memory for PyCO2SYS's intermediate arrays
        part = idx[lo:lo + 500_000]
        pmix.flat[part] = mesaa.pco2_mix_exact(sst.flat[part], sss.flat[part], cfg)
    a, b = cfg.bio_coefficients["a"], cfg.bio_coefficients["b"]
    if cfg.bio_form != "log10":
        raise ValueError("the ecs_surface truth implements the log10 bio term of the ECS config")
    pco2sw = pmix + (a + b * np.log10(chl_true))
    pco2air, dpco2, flux = _truth_flux(pco2sw, sst, sss, wind, xco2, slp)

    coords = {"time": time, "lat": lat, "lon": lon}
    dims = ("time", "lat", "lon")
    common = dict(region="East China Sea demo footprint", source="satco2.demo.ecs_surface")

    def product(name, data, title, **attrs):
        return fields.cf_dataset({name: fields.cf_var(data, dims, name, **attrs)}, coords,
                                 title=f"{title} (synthetic demo)", **common)

    out = {
        "global-sst-oisst-25km": product("sst", sst, "Sea surface temperature"),
        "global-sss-smos-25km": product("sss", sss, "Sea surface salinity"),
        "global-ssw-ccmp-25km": product("wind_speed", wind, "10-m wind speed"),
        "extra-ssw-era5-25km": product("wind_speed", era5, "10-m wind speed, ERA5 stand-in (0.92 x CCMP "
                                        "+ 0.3 + own anomalies)"),
        "global-chl-modis-aqua-4km": product("chlor_a", chl, "Chlorophyll-a with cloud gaps"),
        "global-par-modis-aqua-4km": product("par", par, "PAR"),
        "extra-slp-ncep-reanalysis": product("slp", slp, "Sea-level pressure"),
    }
    xds = product("xco2", xco2, "Atmospheric CO2 (REAL NOAA GML global marine-surface monthly means)")
    xds.attrs.update(synthetic="no: values are the NOAA GML record, broadcast over the grid",
                     references="Dlugokencky, E. and Tans, P., NOAA/GML (gml.noaa.gov/ccgg/trends/)",
                     source="satco2/data/co2_mm_gl.txt (see co2_mm_gl.PROVENANCE.md)")
    out["extra-xco2-noaa-gml"] = xds
    mds = product("xco2", xco2_mlo, "Atmospheric CO2 (REAL NOAA GML Mauna Loa monthly means)")
    mds.attrs.update(synthetic="no: values are the NOAA GML Mauna Loa record, broadcast over the grid",
                     references="NOAA GML and Scripps (C. D. Keeling), gml.noaa.gov/ccgg/trends/",
                     source="satco2/data/co2_mm_mlo.txt (see co2_mm_mlo.PROVENANCE.md)")
    out["extra-xco2-noaa-mlo"] = mds
    uatm = {"units": "uatm"}
    truth = xr.Dataset(
        {
            "pco2sw": fields.cf_var(pco2sw, dims, long_name="true sea-surface pCO2 (MeSAA, exact)", **uatm),
            "pco2air": fields.cf_var(pco2air, dims, long_name="true atmospheric pCO2 at the sea surface", **uatm),
            "dpco2": fields.cf_var(dpco2, dims, long_name="true pCO2 sea - air", **uatm),
            "flux": fields.cf_var(flux, dims, long_name="true air-sea CO2 flux (positive to the air)",
                                  units="mmol m-2 d-1"),
            "chlor_a": fields.cf_var(chl_true, dims, "chlor_a", long_name="cloud-free chlorophyll"),
        },
        coords=coords,
    )
    truth.attrs.update(title="Injected CO2 flux field of the ecs_surface demo (truth)",
                       k_param=K_PARAM, mesaa_region=MESAA_REGION, synthetic="yes",
                       comment=" ".join(SIGNALS.split("**Injected flux field (truth)**")[1].split()))
    out["truth/flux"] = truth
    return out
