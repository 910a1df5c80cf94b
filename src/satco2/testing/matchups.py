"""Seeded SYNTHETIC observations for the match-up tests, benchmark and notebook.

- :func:`ship_tracks` - SOCAT-like underway positions and times: ``n_cruises`` random-walk ship
  tracks (one record a minute, ~20 km h-1) inside a box and a period; vectorised, 10 M points in
  seconds.
- :func:`sample_field` - observations of a gridded field along tracks: the value of the pixel
  each record falls in plus Gaussian noise (the truth a match-up must recover).
- :func:`write_socat_tsv` - a SOCAT synthesis-style tab file (metadata header lines, then the
  ``Expocode<TAB>version...`` column row; longitudes 0-360; fCO2rec at SST) from such a table.
- :func:`daily_cube` - a seeded daily cube (time, lat, lon) at 1/24° written to Zarr.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

SOCAT_HEADER = (
    "Expocode", "version", "Source_DOI", "QC_Flag", "yr", "mon", "day", "hh", "mm", "ss",
    "longitude [dec.deg.E]", "latitude [dec.deg.N]", "sample_depth [m]", "sal", "SST [deg.C]",
    "Tequ [deg.C]", "PPPP [hPa]", "Pequ [hPa]", "WOA_SSS", "NCEP_SLP [hPa]", "ETOPO2_depth [m]",
    "dist_to_land [km]", "GVCO2 [umol/mol]", "xCO2water_equ_dry [umol/mol]",
    "xCO2water_SST_dry [umol/mol]", "pCO2water_equ_wet [uatm]", "pCO2water_SST_wet [uatm]",
    "fCO2water_equ_wet [uatm]", "fCO2water_SST_wet [uatm]", "fCO2rec [uatm]", "fCO2rec_src",
    "fCO2rec_flag",
)
"""The column row of SOCAT synthesis files (SOCAT v2 onwards)."""


def ship_tracks(n: int, bbox, start, end, n_cruises: int | None = None, seed: int = 0) -> pd.DataFrame:
    """``n`` records on ``n_cruises`` random-walk tracks in ``bbox = (lon_min, lat_min, lon_max,
    lat_max)`` between ``start`` and ``end``: columns ``expocode, time, lat, lon``."""
    rng = np.random.default_rng(seed)
    n_cruises = n_cruises or max(1, n // 5000)
    per = np.full(n_cruises, n // n_cruises)
    per[: n - per.sum()] += 1
    cruise = np.repeat(np.arange(n_cruises), per)
    first = np.r_[0, np.cumsum(per)[:-1]]
    lon0, lat0, lon1, lat1 = map(float, bbox)
    t0, t1 = pd.Timestamp(start).value, pd.Timestamp(end).value
    span = per * 60e9
    start_ns = rng.uniform(t0, np.maximum(t1 - span, t0 + 1))
    step_deg = 20.0 / 60 / 111.0  # 20 km per hour, one record a minute
    heading = np.cumsum(rng.normal(0, 0.05, n)) + np.repeat(rng.uniform(0, 2 * np.pi, n_cruises), per)
    dx, dy = step_deg * np.cos(heading), step_deg * np.sin(heading)
    cx, cy = np.cumsum(dx), np.cumsum(dy)
    cx -= np.repeat(cx[first], per)
    cy -= np.repeat(cy[first], per)
    x0 = np.repeat(rng.uniform(lon0, lon1, n_cruises), per)
    y0 = np.repeat(rng.uniform(lat0, lat1, n_cruises), per)
    # reflect into the box
    w, h = lon1 - lon0, lat1 - lat0
    x = lon0 + np.abs(((x0 - lon0 + cx) + w) % (2 * w) - w)
    y = lat0 + np.abs(((y0 - lat0 + cy) + h) % (2 * h) - h)
    idx = np.arange(n) - np.repeat(first, per)
    t = (np.repeat(start_ns, per) + idx * 60e9).astype("int64").astype("datetime64[ns]")
    names = [f"SYNTH{c}" for c in range(n_cruises)]
    return pd.DataFrame({"expocode": pd.Categorical.from_codes(cruise, names), "time": t,
                         "lat": y, "lon": x})


def sample_field(da: xr.DataArray, tracks: pd.DataFrame, noise: float = 0.0, seed: int = 0,
                 name: str = "value", time_method: str = "nearest") -> pd.DataFrame:
    """``tracks`` with ``truth`` (the value of the pixel each record falls in, at the time step
    of the nearest label, or with ``time_method="pad"`` the last label before it: periods
    labelled at their start) and ``name`` = truth + N(0, noise) noise; NaN pixels keep NaN."""
    rng = np.random.default_rng(seed)
    t = xr.DataArray(tracks["time"].values, dims="obs")
    la = xr.DataArray(tracks["lat"].values, dims="obs")
    lo = xr.DataArray(tracks["lon"].values, dims="obs")
    truth = np.asarray(da.sel(time=t, method=time_method).sel(lat=la, lon=lo, method="nearest").values, float)
    out = tracks.copy()
    out["truth"] = truth
    out[name] = truth + rng.normal(0, noise, truth.size) if noise else truth
    return out


def write_socat_tsv(path, obs: pd.DataFrame, n_header_lines: int = 12) -> Path:
    """Write ``obs`` (columns ``time, lat, lon, fco2`` and optionally ``sst, sss, pppp,
    woce_flag, qc_flag, expocode``) as a SYNTHETIC SOCAT synthesis-style tab file."""
    path = Path(path)
    t = pd.DatetimeIndex(obs["time"].values)
    n = len(obs)

    def col(name, default):
        return obs[name].values if name in obs else np.full(n, default)

    table = pd.DataFrame({
        "Expocode": col("expocode", "SYNTH0"), "version": "2024", "Source_DOI": "SYNTHETIC",
        "QC_Flag": col("qc_flag", "A"), "yr": t.year, "mon": t.month, "day": t.day, "hh": t.hour,
        "mm": t.minute, "ss": t.second,
        "longitude [dec.deg.E]": np.round(np.asarray(obs["lon"], float) % 360.0, 5),
        "latitude [dec.deg.N]": np.round(np.asarray(obs["lat"], float), 5),
        "sample_depth [m]": 5, "sal": np.round(col("sss", 34.0), 3),
        "SST [deg.C]": np.round(col("sst", 20.0), 3), "Tequ [deg.C]": np.nan,
        "PPPP [hPa]": np.round(col("pppp", np.nan), 2), "Pequ [hPa]": np.nan, "WOA_SSS": np.nan,
        "NCEP_SLP [hPa]": 1013.25, "ETOPO2_depth [m]": np.nan, "dist_to_land [km]": np.nan,
        "GVCO2 [umol/mol]": np.nan, "xCO2water_equ_dry [umol/mol]": np.nan,
        "xCO2water_SST_dry [umol/mol]": np.nan, "pCO2water_equ_wet [uatm]": np.nan,
        "pCO2water_SST_wet [uatm]": np.nan, "fCO2water_equ_wet [uatm]": np.nan,
        "fCO2water_SST_wet [uatm]": np.nan, "fCO2rec [uatm]": np.round(np.asarray(obs["fco2"], float), 3),
        "fCO2rec_src": 1, "fCO2rec_flag": col("woce_flag", 2),
    }, columns=list(SOCAT_HEADER))
    header = ["SYNTHETIC SOCAT-style file written by satco2.testing.matchups (not real data)"]
    header += [f"Header line {i}: metadata of the synthetic cruises" for i in range(1, n_header_lines)]
    with open(path, "w", newline="\n") as f:
        f.write("\n".join(header) + "\n")
        table.to_csv(f, sep="\t", index=False, na_rep="NaN")
    return path


def daily_cube(path, nt: int, ny: int, nx: int, chunks=(32, 256, 256), lat0: float = 20.0,
               lon0: float = 115.0, start="2020-01-01", res: float = 1 / 24, seed: int = 0,
               cloud_fraction: float = 0.0, noon: bool = True) -> xr.Dataset:
    """A seeded SYNTHETIC daily cube ``value(time, lat, lon)`` (float32) at ``res`` degrees
    written to the Zarr store ``path`` in ``chunks``; labels at noon (``noon``) so that
    nearest-label and containing-day semantics coincide."""
    import dask.array as dsa

    rng = np.random.default_rng(seed)
    lat = lat0 + res / 2 + res * np.arange(ny)
    lon = lon0 + res / 2 + res * np.arange(nx)
    time = pd.date_range(start, periods=nt, freq="D") + (pd.Timedelta(hours=12) if noon else pd.Timedelta(0))
    base = rng.normal(350.0, 20.0, (1, ny, nx)).astype("float32")

    def block(block_info=None):
        loc = block_info[None]["array-location"]
        k0, k1 = loc[0]
        shape = block_info[None]["chunk-shape"]
        r = np.random.default_rng([seed, k0, loc[1][0], loc[2][0]])
        seas = 10 * np.sin(2 * np.pi * np.arange(k0, k1) / 365.25)[:, None, None]
        v = base[:, loc[1][0]:loc[1][1], loc[2][0]:loc[2][1]] + seas + r.normal(0, 2, shape)
        if cloud_fraction:
            v[r.random(shape) < cloud_fraction] = np.nan
        return v.astype("float32")

    data = dsa.map_blocks(block, chunks=tuple(_split(n, c) for n, c in zip((nt, ny, nx), chunks)),
                          dtype="float32")
    ds = xr.Dataset(
        {"value": (("time", "lat", "lon"), data, {"units": "uatm", "long_name": "synthetic field"})},
        coords={"time": time, "lat": ("lat", lat, {"standard_name": "latitude", "units": "degrees_north"}),
                "lon": ("lon", lon, {"standard_name": "longitude", "units": "degrees_east"})},
        attrs={"synthetic": "yes"})
    ds.to_zarr(path, mode="w")
    return xr.open_zarr(path)


def _split(n: int, c: int) -> tuple[int, ...]:
    return tuple([c] * (n // c) + ([n % c] if n % c else []))


def demo_cruise(path, da: xr.DataArray, quantity: str, bbox, start, end, n: int = 3000,
                noise: float = 0.3, seed: int = 0) -> Path:
    """A SYNTHETIC long CSV ``time, lat, lon, <quantity>`` of ``n`` records on ship tracks (one
    cruise per 100 records, at most 50) in
    ``bbox`` between ``start`` and ``end``: the value of ``da`` at each record's pixel (periods
    labelled at their start, as the demo's monthly products) + N(0, ``noise``); records on NaN
    pixels (land, clouds) dropped. What the matchups notebook uses without an observation file."""
    tr = ship_tracks(n, bbox, start, end, n_cruises=int(np.clip(n // 100, 1, 50)), seed=seed)
    obs = sample_field(da.load(), tr, noise=noise, seed=seed + 1, name=quantity, time_method="pad")
    obs = obs[np.isfinite(obs[quantity])]
    path = Path(path)
    obs.assign(time=obs.time.dt.strftime("%Y-%m-%dT%H:%M:%SZ"))[["time", "lat", "lon", quantity]].to_csv(
        path, index=False, float_format="%.5f")
    return path
