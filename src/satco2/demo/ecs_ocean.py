"""Demo generator ``ecs_ocean``: synthetic ECS bathymetry, 3-D currents with KNOWN section
transports, CDOM a443 (from a prescribed surface DOC field), Kd490 and NPP.

The currents come from a depth-integrated transport streamfunction on the cell corners, so the
flow is non-divergent on the C-grid and the transport between two corners is the streamfunction
difference (see :func:`satco2.science.transport.streamfunction_fluxes`). The truth
``truth/doc_transport.json`` holds, per section of ``catalogs/doc/sections.yaml``, the monthly
volume (Sv) and DOC (Tg C a-1) transports computed from the exact face transports, with the DOC
field the default analysis chain derives from the a443 product (``linear_ag443`` + ``auto``
profile model). See :data:`SIGNALS`.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import xarray as xr

from ..catalog.footprints import FOOTPRINTS
from ..science import doc as docalg
from ..science import profiles, transport
from . import fields

FOOTPRINT = "ecs"
VERSION = 1
PRODUCTS = ("extra-bathymetry-demo", "extra-currents-ecs-model", "global-acd-modis-aqua-4km",
            "extra-kd490-modis-aqua-4km", "global-npp-modis-vgpm-9km")
CURRENT_STEP = 0.2  # degrees at scale 1 (a model grid coarser than the 0.1 deg satellite grid)
DEPTH_BNDS = np.array([[0, 5], [5, 15], [15, 25], [25, 40], [40, 60], [60, 90], [90, 125], [125, 175],
                       [175, 250], [250, 400], [400, 700], [700, 1200]], float)
VELOCITY_SCALE_DEPTH = 400.0  # m, e-folding depth of the velocity profile shape

# simplified analytic coastline of mainland China (lat -> lon), degrees
_COAST = np.array([[21.0, 112.0], [23.0, 116.5], [23.5, 117.0], [24.5, 118.2], [25.5, 119.5], [26.5, 119.8],
                   [27.5, 120.6], [28.5, 121.5], [29.5, 122.0], [30.5, 121.9], [31.0, 121.8], [31.7, 121.9],
                   [32.5, 120.9], [33.5, 120.4], [34.5, 119.6], [35.0, 119.3]])
# Kuroshio axis (lat -> lon); the 200 m isobath lies 0.75 deg west of it
_KUROSHIO = np.array([[21.0, 122.4], [25.0, 122.4], [25.5, 122.7], [26.5, 123.6], [28.0, 125.2], [29.0, 126.2],
                      [30.0, 127.3], [31.0, 128.2], [32.0, 128.9], [35.0, 130.3]])
TAIWAN = (120.95, 23.65, 0.6, 1.55)  # ellipse centre lon, lat, semi-axes (deg)
SHELF_OFFSET = 1.0
MOUTH = (122.2, 31.4)

SIGNALS = """
All fields are **synthetic**. Footprint `ecs` (117-131 E, 21-35 N), monthly 2000-01..2014-12.
Land is a simplified analytic geometry: mainland China west of a piecewise-linear coastline and
Taiwan as an ellipse (120.95 E, 23.65 N, semi-axes 0.6 x 1.55 deg); Korea, Japan, the Ryukyus and
small islands are **omitted** (open water), unlike the Natural Earth land of `ecs_surface`.

- **Bathymetry** (`extra-bathymetry-demo`, m, 0.1 deg): shelf 15 m at the coast deepening to 200 m
  at the shelf break, which lies 1 deg west of the Kuroshio axis (122.4 E east of Taiwan, then
  north-east to 128.9 E at 32 N); beyond it 200 + 1000 tanh(distance / 1 deg), at most 1200 m.
- **Currents** (`extra-currents-ecs-model`, u/v m s-1, 0.2 deg model grid, 12 z levels 0-1200 m
  with `depth_bnds`, plus `sea_floor_depth`): from a transport streamfunction that is a sum of
  smooth ramps (exactly flat on land) placed relative to the coast and the Kuroshio axis:
  Zhe-Min coastal current (southward, -0.35 Sv x max(0, cos(season)) - winter only), Taiwan Warm
  Current (northward, 1.3 + 0.6 cos(season, max in July) Sv, x (1 + 0.1 sin(2 pi (year-2000)/7));
  1.1 deg off the coast in the strait, moving to the ~100 m mid shelf north of 28 N),
  the Kuroshio (25 + 3 cos Sv, offshore of the 200 m isobath) and a Kuroshio onshore branch
  (0.75 + 0.25 cos(season, max in January) Sv) that leaves the Kuroshio and crosses the 200 m
  isobath between 25.8 and 26.7 N (centred at 26.25 N), then flows north on the outer shelf and leaves across 32 N
  over the 100-200 m shelf. Velocity profile shape exp(-z / 400 m). Stored at cell centres (the
  mean of the two C-grid face velocities of each cell); the exact face transports are the truth.
- **CDOM** (`global-acd-modis-aqua-4km`, a_cdom_443, m-1): the inverse of the default
  `linear_ag443` DOC algorithm (catalogs/doc/algorithms.yaml) applied to a prescribed surface DOC:
  74.5 umol/L background + 20 exp(-coast distance / 0.6 deg) + a Changjiang plume of 45 umol/L from
  the mouth (122.2 E, 31.4 N) spreading north-east in summer and south along the coast in winter,
  + 2.5 umol/L seasonal (max in August) + 2 umol/L seeded smooth noise.
- **Kd490** (m-1): 0.03 + 1.5 a443 + 0.005 noise; **NPP** (mg C m-2 d-1): 300 + 900 a443 with a
  summer maximum (x (1 + 0.5 cos(season, max July))). No other signal.
- **Truth** `truth/doc_transport.json`: per section (Taiwan Strait at 24.6 N, the 200 m isobath
  25.4-32 N, 32 N coast to the isobath) the monthly volume (Sv) and DOC (Tg C a-1) transports
  from the exact face transports and the 3-D DOC that the default chain gives (linear_ag443 on
  a443 coarsened to the current grid, `auto` profile model, climatological MLD); also annual and
  seasonal means and the exact streamfunction differences of the volume transports. The
  published values (30.65, 18.75, -52.75 Tg C/a) are listed beside them; the demo is built to be
  of the same order, not equal.
- Not injected: the three west-to-east DOC transport belts of the publication.
"""


# ----------------------------------------------------------------------------- geometry

def coast_lon(lat):
    return np.interp(lat, _COAST[:, 0], _COAST[:, 1])


def kuroshio_lon(lat):
    return np.interp(lat, _KUROSHIO[:, 0], _KUROSHIO[:, 1])


def shelf_edge_lon(lat):
    return kuroshio_lon(lat) - SHELF_OFFSET


def is_land(lon2, lat2):
    x0, y0, a, b = TAIWAN
    taiwan = ((lon2 - x0) / a) ** 2 + ((lat2 - y0) / b) ** 2 <= 1.0
    return (lon2 < coast_lon(lat2)) | taiwan


def bathymetry(lon2, lat2):
    """Sea floor depth (m, NaN on land)."""
    c = coast_lon(lat2)
    e = shelf_edge_lon(lat2)
    frac = np.clip((lon2 - c) / (e - c), 0.0, 1.0)
    shelf = 15.0 + 185.0 * frac ** 1.3
    deep = 200.0 + 1000.0 * np.tanh(np.clip(lon2 - e, 0, None) / 1.0)
    h = np.where(lon2 < e, shelf, deep)
    return np.where(is_land(lon2, lat2), np.nan, np.minimum(h, 1200.0))


def _ramp(x):
    """C1 smooth step: 0 for x <= -1, 1 for x >= 1."""
    x = np.clip(x, -1.0, 1.0)
    return 0.5 + 0.75 * x - 0.25 * x ** 3


def transports(time: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """The injected current transports (Sv) per month."""
    m = time.month.values
    ph = 2 * np.pi * (m - 1) / 12.0
    year = time.year.values + (m - 1) / 12.0
    return {
        "zhe_min": -0.35 * np.maximum(0.0, np.cos(ph)),
        "taiwan_warm": (1.3 + 0.6 * np.cos(2 * np.pi * (m - 7) / 12.0)) * (1 + 0.1 * np.sin(2 * np.pi * (year - 2000) / 7)),
        "kuroshio_onshore": 0.75 + 0.25 * np.cos(ph),
        "kuroshio": 25.0 + 3.0 * np.cos(2 * np.pi * (m - 7) / 12.0),
    }


def streamfunction(lon2, lat2, T: dict[str, np.ndarray]) -> np.ndarray:
    """Transport streamfunction (m3 s-1) at points (lon2, lat2) for each month: (time, ...)."""
    c = coast_lon(lat2)
    k = kuroshio_lon(lat2)
    e = k - SHELF_OFFSET
    # onshore branch: with the Kuroshio south of 25.9 N, on the outer shelf north of 26.6 N
    w = _ramp((lat2 - 26.25) / 0.45)
    c_int = (1 - w) * k + w * (e - 1.0)
    shapes = {
        "zhe_min": _ramp((lon2 - (c + 0.55)) / 0.25),
        "taiwan_warm": _ramp((lon2 - (c + 1.1 + 2.6 * _ramp((lat2 - 29.5) / 2.0))) / 0.45),
        "kuroshio_onshore": _ramp((lon2 - c_int) / 0.45),
        "kuroshio": _ramp((lon2 - k) / 0.7),
    }
    return sum(T[n][:, None, None] * 1e6 * shapes[n][None] for n in shapes)


# ----------------------------------------------------------------------------- surface DOC

def surface_doc(lon2, lat2, time: pd.DatetimeIndex, seed: int) -> np.ndarray:
    """Prescribed surface DOC (umol L-1), (time, lat, lon), NaN on land."""
    m = time.month.values[:, None, None]
    s = 0.5 * (1 - np.cos(2 * np.pi * (m - 1) / 12.0))  # 0 in January, 1 in July
    dist = np.clip(lon2 - coast_lon(lat2), 0.0, None)
    lonp = MOUTH[0] + 1.3 * s
    latp = MOUTH[1] + 0.6 * s - 1.2 * (1 - s)
    sx = 0.6 + 0.9 * s
    sy = 0.5 + 1.0 * (1 - s)
    plume = np.exp(-(((lon2 - lonp) / sx) ** 2) - ((lat2 - latp) / sy) ** 2)
    seasonal = 2.5 * np.cos(2 * np.pi * (m - 8) / 12.0)
    noise = fields.smooth_field(lon2.shape, seed, 15.0, "ecs_ocean_doc")
    doc = 72.0 + 2.5 + 20.0 * np.exp(-dist / 0.6) + 45.0 * plume + seasonal + 2.0 * np.clip(noise, -1.2, 3)[None]
    return np.where(is_land(lon2, lat2)[None], np.nan, doc)


# ----------------------------------------------------------------------------- build

def model_grid(scale: int = 1):
    fp = dataclasses.replace(FOOTPRINTS[FOOTPRINT], step=CURRENT_STEP)
    return fp.coords(scale)


def build(scale: int = 1, seed: int = 0) -> dict:
    fp = FOOTPRINTS[FOOTPRINT]
    c = fp.coords(scale)
    time = pd.DatetimeIndex(c["time"].values)
    lon2, lat2 = np.meshgrid(c["lon"].values, c["lat"].values)
    depth = bathymetry(lon2, lat2)

    # surface products on the 0.1 deg grid
    doc_s = surface_doc(lon2, lat2, time, seed)
    cfg = docalg.load_config()["linear_ag443"]
    a443 = (doc_s - cfg["a"]) / cfg["b"]
    r = fields.rng(seed, "ecs_ocean")
    kd = 0.03 + 1.5 * a443 + 0.005 * r.standard_normal(a443.shape)
    ph = 2 * np.pi * (time.month.values[:, None, None] - 7) / 12.0
    npp = (300.0 + 900.0 * a443) * (1 + 0.5 * np.cos(ph))
    sdims = ("time", "lat", "lon")
    coords = {"time": c["time"], "lat": c["lat"], "lon": c["lon"]}
    out = {
        "extra-bathymetry-demo": fields.cf_dataset(
            {"depth": fields.cf_var(depth, ("lat", "lon"), "depth")}, {"lat": c["lat"], "lon": c["lon"]},
            "Synthetic ECS bathymetry (demo)"),
        "global-acd-modis-aqua-4km": fields.cf_dataset(
            {"a_cdom_443": fields.cf_var(a443, sdims, "a_cdom_443")}, coords, "Synthetic CDOM a443 (demo)"),
        "extra-kd490-modis-aqua-4km": fields.cf_dataset(
            {"Kd_490": fields.cf_var(np.clip(kd, 0.02, None), sdims, "Kd_490")}, coords, "Synthetic Kd490 (demo)"),
        "global-npp-modis-vgpm-9km": fields.cf_dataset(
            {"npp": fields.cf_var(npp, sdims, "npp")}, coords, "Synthetic NPP (demo)"),
    }

    # currents on the model grid
    mc = model_grid(scale)
    mlon, mlat = mc["lon"].values, mc["lat"].values
    m2lon, m2lat = np.meshgrid(mlon, mlat)
    bottom = bathymetry(m2lon, m2lat).astype(np.float32).astype(float)
    zb = DEPTH_BNDS
    z = zb.mean(1)
    hh = np.clip(np.minimum(zb[:, 1, None, None], np.where(np.isfinite(bottom), bottom, 0.0)[None]) - zb[:, 0, None, None], 0, None)
    grid = transport.Grid(mlon, mlat, z, zb, hh, bottom)
    clon, clat = np.meshgrid(grid.lon_f, grid.lat_f)
    T = transports(time)
    psi = xr.DataArray(streamfunction(clon, clat, T), dims=("time", "lat_f", "lon_f"),
                       coords={"time": c["time"].values})

    # DOC as the default analysis chain sees it: a443 (float32) -> linear_ag443 -> model grid -> auto profile
    # the synthetic a443 extends beyond the line's calibration range on purpose: no domain warning
    surf = docalg.surface_doc(out["global-acd-modis-aqua-4km"].astype(float), "linear_ag443", check_domain=False)
    surf_m = transport.to_grid(surf, mlat, mlon)
    bottom_da = xr.DataArray(bottom, dims=("lat", "lon"), coords={"lat": mlat, "lon": mlon})
    doc3 = profiles.doc_profile(surf_m, z, bottom_da, model="auto", depth_bnds=zb)

    phi = np.exp(-z / VELOCITY_SCALE_DEPTH)
    ff = transport.streamfunction_fluxes(grid, psi, profile=phi, doc=doc3)
    u, v = transport.centre_velocity(ff)
    cdims = ("time", "depth", "lat", "lon")
    ccoords = {"time": c["time"], "lat": mc["lat"], "lon": mc["lon"],
               "depth": xr.DataArray(z, dims="depth", attrs={"standard_name": "depth", "units": "m", "positive": "down",
                                                             "axis": "Z", "bounds": "depth_bnds"})}
    cur = fields.cf_dataset(
        {"u": fields.cf_var(u.values, cdims, "u"), "v": fields.cf_var(v.values, cdims, "v"),
         "sea_floor_depth": fields.cf_var(bottom, ("lat", "lon"), "depth"),
         "depth_bnds": xr.DataArray(zb, dims=("depth", "nv"), attrs={"units": "m"})},
        ccoords, "Synthetic ECS 3-D currents from a transport streamfunction (demo)",
        grid_note="A-grid (cell-centre) velocities; cell centres every %.3g deg" % (CURRENT_STEP / scale))
    out["extra-currents-ecs-model"] = cur
    out["truth/doc_transport"] = _truth(grid, ff, psi, T, time)
    return out


def _truth(grid, ff, psi, T, time) -> dict:
    secs = transport.load_sections()
    res = {"description": "section transports of the ecs_ocean demo from the exact C-grid face transports",
           "time": [t.strftime("%Y-%m") for t in time], "transports_sv": {k: np.round(v, 6).tolist() for k, v in T.items()},
           "sections": {}}
    for name, sec in secs.items():
        st = transport.totals(transport.section_transport(ff, sec))
        vol = st["volume"].values
        docf = st["doc"].values
        season = transport.seasonal(st)
        res["sections"][name] = {
            "volume_sv": np.round(vol, 6).tolist(),
            "doc_tgc_per_year": np.round(docf, 6).tolist(),
            "annual_mean": {"volume_sv": round(float(vol.mean()), 6), "doc_tgc_per_year": round(float(docf.mean()), 6)},
            "seasonal": {s: {"volume_sv": round(float(season["volume"].sel(season=s)), 6),
                             "doc_tgc_per_year": round(float(season["doc"].sel(season=s)), 6)}
                         for s in season.season.values},
            "published_tgc_per_year": sec.published, "source": sec.source, "sign": sec.sign,
        }
    # exact streamfunction expectations of the volume transports
    ts = T["zhe_min"] + T["taiwan_warm"]
    res["sections"]["taiwan_strait"]["expected_volume_sv"] = np.round(ts, 6).tolist()
    res["sections"]["kuroshio_200m"]["expected_volume_sv"] = np.round(T["kuroshio_onshore"], 6).tolist()
    res["sections"]["north_32n"]["expected_volume_sv"] = np.round(-(ts + T["kuroshio_onshore"]), 6).tolist()
    return res
