"""Validation of gridded products against in-situ observations: parsers, match-ups, statistics.

Parsers (:data:`PARSERS`, name -> function ``path -> pandas.DataFrame``) return one tidy table with
columns ``time`` (UTC, datetime64), ``lat`` (degrees north), ``lon`` (degrees east), ``pco2sw``
(µatm, at SST) and, where present, ``fco2sw`` (µatm), ``sst`` (°C), ``sss``, ``pco2air`` (µatm);
``df.attrs`` holds ``source`` (file) and ``format``.

- ``socat``: SOCAT/AOML underway CSV (header lines before the column row, fCO2 at SST, -999 missing,
  WOCE flag 2 kept), e.g. WFCH20220615.csv.
- ``mapco2``: NOAA PMEL MAPCO2 buoy TSV (tab-separated, CR-only line endings), e.g. HOGREEF.tsv.
- ``csv``: any CSV with time, lat, lon and pCO2 or fCO2 columns (names matched case-insensitively
  against :data:`COLUMN_ALIASES`); fCO2 is converted to pCO2 with the virial expansion of
  Weiss (1974) (:func:`satco2.science.gas_exchange.fugacity_factor_W74`), which needs SST.

:func:`read_observations` picks the parser from the file's content. :func:`matchups` pairs
observations with a product's monthly grid cells; :func:`statistics` gives N, mean bias, RMSE, R²
(other areas import it: it only needs two arrays).
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from .. import SatCO2Error
from .gas_exchange import fco2_to_pco2

MISSING = -999.0

COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "time": ("time", "datetime", "date_time", "timestamp", "time_utc", "date"),
    "lat": ("lat", "latitude", "lat_dec_degree", "lat_deg"),
    "lon": ("lon", "longitude", "long", "lon_dec_degree", "long_dec_degree", "lon_deg"),
    "pco2sw": ("pco2", "pco2sw", "pco2_sw", "pco2_uatm", "pco2sw_uatm", "pco2_water"),
    "fco2sw": ("fco2", "fco2sw", "fco2_sw", "fco2_uatm", "fco2sw_uatm", "fco2_water"),
    "sst": ("sst", "sst_c", "temperature", "temp", "sea_surface_temperature", "t"),
    "sss": ("sss", "salinity", "sal", "psal"),
    "pressure_hpa": ("slp_hpa", "pressure_hpa", "pres_hpa", "patm_hpa", "slp"),
}
"""What counts as each observation column in a user CSV (lower-case names): data, not code."""


def _err(path, problem: str) -> SatCO2Error:
    return SatCO2Error(f"observation file {path}: {problem}")


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise SatCO2Error(f"observation file {path} does not exist")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    # normalise CR-only (old Mac) and CRLF line endings
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _finish(df: pd.DataFrame, path: Path, fmt: str) -> pd.DataFrame:
    df = df.replace(MISSING, np.nan)
    for c in ("lat", "lon", "pco2sw"):
        if df[c].isna().all():
            raise _err(path, f"column {c!r} has no valid values")
    bad = (df.lat.abs() > 90) | (df.lon < -180) | (df.lon > 360)
    if bad.any():
        raise _err(path, f"{int(bad.sum())} rows have latitude/longitude outside the globe")
    df = df[np.isfinite(df.pco2sw) & df.time.notna()].reset_index(drop=True)
    if df.empty:
        raise _err(path, "no rows with a valid time, position and pCO2/fCO2")
    df.attrs.update(source=str(path), format=fmt)
    return df


def read_socat(path) -> pd.DataFrame:
    """SOCAT/AOML-style underway CSV: ``Key: value`` header lines, then a column row starting with
    ``Expocode``; ``fCO2_SW@SST_uatm`` converted to pCO2 at SST and the atmospheric pressure at
    sea level (Weiss 1974 virial expansion); rows with WOCE flag other than 2 dropped."""
    path = Path(path)
    text = _read_text(path)
    lines = text.split("\n")
    try:
        start = next(i for i, ln in enumerate(lines) if ln.lower().startswith("expocode,"))
    except StopIteration:
        raise _err(path, "no column row starting with 'Expocode,' was found") from None
    try:
        raw = pd.read_csv(io.StringIO("\n".join(lines[start:])), dtype={"DATE_UTC__ddmmyyyy": str})
    except (pd.errors.ParserError, ValueError) as e:
        raise _err(path, f"the table could not be parsed ({e})") from None
    need = ["DATE_UTC__ddmmyyyy", "TIME_UTC_hh:mm:ss", "LAT_dec_degree", "LONG_dec_degree",
            "fCO2_SW@SST_uatm", "SST_C"]
    missing = [c for c in need if c not in raw.columns]
    if missing:
        raise _err(path, f"missing columns {missing}")
    raw = raw.replace(MISSING, np.nan)
    if "WOCE_QC_FLAG" in raw.columns:
        raw = raw[raw["WOCE_QC_FLAG"] == 2]
    time = pd.to_datetime(raw["DATE_UTC__ddmmyyyy"].str.zfill(8) + " " + raw["TIME_UTC_hh:mm:ss"],
                          format="%d%m%Y %H:%M:%S", errors="coerce")
    if time.isna().all():
        raise _err(path, "no date/time could be parsed from DATE_UTC__ddmmyyyy and TIME_UTC_hh:mm:ss")
    p_atm = raw.get("PRES_ATM@SSP_hPa", pd.Series(np.nan, index=raw.index)) / 1013.25
    p_atm = p_atm.fillna(1.0)
    sst = raw["SST_C"].astype(float)
    df = pd.DataFrame({
        "time": time, "lat": raw["LAT_dec_degree"].astype(float),
        "lon": raw["LONG_dec_degree"].astype(float),
        "fco2sw": raw["fCO2_SW@SST_uatm"].astype(float), "sst": sst,
        "sss": raw.get("SAL_permil", np.nan),
    })
    df["pco2sw"] = fco2_to_pco2(df.fco2sw.values, sst.values, p_atm.values)
    if "fCO2_ATM_interpolated_uatm" in raw.columns:
        df["pco2air"] = fco2_to_pco2(raw["fCO2_ATM_interpolated_uatm"].values, sst.values, p_atm.values)
    return _finish(df, path, "socat")


def read_mapco2(path) -> pd.DataFrame:
    """NOAA PMEL MAPCO2 buoy export: tab-separated, CR-only line endings, one header row,
    ``Date`` as m/d/yy and ``Time`` as H:MM (UTC), ``pCO2 SW (sat) uatm`` used directly."""
    path = Path(path)
    text = _read_text(path)
    try:
        raw = pd.read_csv(io.StringIO(text), sep="\t", dtype={"Date": str, "Time": str})
    except (pd.errors.ParserError, ValueError) as e:
        raise _err(path, f"the tab-separated table could not be parsed ({e})") from None
    raw.columns = [" ".join(str(c).split()) for c in raw.columns]
    need = ["Latitude", "Longitude", "Date", "Time", "pCO2 SW (sat) uatm"]
    missing = [c for c in need if c not in raw.columns]
    if missing:
        raise _err(path, f"missing columns {missing}")
    raw = raw.replace(MISSING, np.nan)
    time = pd.to_datetime(raw["Date"] + " " + raw["Time"], format="%m/%d/%y %H:%M", errors="coerce")
    if time.isna().all():
        raise _err(path, "no date/time could be parsed from the Date (m/d/yy) and Time columns")
    df = pd.DataFrame({
        "time": time, "lat": raw["Latitude"].astype(float), "lon": raw["Longitude"].astype(float),
        "pco2sw": raw["pCO2 SW (sat) uatm"].astype(float),
        "fco2sw": raw.get("fCO2 SW (sat) uatm", np.nan),
        "sst": raw.get("SST (C)", np.nan), "sss": raw.get("Salinity", np.nan),
        "pco2air": raw.get("pCO2 Air (sat) uatm", np.nan),
    })
    return _finish(df, path, "mapco2")


def _find(cols: dict[str, str], key: str) -> str | None:
    for alias in COLUMN_ALIASES[key]:
        if alias in cols:
            return cols[alias]
    return None


def read_csv(path) -> pd.DataFrame:
    """Any CSV with time, lat, lon and a pCO2 or fCO2 column (µatm; names in
    :data:`COLUMN_ALIASES`). fCO2 is converted to pCO2 at SST (required then) and the pressure
    column if any (hPa; else 1 atm), with the Weiss (1974) virial expansion."""
    path = Path(path)
    text = _read_text(path)
    try:
        raw = pd.read_csv(io.StringIO(text), sep=None, engine="python", comment="#")
    except (pd.errors.ParserError, ValueError) as e:
        raise _err(path, f"the CSV could not be parsed ({e})") from None
    cols = {str(c).strip().lower(): c for c in raw.columns}
    found = {k: _find(cols, k) for k in COLUMN_ALIASES}
    for k in ("time", "lat", "lon"):
        if found[k] is None:
            raise _err(path, f"no {k} column (looked for {', '.join(COLUMN_ALIASES[k])})")
    if found["pco2sw"] is None and found["fco2sw"] is None:
        raise _err(path, "no pCO2 or fCO2 column (looked for e.g. pco2, pco2sw, fco2, fco2sw)")
    num = {}
    for k, c in found.items():
        if c is None or k == "time":
            continue
        num[k] = pd.to_numeric(raw[c], errors="coerce").astype(float)
        if num[k].isna().all() and raw[c].notna().any():
            raise _err(path, f"column {c!r} is not numeric")
        num[k] = num[k].replace(MISSING, np.nan)
    time = pd.to_datetime(raw[found["time"]], errors="coerce", utc=True, format="mixed")
    time = time.dt.tz_localize(None)
    if time.isna().all():
        raise _err(path, f"column {found['time']!r} holds no parsable date/time")
    df = pd.DataFrame({"time": time, "lat": num["lat"], "lon": num["lon"]})
    for k in ("sst", "sss"):
        if k in num:
            df[k] = num[k]
    if "pco2sw" in num:
        df["pco2sw"] = num["pco2sw"]
    else:
        if "sst" not in num:
            raise _err(path, "an fCO2 column needs a temperature (sst) column to convert it to pCO2")
        p_atm = num["pressure_hpa"] / 1013.25 if "pressure_hpa" in num else 1.0
        df["fco2sw"] = num["fco2sw"]
        df["pco2sw"] = fco2_to_pco2(num["fco2sw"].values, num["sst"].values,
                                    np.asarray(p_atm, float))
    return _finish(df.replace(MISSING, np.nan), path, "csv")


PARSERS = {"socat": read_socat, "mapco2": read_mapco2, "csv": read_csv}
"""Observation-file parsers, format name -> ``f(path) -> DataFrame``."""


def detect_format(path) -> str:
    """Guess the parser of ``path`` from its first lines."""
    path = Path(path)
    head = _read_text(path)[:4000].split("\n")
    if any(ln.lower().startswith("expocode") for ln in head[:10]):
        return "socat"
    if head and "\t" in head[0] and "pCO2 SW" in head[0]:
        return "mapco2"
    return "csv"


def read_observations(path, format: str | None = None) -> pd.DataFrame:
    """Parse an in-situ pCO2/fCO2 file into the tidy table described in the module docstring."""
    fmt = format or detect_format(path)
    if fmt not in PARSERS:
        raise SatCO2Error(f"unknown observation format {fmt!r}; choose one of {', '.join(PARSERS)}")
    return PARSERS[fmt](path)


# ----------------------------------------------------------------------------------------------
# match-ups and statistics


def matchups(products, obs: pd.DataFrame, variables=("pco2sw",), average: bool = True) -> pd.DataFrame:
    """Pair observations with the grid cell and month of a gridded product.

    products: xarray Dataset (monthly, ``time`` at month start, ``lat``/``lon`` cell centres);
    obs: a table from :func:`read_observations`. Each observation goes to the month containing it
    and the nearest cell (only if within that cell: half a grid step). With ``average`` the
    observations are averaged per (month, cell), as the products are monthly means.
    Returns columns ``time, lat, lon, n_obs, obs_<v>`` and ``model_<v>`` for each variable.
    """
    from ..cf import coord_name

    lat_n, lon_n = coord_name(products, "latitude"), coord_name(products, "longitude")
    lat = products[lat_n].values
    lon = products[lon_n].values
    dlat = float(np.abs(np.diff(lat)).mean()) if lat.size > 1 else np.inf
    dlon = float(np.abs(np.diff(lon)).mean()) if lon.size > 1 else np.inf
    o = obs.copy()
    o["month"] = o.time.dt.to_period("M").dt.to_timestamp()
    o["lon_w"] = np.where((o.lon < lon.min() - dlon) & (o.lon + 360 <= lon.max() + dlon), o.lon + 360, o.lon)
    i = np.abs(lat[None, :] - o.lat.values[:, None]).argmin(1) if len(o) else np.array([], int)
    j = np.abs(lon[None, :] - o.lon_w.values[:, None]).argmin(1) if len(o) else np.array([], int)
    inside = (np.abs(lat[i] - o.lat.values) <= dlat / 2 + 1e-9) & (np.abs(lon[j] - o.lon_w.values) <= dlon / 2 + 1e-9)
    months = pd.DatetimeIndex(products["time"].values).to_period("M").to_timestamp()
    k = months.get_indexer(pd.DatetimeIndex(o.month))
    keep = inside & (k >= 0)
    o = o[keep].assign(i=i[keep], j=j[keep], k=k[keep])
    cols = [v for v in variables if v in o.columns]
    if o.empty:
        return pd.DataFrame(columns=["time", "lat", "lon", "n_obs"]
                            + [f"obs_{v}" for v in cols] + [f"model_{v}" for v in variables])
    if average:
        g = o.groupby(["k", "i", "j"], as_index=False)
        o = g[cols].mean().merge(g.size().rename(columns={"size": "n_obs"}), on=["k", "i", "j"])
    else:
        o = o.assign(n_obs=1)
    out = pd.DataFrame({"time": months[o.k.values], "lat": lat[o.i.values], "lon": lon[o.j.values],
                        "n_obs": o.n_obs.values})
    for v in cols:
        out[f"obs_{v}"] = o[v].values
    # one vectorized point selection per variable (a single compute if dask-backed)
    import xarray as xr

    ki = xr.DataArray(o.k.values, dims="m")
    ii = xr.DataArray(o.i.values, dims="m")
    jj = xr.DataArray(o.j.values, dims="m")
    for v in variables:
        out[f"model_{v}"] = np.asarray(
            products[v].isel({"time": ki, lat_n: ii, lon_n: jj}).values, dtype=float)
    return out


def statistics(obs, model) -> dict[str, float]:
    """Agreement of ``model`` with ``obs`` over pairs where both are finite.

    N; mean bias = mean(model - obs); RMSE = sqrt(mean((model - obs)^2)); R² = squared Pearson
    correlation (as reported by Chen et al. 2017 for MeSAA); mean ratio = mean(model/obs);
    slope/intercept of the least-squares line model = slope obs + intercept.
    """
    o = np.asarray(obs, float).ravel()
    m = np.asarray(model, float).ravel()
    if o.shape != m.shape:
        raise SatCO2Error(f"statistics need arrays of one length, got {o.size} and {m.size}")
    ok = np.isfinite(o) & np.isfinite(m)
    n = int(ok.sum())
    out = {"n": n, "mean_bias": np.nan, "rmse": np.nan, "r2": np.nan, "mean_ratio": np.nan,
           "slope": np.nan, "intercept": np.nan}
    if n == 0:
        return out
    o, m = o[ok], m[ok]
    d = m - o
    out["mean_bias"] = float(d.mean())
    out["rmse"] = float(np.sqrt((d**2).mean()))
    with np.errstate(divide="ignore", invalid="ignore"):
        out["mean_ratio"] = float(np.mean(m / o))
    if n >= 2 and o.std() > 0 and m.std() > 0:
        out["r2"] = float(np.corrcoef(o, m)[0, 1] ** 2)
        out["slope"], out["intercept"] = (float(x) for x in np.polyfit(o, m, 1))
    return out
