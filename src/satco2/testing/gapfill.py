"""Seeded synthetic cubes for gap-filling tests, benchmarks and notebooks (all SYNTHETIC).

- :func:`low_rank_cube` - a (time, lat, lon) field that is exactly a sum of ``rank`` separable
  modes plus a constant mean (optionally plus white noise). Injected signals: the modes
  ``spatial[k](lat, lon) * temporal[k](time) * amplitude[k]``; the mode amplitudes decrease
  geometrically (ratio 0.6) so that the rank is well defined; the truth is returned beside it.
- :func:`chl_like_cube` - a positive chlorophyll-like field (mg m-3): ``10 ** (low-rank log10 field)``
  with a seasonal cycle, a coastal gradient and a trend; the truth of the log10 field is returned.
- :func:`cloud_masks` - cloud-shaped boolean masks (True = cloudy/missing) grown from random seeds
  by smoothing white noise and thresholding it at the quantile that gives the requested cover,
  after DINEOF's ``crossval.F90`` idea of spatially coherent clouds.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage


def _coords(nt: int, ny: int, nx: int, start: str = "2000-01"):
    lat = np.round(28.0 + 0.1 * (np.arange(ny) + 0.5), 6)
    lon = np.round(121.0 + 0.1 * (np.arange(nx) + 0.5), 6)
    time = pd.date_range(start, periods=nt, freq="MS")
    return {
        "time": xr.DataArray(time, dims="time", attrs={"standard_name": "time", "axis": "T"}),
        "lat": xr.DataArray(lat, dims="lat", attrs={"standard_name": "latitude",
                                                     "units": "degrees_north", "axis": "Y"}),
        "lon": xr.DataArray(lon, dims="lon", attrs={"standard_name": "longitude",
                                                     "units": "degrees_east", "axis": "X"}),
    }


def low_rank_cube(nt: int = 60, ny: int = 20, nx: int = 24, rank: int = 3, noise: float = 0.0,
                  mean: float = 0.5, seed: int = 0) -> xr.DataArray:
    """A SYNTHETIC field of exact rank ``rank`` around a constant ``mean`` (dimensionless).

    The first spatial mode is uniform (a basin-wide signal), so the field minus ANY constant still
    has rank ``rank`` (DINEOF removes the mean of the present values, which depends on the clouds);
    the other spatial modes are smooth zero-mean random fields (Gaussian-filtered noise, sigma 3
    cells). Temporal modes are sinusoids of distinct periods with random phases plus 30 % white
    noise; amplitudes 1, 0.6, 0.36, ...
    ``noise`` is the standard deviation of added white noise (0 = exactly low rank).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(nt)
    field = np.full((nt, ny, nx), float(mean))
    for k in range(rank):
        sp = ndimage.gaussian_filter(rng.standard_normal((ny, nx)), 3.0, mode="wrap")
        sp = (sp - sp.mean()) / sp.std() if k else np.ones((ny, nx))
        period = nt / (k + 1.3)
        tm = np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi)) + 0.3 * rng.standard_normal(nt)
        field += (0.6 ** k) * tm[:, None, None] * sp[None]
    if noise:
        field += noise * rng.standard_normal(field.shape)
    return xr.DataArray(field, dims=("time", "lat", "lon"), coords=_coords(nt, ny, nx),
                        name="field", attrs={"synthetic": "yes", "rank": rank, "units": "1"})


def chl_like_cube(nt: int = 120, ny: int = 30, nx: int = 30, seed: int = 0,
                  noise: float = 0.03) -> xr.DataArray:
    """A SYNTHETIC chlorophyll-like field ``chlor_a`` in mg m-3 (positive, log-normal-ish).

    Injected log10 signals: mean 0.2 - 0.8 * (distance offshore), an annual cycle of amplitude
    0.3 peaking at different months along the coast, a semi-annual mode of amplitude 0.15,
    a trend of +0.01 per year, and white noise of standard deviation ``noise`` (log10 units).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(nt)
    yy, xx = np.meshgrid(np.linspace(0, 1, ny), np.linspace(0, 1, nx), indexing="ij")
    base = 0.2 - 0.8 * xx
    phase = 2 * np.pi * yy
    annual = 0.3 * np.cos(2 * np.pi * t[:, None, None] / 12 - phase[None])
    semi = 0.15 * np.sin(4 * np.pi * t[:, None, None] / 12)[:, :, :] * (1 - xx)[None]
    trend = 0.01 * t[:, None, None] / 12
    logc = base[None] + annual + semi + trend + noise * rng.standard_normal((nt, ny, nx))
    return xr.DataArray(10 ** logc, dims=("time", "lat", "lon"), coords=_coords(nt, ny, nx),
                        name="chlor_a", attrs={"synthetic": "yes", "units": "mg m-3",
                                               "standard_name": "mass_concentration_of_chlorophyll_a_in_sea_water"})


def cloud_masks(shape: tuple[int, int, int], cover: float | np.ndarray = 0.3, scale: float = 3.0,
                seed: int = 0) -> np.ndarray:
    """Cloud-shaped boolean masks (True = missing) of shape (time, lat, lon).

    Each time step thresholds Gaussian-smoothed white noise (``scale`` in grid cells) at the
    quantile giving fractional cover ``cover`` (a float or one value per time step, 0-1).
    """
    nt, ny, nx = shape
    rng = np.random.default_rng(seed)
    cover = np.broadcast_to(np.asarray(cover, dtype=float), (nt,))
    out = np.zeros(shape, dtype=bool)
    for i in range(nt):
        f = ndimage.gaussian_filter(rng.standard_normal((ny, nx)), scale, mode="reflect")
        if cover[i] <= 0:
            continue
        thr = np.quantile(f, 1 - cover[i])
        out[i] = f >= thr
    return out
