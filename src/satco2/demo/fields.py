"""Shared helpers of the demo generators: seeded smooth fields, cloud gaps, land mask, CF attributes.

Everything here is synthetic and deterministic for a given ``seed``.

- :func:`smooth_field` - a smooth random field (2D or 3D): Gaussian noise on a coarse grid,
  interpolated (cubic spline) to the target grid, normalised to zero mean and unit variance.
- :func:`smooth_series` - a stack of smooth 2D fields that evolves in time (AR(1) in time).
- :func:`cloud_mask` - cloud-shaped gap masks: spatially correlated blobs, varying in time, with a
  cloud fraction per time step drawn in ``fraction`` (default 30-70 %).
- :func:`land_polygons`, :func:`land_mask` - Natural Earth 1:50m land polygons shipped in
  ``satco2/data/ne_50m_land.geojson``, rasterised on a lon/lat grid (cell centres).
- :func:`cf_var`, :func:`cf_dataset`, :data:`CF` - CF attribute helpers.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import xarray as xr
from scipy import ndimage

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
LAND_FILE = DATA_DIR / "ne_50m_land.geojson"


def rng(seed: int, *salt) -> np.random.Generator:
    """A numpy Generator seeded from ``seed`` and any extra ints/strings (stable across runs)."""
    words = [int(seed) & 0xFFFFFFFF]
    for s in salt:
        if isinstance(s, str):
            words.append(int.from_bytes(s.encode()[:16].ljust(16, b"\0")[:4], "little"))
            words.append(sum(s.encode()) & 0xFFFFFFFF)
        else:
            words.append(int(s) & 0xFFFFFFFF)
    return np.random.default_rng(np.random.SeedSequence(words))


def _zoom_to(coarse: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    factors = [n / c for n, c in zip(shape, coarse.shape)]
    out = ndimage.zoom(coarse, factors, order=3, mode="reflect", grid_mode=True)
    # zoom may be off by one in a dimension: crop or pad to the exact shape
    sl = tuple(slice(0, n) for n in shape)
    out = out[sl]
    pad = [(0, n - s) for n, s in zip(shape, out.shape)]
    if any(p[1] for p in pad):
        out = np.pad(out, pad, mode="edge")
    return out


def smooth_field(
    shape: tuple[int, ...], seed: int, correlation_cells: float | tuple[float, ...] = 20.0, *salt
) -> np.ndarray:
    """A smooth random field of ``shape``, zero mean, unit standard deviation (float64).

    ``correlation_cells`` is the typical feature size in grid cells, per dimension or for all;
    the field is white noise on a grid ``shape / correlation_cells`` (at least 2 per dimension)
    interpolated with cubic splines.
    """
    if np.isscalar(correlation_cells):
        correlation_cells = (float(correlation_cells),) * len(shape)
    coarse_shape = tuple(max(2, int(np.ceil(n / c)) + 1) for n, c in zip(shape, correlation_cells))
    coarse = rng(seed, "smooth", *salt).standard_normal(coarse_shape)
    f = _zoom_to(coarse, tuple(shape))
    f -= f.mean()
    sd = f.std()
    return f / sd if sd > 0 else f


def smooth_series(
    nt: int, shape2d: tuple[int, int], seed: int, correlation_cells: float = 20.0,
    persistence: float = 0.5, *salt,
) -> np.ndarray:
    """``nt`` smooth 2D fields (nt, ny, nx) with lag-1 correlation ``persistence`` in time."""
    out = np.empty((nt, *shape2d))
    prev = smooth_field(shape2d, seed, correlation_cells, "series", 0, *salt)
    out[0] = prev
    a = float(persistence)
    for t in range(1, nt):
        new = smooth_field(shape2d, seed, correlation_cells, "series", t, *salt)
        prev = a * prev + np.sqrt(1 - a * a) * new
        out[t] = prev
    return out


def cloud_mask(
    shape: tuple[int, int, int], seed: int, fraction: tuple[float, float] = (0.3, 0.7),
    correlation_cells: float = 12.0, persistence: float = 0.3, *salt,
) -> np.ndarray:
    """Cloud-shaped gaps: boolean array (nt, ny, nx), True where the pixel is cloudy (missing).

    Each time step thresholds a smooth random field (spatially correlated blobs of
    ``correlation_cells`` cells, with lag-1 correlation ``persistence`` between steps) at the
    quantile that gives a cloud fraction drawn uniformly in ``fraction``.
    """
    nt, ny, nx = shape
    fields = smooth_series(nt, (ny, nx), seed, correlation_cells, persistence, "cloud", *salt)
    fr = rng(seed, "cloudfrac", *salt).uniform(fraction[0], fraction[1], size=nt)
    mask = np.empty(shape, dtype=bool)
    for t in range(nt):
        thr = np.quantile(fields[t], 1.0 - fr[t])
        mask[t] = fields[t] > thr
    return mask


# --------------------------------------------------------------------------- land
@functools.lru_cache(maxsize=1)
def land_polygons() -> tuple:
    """The Natural Earth 1:50m land polygons as a tuple of shapely Polygons (lon/lat degrees)."""
    import shapely.geometry

    with open(LAND_FILE) as f:
        gj = json.load(f)
    polys = []
    for feat in gj["features"]:
        geom = shapely.geometry.shape(feat["geometry"])
        polys.extend(getattr(geom, "geoms", [geom]))
    return tuple(polys)


def _land_mask_np(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    import shapely

    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    lon180 = ((lon + 180.0) % 360.0) - 180.0
    mask = np.zeros((lat.size, lon.size), dtype=bool)
    for poly in land_polygons():
        x0, y0, x1, y1 = poly.bounds
        iy = np.nonzero((lat >= y0) & (lat <= y1))[0]
        ix = np.nonzero((lon180 >= x0) & (lon180 <= x1))[0]
        if iy.size == 0 or ix.size == 0:
            continue
        shapely.prepare(poly)
        X, Y = np.meshgrid(lon180[ix], lat[iy])
        inside = shapely.contains_xy(poly, X, Y)
        mask[np.ix_(iy, ix)] |= inside
    return mask


@functools.lru_cache(maxsize=16)
def _land_mask_cached(lat_key: bytes, lon_key: bytes) -> np.ndarray:
    return _land_mask_np(np.frombuffer(lat_key), np.frombuffer(lon_key))


def land_mask(lat, lon) -> xr.DataArray:
    """Boolean (lat, lon) DataArray: True where the cell centre lies on Natural Earth 50 m land.

    ``lat``/``lon`` are 1D cell-centre coordinates in degrees (lon in -180..180 or 0..360).
    """
    lat_a = np.ascontiguousarray(np.asarray(lat, dtype=np.float64))
    lon_a = np.ascontiguousarray(np.asarray(lon, dtype=np.float64))
    m = _land_mask_cached(lat_a.tobytes(), lon_a.tobytes()).copy()
    return xr.DataArray(
        m, dims=("lat", "lon"), coords={"lat": lat_a, "lon": lon_a},
        attrs={"long_name": "land mask (Natural Earth 1:50m land polygons)",
               "flag_values": [0, 1], "flag_meanings": "ocean land"},
    )


# --------------------------------------------------------------------------- CF
#: Common CF attributes by variable name (standard_name, units, long_name).
CF: dict[str, dict[str, str]] = {
    "sst": {"standard_name": "sea_surface_temperature", "units": "degC",
            "long_name": "sea surface temperature"},
    "sss": {"standard_name": "sea_surface_salinity", "units": "1",
            "long_name": "sea surface salinity (PSS-78)"},
    "wind_speed": {"standard_name": "wind_speed", "units": "m s-1",
                   "long_name": "wind speed at 10 m"},
    "chlor_a": {"standard_name": "mass_concentration_of_chlorophyll_a_in_sea_water",
                "units": "mg m-3", "long_name": "chlorophyll-a concentration"},
    "par": {"standard_name": "surface_downwelling_photosynthetic_photon_flux_in_air",
            "units": "einstein m-2 d-1", "long_name": "photosynthetically available radiation"},
    "a_cdom_443": {"standard_name": "volume_absorption_coefficient_of_radiative_flux_in_sea_water_due_to_dissolved_organic_matter",
                   "units": "m-1", "long_name": "CDOM absorption coefficient at 443 nm",
                   "radiation_wavelength": "443 nm"},
    "npp": {"standard_name": "net_primary_productivity_of_biomass_expressed_as_carbon",
            "units": "mg C m-2 d-1", "long_name": "net primary production"},
    "Kd_490": {"standard_name": "volume_attenuation_coefficient_of_downwelling_radiative_flux_in_sea_water",
               "units": "m-1", "long_name": "diffuse attenuation coefficient at 490 nm"},
    "sdd": {"standard_name": "secchi_depth_of_sea_water", "units": "m", "long_name": "Secchi disk depth"},
    "xco2": {"standard_name": "mole_fraction_of_carbon_dioxide_in_air", "units": "1e-6",
             "long_name": "dry-air mole fraction of atmospheric CO2 (ppm)"},
    "slp": {"standard_name": "air_pressure_at_mean_sea_level", "units": "Pa",
            "long_name": "sea-level pressure"},
    "depth": {"standard_name": "sea_floor_depth_below_geoid", "units": "m", "positive": "down",
              "long_name": "sea floor depth"},
    "u": {"standard_name": "eastward_sea_water_velocity", "units": "m s-1",
          "long_name": "eastward current"},
    "v": {"standard_name": "northward_sea_water_velocity", "units": "m s-1",
          "long_name": "northward current"},
}


def cf_var(data, dims, name: str | None = None, **attrs) -> xr.DataArray:
    """A float32 DataArray with CF attributes: :data:`CF`\\[name] updated with ``attrs``."""
    a = dict(CF.get(name, {})) if name else {}
    a.update({k: v for k, v in attrs.items() if v is not None})
    return xr.DataArray(np.asarray(data, dtype=np.float32), dims=dims, name=name, attrs=a)


def cf_dataset(data_vars: dict, coords: dict, title: str, **attrs) -> xr.Dataset:
    """A Dataset with CF global attributes (``Conventions``, ``title``, ``synthetic``, ...)."""
    ds = xr.Dataset(data_vars, coords=coords)
    ds.attrs.update({"Conventions": "CF-1.8", "title": title, "synthetic": "yes",
                     "institution": "SatCO2 Hub demo store (synthetic)"})
    ds.attrs.update(attrs)
    for name in ("lat", "lon", "time"):
        if name in ds.coords and not ds[name].attrs:
            ds[name].attrs.update(_COORD_ATTRS[name])
    return ds


_COORD_ATTRS = {
    "lat": {"standard_name": "latitude", "units": "degrees_north", "axis": "Y"},
    "lon": {"standard_name": "longitude", "units": "degrees_east", "axis": "X"},
    "time": {"standard_name": "time", "axis": "T"},
}
