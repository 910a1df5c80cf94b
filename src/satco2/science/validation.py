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
  ``quantity=`` asks for another value column (``sst``, ``sss``, ``chl``, ``value``); units in
  brackets after a name are converted (:data:`CANONICAL_UNITS`, :data:`UNIT_ALIASES`).
- ``socat_tsv``: SOCAT synthesis/cruise tab files (header lines, ``Expocode<TAB>...`` column row,
  ``fCO2rec`` converted to pCO2 at SST and PPPP; flags kept in ``woce_flag``/``qc_flag``).
- ``wide_csv``: gridded wide CSV (lat, lon, one column per time; ``times=`` when the headers are
  not dates). ``netcdf``: NetCDF trajectories (CF standard names or usual names).

:func:`read_observations` picks the parser from the file's content (:func:`iter_observations`
streams the large formats). :func:`matchups` pairs observations with a product's monthly grid
cells (the pco2_flux notebook's validation); :func:`statistics` gives N, mean bias, RMSE, R²
(other areas import it: it only needs two arrays). The kernels of :mod:`satco2.analyses.matchups` live at
the end: :func:`window_values` (window extraction on one block), :func:`haversine_km`,
:func:`moments` / :func:`stats_from_moments` (statistics accumulated over pieces).
"""
from __future__ import annotations

import io
import warnings
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .. import SatCO2Error
from .. import cf
from ..cf import coord_name
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
    "chl": ("chl", "chla", "chl_a", "chlor_a", "chlorophyll", "tot_chl_a", "chl_mg_m3"),
    "value": ("value", "obs", "observation", "measurement"),
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


def _finish(df: pd.DataFrame, path: Path, fmt: str, quantity: str = "pco2sw") -> pd.DataFrame:
    df = df.replace(MISSING, np.nan)
    for c in ("lat", "lon", quantity):
        if df[c].isna().all():
            raise _err(path, f"column {c!r} has no valid values")
    bad = (df.lat.abs() > 90) | (df.lon < -180) | (df.lon > 360)
    if bad.any():
        raise _err(path, f"{int(bad.sum())} rows have latitude/longitude outside the globe")
    df = df[np.isfinite(df[quantity]) & df.time.notna()].reset_index(drop=True)
    if df.empty:
        what = "pCO2/fCO2" if quantity == "pco2sw" else quantity
        raise _err(path, f"no rows with a valid time, position and {what}")
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


# ----------------------------------------------------------------------------------------------
# units: what a column's units may be called, and how to reach each quantity's canonical units

CANONICAL_UNITS: dict[str, str] = {
    "pco2sw": "uatm", "fco2sw": "uatm", "pco2air": "uatm", "sst": "degC", "sss": "1",
    "chl": "mg m-3", "pressure_hpa": "hPa",
}
"""Units every observation quantity is converted to (``value`` has none: it is compared as is)."""

UNIT_ALIASES: dict[str, tuple[str, ...]] = {
    "degC": ("degc", "deg.c", "deg c", "deg_c", "°c", "c", "celsius", "degree_celsius",
             "degrees_celsius", "degree_c", "degrees c"),
    "K": ("k", "kelvin", "degk"),
    "uatm": ("uatm", "µatm", "μatm", "microatm", "micro-atm", "uatm wet", "1e-6 atm"),
    "atm": ("atm",),
    "Pa": ("pa",),
    "hPa": ("hpa", "mbar", "mb", "millibar"),
    "mg m-3": ("mg m-3", "mg/m3", "mg/m^3", "mg m^-3", "mg m**-3", "mg.m-3", "ug/l", "µg/l", "μg/l",
               "ug l-1", "µg l-1", "mg_m-3"),
    "1": ("1", "psu", "pss", "pss-78", "pss78", "permil", "‰", "ppt", "g/kg"),
}
"""Spellings of units met in observation files (lower case), canonical name -> aliases."""

UNIT_CONVERSIONS: dict[tuple[str, str], tuple[float, float]] = {
    ("K", "degC"): (1.0, -273.15),
    ("atm", "uatm"): (1e6, 0.0),
    ("Pa", "hPa"): (0.01, 0.0),
}
"""(from, to) -> (scale, offset): to = scale * from + offset (exact definitions of the units)."""


def canonical_unit(text: str, what: str) -> str:
    """Canonical name of the units spelled ``text`` (see :data:`UNIT_ALIASES`); ``what`` names the
    column or variable in the one-sentence error."""
    t = " ".join(str(text).strip().lower().split())
    for unit, aliases in UNIT_ALIASES.items():
        if t == unit.lower() or t in aliases:
            return unit
    raise SatCO2Error(f"unknown units {text!r} of {what}; known units are "
                      f"{', '.join(UNIT_ALIASES)}")


def to_canonical(values, units: str | None, quantity: str, what: str):
    """``values`` in ``units`` converted to the canonical units of ``quantity``
    (:data:`CANONICAL_UNITS`); no units (None or empty) means already canonical."""
    target = CANONICAL_UNITS.get(quantity)
    if target is None or units is None or str(units).strip() == "":
        return values
    unit = canonical_unit(units, what)
    if unit == target:
        return values
    if (unit, target) not in UNIT_CONVERSIONS:
        raise SatCO2Error(f"{what} is in {unit}, which cannot be converted to the {target} of {quantity}")
    scale, offset = UNIT_CONVERSIONS[(unit, target)]
    return values * scale + offset


def _split_units(name: str) -> tuple[str, str | None]:
    """``"SST [deg.C]"`` -> ``("sst", "deg.C")``; ``"pCO2 (uatm)"`` -> ``("pco2", "uatm")``."""
    m = re.match(r"^\s*(.*?)\s*[\[(]([^\])]*)[\])]\s*$", str(name))
    if m:
        return m.group(1).strip().lower(), m.group(2).strip()
    return str(name).strip().lower(), None


# ----------------------------------------------------------------------------------------------
# long CSV (any usual column names)

def _find(cols: dict[str, str], key: str) -> str | None:
    for alias in COLUMN_ALIASES[key]:
        if alias in cols:
            return cols[alias]
    return None


def _tidy_csv(raw: pd.DataFrame, path: Path, quantity: str) -> pd.DataFrame:
    """One raw table of a long CSV -> the tidy table (see :func:`read_csv`)."""
    bare = {}
    units = {}
    for c in raw.columns:
        name, unit = _split_units(c)
        bare.setdefault(name, c)
        units[c] = unit
    found = {k: _find(bare, k) for k in COLUMN_ALIASES}
    for k in ("time", "lat", "lon"):
        if found[k] is None:
            raise _err(path, f"no {k} column (looked for {', '.join(COLUMN_ALIASES[k])})")
    if quantity == "pco2sw":
        if found["pco2sw"] is None and found["fco2sw"] is None:
            raise _err(path, "no pCO2 or fCO2 column (looked for e.g. pco2, pco2sw, fco2, fco2sw)")
    elif found.get(quantity) is None:
        raise _err(path, f"no {quantity} column (looked for {', '.join(COLUMN_ALIASES[quantity])})")
    num = {}
    for k, c in found.items():
        if c is None or k == "time":
            continue
        num[k] = pd.to_numeric(raw[c], errors="coerce").astype(float)
        if num[k].isna().all() and raw[c].notna().any():
            raise _err(path, f"column {c!r} is not numeric")
        num[k] = to_canonical(num[k].replace(MISSING, np.nan), units[c], k, f"column {c!r} of {path}")
    time = pd.to_datetime(raw[found["time"]], errors="coerce", utc=True, format="mixed")
    time = time.dt.tz_localize(None)
    if time.isna().all():
        raise _err(path, f"column {found['time']!r} holds no parsable date/time")
    df = pd.DataFrame({"time": time, "lat": num["lat"], "lon": num["lon"]})
    for k in ("sst", "sss", "chl", "value"):
        if k in num:
            df[k] = num[k]
    if "pco2sw" in num:
        df["pco2sw"] = num["pco2sw"]
    elif "fco2sw" in num:
        df["fco2sw"] = num["fco2sw"]
        if "sst" in num:
            p_atm = num["pressure_hpa"] / 1013.25 if "pressure_hpa" in num else 1.0
            df["pco2sw"] = fco2_to_pco2(num["fco2sw"].values, num["sst"].values,
                                        np.asarray(p_atm, float))
        elif quantity == "pco2sw":
            raise _err(path, "an fCO2 column needs a temperature (sst) column to convert it to pCO2")
    return _finish(df.replace(MISSING, np.nan), path, "csv", quantity)


def _sniff_sep(path: Path) -> str:
    with open(path, encoding="utf-8-sig", errors="replace", newline=None) as f:
        head = "".join(f.readline() for _ in range(5))
    first = next((ln for ln in head.split("\n") if ln.strip() and not ln.startswith("#")), "")
    return max((",", ";", "\t"), key=first.count) if first else ","


def read_csv(path, quantity: str = "pco2sw", chunksize: int | None = None):
    """Any CSV with time, lat, lon and a value column (names matched case-insensitively against
    :data:`COLUMN_ALIASES`; units in brackets or parentheses after a name, e.g. ``SST [K]``, are
    converted to :data:`CANONICAL_UNITS`). ``quantity`` is the column that must be present
    (default ``pco2sw``: a pCO2 or fCO2 column). fCO2 is converted to pCO2 at SST and the
    pressure column if any (hPa; else 1 atm) with the Weiss (1974) virial expansion
    (:func:`~satco2.science.gas_exchange.fugacity_factor_W74`). With ``chunksize`` an iterator of
    tidy tables of at most that many rows (out of core)."""
    path = Path(path)
    if chunksize:
        return _iter_csv(path, quantity, chunksize)
    text = _read_text(path)
    try:
        raw = pd.read_csv(io.StringIO(text), sep=None, engine="python", comment="#")
    except (pd.errors.ParserError, ValueError) as e:
        raise _err(path, f"the CSV could not be parsed ({e})") from None
    return _tidy_csv(raw, path, quantity)


def _iter_csv(path: Path, quantity: str, chunksize: int):
    if not path.is_file():
        raise SatCO2Error(f"observation file {path} does not exist")
    sep = _sniff_sep(path)
    with open(path, encoding="utf-8-sig", errors="replace", newline=None) as f:
        try:
            for raw in pd.read_csv(f, sep=sep, comment="#", chunksize=chunksize):
                yield _tidy_csv(raw, path, quantity)
        except (pd.errors.ParserError, ValueError) as e:
            if isinstance(e, SatCO2Error):
                raise
            raise _err(path, f"the CSV could not be parsed ({e})") from None


# ----------------------------------------------------------------------------------------------
# SOCAT synthesis / cruise files (tab-separated, header lines, then "Expocode<TAB>version...")

SOCAT_COLUMNS = {
    "yr": "yr", "mon": "mon", "day": "day", "hh": "hh", "mm": "mm", "ss": "ss",
    "lon": "longitude [dec.deg.E]", "lat": "latitude [dec.deg.N]", "fco2": "fCO2rec [uatm]",
    "flag": "fCO2rec_flag", "sst": "SST [deg.C]", "sss": "sal", "pppp": "PPPP [hPa]",
    "slp": "NCEP_SLP [hPa]", "qc": "QC_Flag", "expocode": "Expocode",
}
"""Columns of a SOCAT synthesis or single-cruise ``.tsv`` file (SOCAT v2 onwards) that are read."""

SOCAT_GOOD_WOCE = 2
"""WOCE flag of an acceptable fCO2rec (2 good; 3 questionable, 4 bad, 9 not generated)."""
SOCAT_GOOD_QC = ("A", "B", "C", "D")
"""Dataset QC flags SOCAT recommends for gridded products (E: not recommended)."""


def _socat_header_row(path: Path, max_lines: int = 2_000_000) -> tuple[int, str]:
    if not path.is_file():
        raise SatCO2Error(f"observation file {path} does not exist")
    with open(path, encoding="utf-8-sig", errors="replace", newline=None) as f:
        for n, line in enumerate(f):
            if line.startswith("Expocode\t"):
                return n, line
            if n > max_lines:
                break
    raise _err(path, "no column row starting with 'Expocode<TAB>' was found")


def _tidy_socat(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    c = SOCAT_COLUMNS
    ss = pd.to_numeric(raw[c["ss"]], errors="coerce").fillna(0.0)
    time = pd.to_datetime(pd.DataFrame({
        "year": raw[c["yr"]], "month": raw[c["mon"]], "day": raw[c["day"]],
        "hour": raw[c["hh"]], "minute": raw[c["mm"]]}), errors="coerce", utc=False)
    time = time + pd.to_timedelta(ss, unit="s")
    num = {k: pd.to_numeric(raw[v], errors="coerce").astype(float).replace(MISSING, np.nan)
           for k, v in c.items() if k in ("lon", "lat", "fco2", "sst", "sss", "pppp", "slp")
           and v in raw.columns}
    p_hpa = num.get("pppp", pd.Series(np.nan, index=raw.index))
    if "slp" in num:
        p_hpa = p_hpa.fillna(num["slp"])
    p_atm = (p_hpa / 1013.25).fillna(1.0).values
    sst = num.get("sst", pd.Series(np.nan, index=raw.index))
    flag = pd.to_numeric(raw[c["flag"]], errors="coerce").fillna(9).astype(int)
    qc = raw[c["qc"]].astype(str).str.strip() if c["qc"] in raw.columns else pd.Series("A", index=raw.index)
    df = pd.DataFrame({
        "time": time, "lat": num["lat"], "lon": num["lon"], "fco2sw": num["fco2"], "sst": sst,
        "sss": num.get("sss", np.nan), "expocode": raw[c["expocode"]].astype(str),
        "woce_flag": flag, "qc_flag": qc,
    })
    # fCO2rec is at SST; pCO2 = fCO2 / exp(P (B + 2 delta) / RT), Weiss (1974) eq. 9 at the
    # sea-level pressure of the record (PPPP, else NCEP SLP, else 1 atm)
    df["pco2sw"] = fco2_to_pco2(df.fco2sw.values, sst.values, p_atm)
    df["obs_quality_ok"] = (flag == SOCAT_GOOD_WOCE) & qc.isin(SOCAT_GOOD_QC)
    df = df.replace(MISSING, np.nan)
    bad = (df.lat.abs() > 90) | (df.lon < -180) | (df.lon > 360)
    if bad.any():
        raise _err(path, f"{int(bad.sum())} rows have latitude/longitude outside the globe")
    return df[np.isfinite(df.fco2sw) & df.time.notna() & np.isfinite(df.lat)].reset_index(drop=True)


def read_socat_tsv(path, chunksize: int | None = None):
    """SOCAT synthesis or single-cruise tab file: metadata header lines, then the column row
    ``Expocode<TAB>version<TAB>...`` (:data:`SOCAT_COLUMNS`: yr mon day hh mm ss, longitude
    0-360 °E, latitude, fCO2rec at SST in µatm, fCO2rec_flag, QC_Flag, SST, PPPP, NCEP_SLP).

    ``fCO2rec`` is converted to pCO2 at SST with the virial expansion of Weiss (1974, eq. 9; the
    form recommended by Dickson et al. 2007, SOP 24, and used by Körtzinger 1999) at the record's
    sea-level pressure (PPPP, else NCEP_SLP, else 1 atm). Rows are kept whatever their flags:
    ``woce_flag``, ``qc_flag`` and ``obs_quality_ok`` (WOCE 2 and QC A-D, SOCAT's recommendation
    for gridded products) travel with them. With ``chunksize`` an iterator of tables (out of core)."""
    path = Path(path)
    n, header = _socat_header_row(path)
    names = header.rstrip("\n").split("\t")
    need = [SOCAT_COLUMNS[k] for k in ("yr", "mon", "day", "hh", "mm", "ss", "lon", "lat", "fco2", "flag")]
    missing = [c for c in need if c not in names]
    if missing:
        raise _err(path, f"missing columns {missing}")
    use = [v for v in SOCAT_COLUMNS.values() if v in names]

    def frames():
        with open(path, encoding="utf-8-sig", errors="replace", newline=None) as f:
            try:
                reader = pd.read_csv(f, sep="\t", skiprows=n, usecols=use, chunksize=chunksize or 2_000_000,
                                     dtype={SOCAT_COLUMNS["qc"]: str, SOCAT_COLUMNS["expocode"]: str},
                                     na_values=["NaN", "nan", ""])
                for raw in reader:
                    yield _tidy_socat(raw, path)
            except (pd.errors.ParserError, ValueError) as e:
                if isinstance(e, SatCO2Error):
                    raise
                raise _err(path, f"the tab-separated table could not be parsed ({e})") from None

    if chunksize:
        return frames()
    parts = list(frames())
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if df.empty:
        raise _err(path, "no rows with a valid time, position and fCO2rec")
    df.attrs.update(source=str(path), format="socat_tsv")
    return df


# ----------------------------------------------------------------------------------------------
# gridded wide CSV: lat, lon, then one column per time

def read_wide_csv(path, times=None, quantity: str = "value") -> pd.DataFrame:
    """Gridded "wide" CSV: columns ``lat``, ``lon`` (any name of :data:`COLUMN_ALIASES`), then one
    column per time step whose header is a date (``2010-07``, ``2010-07-15``, ``20100715``...).
    When the headers are not dates, ``times`` names the steps in column order (same count).
    Returns the long tidy table (``time, lat, lon, <quantity>``), empty cells dropped."""
    path = Path(path)
    text = _read_text(path)
    try:
        raw = pd.read_csv(io.StringIO(text), sep=None, engine="python", comment="#")
    except (pd.errors.ParserError, ValueError) as e:
        raise _err(path, f"the CSV could not be parsed ({e})") from None
    bare = {str(c).strip().lower(): c for c in raw.columns}
    lat_c, lon_c = _find(bare, "lat"), _find(bare, "lon")
    if lat_c is None or lon_c is None:
        raise _err(path, "a gridded wide CSV needs a lat and a lon column")
    value_cols = [c for c in raw.columns if c not in (lat_c, lon_c)]
    if not value_cols:
        raise _err(path, "no time columns after lat and lon")
    if times:
        times = [t.strip() for t in (times.split(",") if isinstance(times, str) else times)]
        if len(times) != len(value_cols):
            raise _err(path, f"--times names {len(times)} times but the file has {len(value_cols)} "
                             "time columns")
        stamps = pd.to_datetime(pd.Series(times), errors="coerce", format="mixed")
        if stamps.isna().any():
            raise _err(path, f"the times {[t for t, s in zip(times, stamps) if pd.isna(s)]} are not dates")
    else:
        stamps = _header_dates(value_cols)
        if stamps.isna().any():
            bad = [str(c) for c, s in zip(value_cols, stamps) if pd.isna(s)]
            raise _err(path, f"the column headers {bad[:3]} are not dates; name the times of the "
                             "columns in order with --times T1,T2,...")
    vals = raw[value_cols].apply(pd.to_numeric, errors="coerce").astype(float).replace(MISSING, np.nan)
    long = pd.DataFrame({
        "time": np.repeat(stamps.values[None, :], len(raw), 0).ravel(),
        "lat": np.repeat(pd.to_numeric(raw[lat_c], errors="coerce").values, len(value_cols)),
        "lon": np.repeat(pd.to_numeric(raw[lon_c], errors="coerce").values, len(value_cols)),
        quantity: vals.values.ravel(),
    })
    return _finish(long, path, "wide_csv", quantity)


def _header_dates(cols) -> pd.Series:
    out = []
    for c in cols:
        s = str(c).strip()
        t = pd.NaT
        for fmt in ("%Y-%m-%d", "%Y-%m", "%Y%m%d", "%Y%m", "%Y/%m/%d", "%Y/%m", "%Y-%m-%dT%H:%M:%S",
                    "%Y-%m-%d %H:%M:%S", "%d/%m/%Y"):
            try:
                t = pd.to_datetime(s, format=fmt)
                break
            except ValueError:
                continue
        out.append(t)
    return pd.Series(out, dtype="datetime64[ns]")


# ----------------------------------------------------------------------------------------------
# NetCDF trajectories (CF discrete sampling geometries, or any file with time/lat/lon per record)

STANDARD_NAMES: dict[str, str] = {
    "sea_surface_temperature": "sst", "sea_water_temperature": "sst",
    "sea_surface_salinity": "sss", "sea_water_salinity": "sss",
    "sea_water_practical_salinity": "sss",
    "surface_partial_pressure_of_carbon_dioxide_in_sea_water": "pco2sw",
    "partial_pressure_of_carbon_dioxide_in_sea_water": "pco2sw",
    "fugacity_of_carbon_dioxide_in_sea_water": "fco2sw",
    "surface_fugacity_of_carbon_dioxide_in_sea_water": "fco2sw",
    "mass_concentration_of_chlorophyll_a_in_sea_water": "chl",
}
"""CF standard names of observation variables -> observation quantity."""


def read_netcdf_trajectory(path, quantity: str = "pco2sw") -> pd.DataFrame:
    """NetCDF trajectory (CF DSG ``featureType = trajectory``, or any file whose records have
    time, latitude and longitude variables of one shape): the variables found by CF standard name
    (:data:`STANDARD_NAMES`) or by name (:data:`COLUMN_ALIASES`) with their ``units`` converted to
    :data:`CANONICAL_UNITS`; fCO2 becomes pCO2 as in :func:`read_csv`."""
    import xarray as xr

    path = Path(path)
    if not path.is_file():
        raise SatCO2Error(f"observation file {path} does not exist")
    try:
        ds = xr.open_dataset(path, decode_times=True)
    except Exception as e:  # noqa: BLE001 - any decoding problem is the file's
        raise _err(path, f"it could not be opened as NetCDF ({type(e).__name__}: {e})") from None
    with ds:
        def pick(kind):
            n = cf.find(ds, kind, variables=True) or next(
                (n for n in ds.variables if str(n).lower() in COLUMN_ALIASES.get(kind[:3], ())), None)
            if n is None:
                raise _err(path, f"no {kind} variable (looked for CF standard_name {kind!r}, "
                                 f"units and the names {', '.join(cf.NAMES[kind])})")
            return n

        tn, la, lo = pick("time"), pick("latitude"), pick("longitude")
        shape = ds[tn].shape
        cols = {"time": pd.to_datetime(np.asarray(ds[tn].values).ravel(), errors="coerce")}
        for name, n in (("lat", la), ("lon", lo)):
            v = ds[n]
            arr = np.broadcast_to(v.values, shape) if v.shape != shape else v.values
            cols[name] = np.asarray(arr, float).ravel()
        for n, v in ds.data_vars.items():
            q = STANDARD_NAMES.get(v.attrs.get("standard_name", ""))
            if q is None:
                q = next((k for k, al in COLUMN_ALIASES.items() if str(n).lower() in al
                          and k not in ("time", "lat", "lon")), None)
            if q is None or q in cols or v.shape != shape:
                continue
            cols[q] = to_canonical(np.asarray(v.values, float).ravel(), v.attrs.get("units"), q,
                                   f"variable {n!r} of {path}")
    df = pd.DataFrame(cols)
    if "pco2sw" not in df and "fco2sw" in df and "sst" in df:
        df["pco2sw"] = fco2_to_pco2(df.fco2sw.values, df.sst.values, 1.0)
    if quantity not in df:
        have = [c for c in df.columns if c not in ("time", "lat", "lon")]
        raise _err(path, f"no {quantity} variable (found {', '.join(have) or 'none'})")
    return _finish(df, path, "netcdf", quantity)


PARSERS = {"socat": read_socat, "socat_tsv": read_socat_tsv, "mapco2": read_mapco2, "csv": read_csv,
           "wide_csv": read_wide_csv, "netcdf": read_netcdf_trajectory}
"""Observation-file parsers, format name -> ``f(path, **options) -> DataFrame``."""


def detect_format(path) -> str:
    """Guess the parser of ``path`` from its first bytes and lines."""
    path = Path(path)
    if not path.is_file():
        raise SatCO2Error(f"observation file {path} does not exist")
    with open(path, "rb") as f:
        raw = f.read(65536)
    if raw[:4] in (b"CDF\x01", b"CDF\x02", b"\x89HDF"):
        return "netcdf"
    text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    head = text.split("\n")
    if any(ln.startswith("Expocode\t") for ln in head) or (
            "SOCAT" in text[:4000] and "\t" in text and not any(ln.lower().startswith("expocode,") for ln in head)):
        return "socat_tsv"
    if any(ln.lower().startswith("expocode") for ln in head[:10]):
        return "socat"
    if head and "\t" in head[0] and "pCO2 SW" in head[0]:
        return "mapco2"
    first = next((ln for ln in head if ln.strip() and not ln.startswith("#")), "")
    sep = max((",", ";", "\t"), key=first.count) if first else ","
    names = {_split_units(c)[0] for c in first.split(sep)}
    if (names & set(COLUMN_ALIASES["lat"]) and names & set(COLUMN_ALIASES["lon"])
            and not names & set(COLUMN_ALIASES["time"])):
        return "wide_csv"
    return "csv"


def read_observations(path, format: str | None = None, **options) -> pd.DataFrame:
    """Parse an in-situ observation file into the tidy table described in the module docstring
    (``options`` go to the parser: ``quantity``, ``times`` for wide CSVs)."""
    fmt = format or detect_format(path)
    if fmt not in PARSERS:
        raise SatCO2Error(f"unknown observation format {fmt!r}; choose one of {', '.join(PARSERS)}")
    func = PARSERS[fmt]
    import inspect

    accepted = inspect.signature(func).parameters
    opts = {k: v for k, v in options.items() if k in accepted and v is not None}
    df = func(path, **opts)
    df.attrs.setdefault("format", fmt)
    df.attrs.setdefault("source", str(path))
    return df


CHUNKED_FORMATS = ("csv", "socat_tsv")
"""Formats read piece by piece (out of core) by :func:`iter_observations`."""


def iter_observations(path, format: str | None = None, chunksize: int = 2_000_000, **options):
    """Tidy tables of at most ``chunksize`` rows from ``path`` (formats in
    :data:`CHUNKED_FORMATS` are streamed; the others are read whole, they are small by nature)."""
    fmt = format or detect_format(path)
    if fmt in CHUNKED_FORMATS:
        opts = {"quantity": options["quantity"]} if fmt == "csv" and options.get("quantity") else {}
        for df in PARSERS[fmt](path, chunksize=chunksize, **opts):
            df.attrs.update(source=str(path), format=fmt)
            yield df
    else:
        yield read_observations(path, fmt, **options)


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


# ----------------------------------------------------------------------------------------------
# match-up kernels at scale: window extraction, distances, streaming statistics
# (numpy in, numpy out; satco2.analyses.matchups runs them chunk by chunk on the user's Dask cluster)

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius R1 = (2a + b)/3 of GRS80/WGS84, km (Moritz 2000, Geodetic Reference System
1980, J. Geodesy 74:128, section 4)."""

STATS = ("nearest", "median", "mean")
"""How the valid pixels of a window give one value (see :func:`window_values`)."""


def haversine_km(lat1, lon1, lat2, lon2):
    """Great-circle distance on the sphere of radius :data:`EARTH_RADIUS_KM`, km (haversine
    formula, Sinnott 1984, Sky & Telescope 68:159); degrees in."""
    r = np.pi / 180.0
    p1 = np.asarray(lat1, float) * r
    p2 = np.asarray(lat2, float) * r
    a = np.sin((p2 - p1) * 0.5) ** 2
    b = np.sin((np.asarray(lon2, float) - np.asarray(lon1, float)) * (0.5 * r)) ** 2
    a = a + b * np.cos(p1) * np.cos(p2)
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def window_values(block, k, i, j, k_lo=None, k_hi=None, half_t: int = 0, half_px: int = 0,
                  stat: str = "nearest", batch: int = 262_144) -> dict[str, np.ndarray]:
    """Values of a (time, lat, lon) ``block`` in a window around each observation's pixel.

    ``k, i, j``: integer positions of each observation's pixel in ``block``; the window is
    time offsets ``k_lo..k_hi`` (per observation, within ``-half_t..half_t``; default all) and
    ``-half_px..half_px`` pixels in lat and lon, clipped at the block's edges. NaN pixels are
    invalid. ``stat``: ``nearest`` - the valid pixel nearest in grid units (smallest
    dk² + di² + dj², the centre first); ``median`` / ``mean`` of the valid pixels.
    Returns ``value``, ``n_valid``, ``n_window`` (pixels in the window) and ``dk, di, dj``
    (offsets of the pixel the value comes from; the centre for median and mean).
    """
    if stat not in STATS:
        raise SatCO2Error(f"unknown match-up statistic {stat!r}; choose one of {', '.join(STATS)}")
    block = np.asarray(block)
    k, i, j = (np.asarray(a, np.int64) for a in (k, i, j))
    n = k.size
    nt, ny, nx = block.shape
    out = {"value": np.full(n, np.nan), "n_valid": np.zeros(n, np.int32),
           "n_window": np.zeros(n, np.int32), "dk": np.zeros(n, np.int32),
           "di": np.zeros(n, np.int32), "dj": np.zeros(n, np.int32)}
    if n == 0:
        return out
    if half_t == 0 and half_px == 0:
        v = block[k, i, j].astype(float)
        out["value"] = v
        out["n_valid"] = np.isfinite(v).astype(np.int32)
        out["n_window"][:] = 1
        return out
    ot, oy, ox = (a.ravel() for a in np.meshgrid(np.arange(-half_t, half_t + 1),
                                                  np.arange(-half_px, half_px + 1),
                                                  np.arange(-half_px, half_px + 1), indexing="ij"))
    score = (ot**2 + oy**2 + ox**2).astype(float)
    score += np.arange(score.size) * 1e-9 * (score > 0)  # ties: the order of the offsets
    k_lo = np.full(n, -half_t) if k_lo is None else np.asarray(k_lo)
    k_hi = np.full(n, half_t) if k_hi is None else np.asarray(k_hi)
    for s in range(0, n, batch):
        sl = slice(s, s + batch)
        kk, ii, jj = k[sl, None] + ot, i[sl, None] + oy, j[sl, None] + ox
        inside = ((kk >= 0) & (kk < nt) & (ii >= 0) & (ii < ny) & (jj >= 0) & (jj < nx)
                  & (ot >= k_lo[sl, None]) & (ot <= k_hi[sl, None]))
        v = block[np.clip(kk, 0, nt - 1), np.clip(ii, 0, ny - 1), np.clip(jj, 0, nx - 1)].astype(float)
        v[~inside] = np.nan
        ok = np.isfinite(v)
        nv = ok.sum(1)
        out["n_valid"][sl] = nv
        out["n_window"][sl] = inside.sum(1)
        if stat == "nearest":
            sc = np.where(ok, score, np.inf)
            best = sc.argmin(1)
            rows = np.arange(best.size)
            out["value"][sl] = np.where(nv > 0, v[rows, best], np.nan)
            out["dk"][sl] = np.where(nv > 0, ot[best], 0)
            out["di"][sl] = np.where(nv > 0, oy[best], 0)
            out["dj"][sl] = np.where(nv > 0, ox[best], 0)
        else:
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out["value"][sl] = np.nanmedian(v, 1) if stat == "median" else np.nanmean(v, 1)
    return out


MOMENTS = ("n", "sum_d", "sum_d2", "sum_o", "sum_m", "sum_o2", "sum_m2", "sum_om")
"""Sums that :func:`moments` accumulates (o, m shifted by a fixed reference against cancellation)."""


def moments(obs, model, shift: float = 0.0) -> dict[str, float]:
    """Streaming sums of one batch of pairs (finite pairs only): combine batches by adding the
    sums, then :func:`stats_from_moments` gives what :func:`statistics` gives on all pairs.
    ``shift`` (same for every batch) is subtracted from obs and model before the sums."""
    o = np.asarray(obs, float).ravel()
    m = np.asarray(model, float).ravel()
    ok = np.isfinite(o) & np.isfinite(m)
    o, m = o[ok] - shift, m[ok] - shift
    d = m - o
    return {"n": float(ok.sum()), "sum_d": float(d.sum()), "sum_d2": float((d * d).sum()),
            "sum_o": float(o.sum()), "sum_m": float(m.sum()), "sum_o2": float((o * o).sum()),
            "sum_m2": float((m * m).sum()), "sum_om": float((o * m).sum())}


def stats_from_moments(s) -> dict[str, float]:
    """N, mean bias (model - obs), RMSE and R² (squared Pearson correlation) from summed
    :func:`moments` (a dict or a pandas row with the :data:`MOMENTS` keys)."""
    n = int(s["n"])
    out = {"n": n, "mean_bias": np.nan, "rmse": np.nan, "r2": np.nan}
    if n == 0:
        return out
    out["mean_bias"] = s["sum_d"] / n
    out["rmse"] = float(np.sqrt(max(s["sum_d2"] / n, 0.0)))
    if n >= 2:
        mo, mm = s["sum_o"] / n, s["sum_m"] / n
        vo = s["sum_o2"] / n - mo * mo
        vm = s["sum_m2"] / n - mm * mm
        cov = s["sum_om"] / n - mo * mm
        scale = max(abs(s["sum_o2"] / n), abs(s["sum_m2"] / n), 1e-300)
        if vo > 1e-12 * scale and vm > 1e-12 * scale:
            out["r2"] = float(min(cov * cov / (vo * vm), 1.0))
    return out
