"""Surface dissolved organic carbon (DOC) from satellite CDOM, Rrs and salinity; SeaBASS validation.

Algorithms (registry :data:`DOC_ALGORITHMS`; inputs are variables of the catalog products):

- ``linear_ag443`` - DOC = a + b * a_g(443), a CDOM-DOC mixing line (the form of Liu, Pan, Bai et
  al. 2013, Acta Oceanol. Sin. 32(2):1-11, doi:10.1007/s13131-013-0272-x, whose ECS coefficients
  were not found). Coefficients ``a`` (umol L-1), ``b`` (umol L-1 m) are **fitted to data**: the
  surface (<= 10 m) CliVEC cruise CV1 samples (NASA SeaBASS, Mannino & Mulholland,
  doi:10.5067/SeaBASS/CLIVEC/DATA001), stored in ``catalogs/doc/algorithms.yaml`` and validated on
  the independent cruise CV2 (:func:`validate`). A Mid-Atlantic Bight fit: a SUBSTITUTE for the ECS.
- ``gocad_mlr2`` - GOCAD MLR2 (Aurin, Mannino & Lary 2018, Appl. Sci. 8:2687; coefficients as in
  the NASA-authored ``L2gocad`` function, D. Aurin 2020):
  DOC = 192.718 + 26.790 a_g(380) - 3.558 SSS (umol L-1), valid 47.24-223.79 umol L-1. a_g(380)
  comes from a_g(443) with the exponential CDOM spectrum a_g(380) = a_g(443) exp(S (443 - 380)),
  S (nm-1) the median spectral slope of the CliVEC samples (config).
- ``linear_ag443_from_rrs`` - ``linear_ag443`` applied to a_g(443) from Rrs with :func:`ag_M08`.

CDOM from Rrs: :func:`ag_M08`, Mannino et al. 2008 (JGR 113, doi:10.1029/2007JC004493, MODIS-Aqua
coefficients of the paper as quoted by a third-party implementation):
a_g(l0) = ln((Rrs490/Rrs551 - a)/b)/(-c) (m-1); the MODIS product bands Rrs_488 and Rrs_547 stand
in for 490 and 551.

Calibration (:func:`calibration_table`, :func:`calibrate`, :func:`leave_one_out`): every
DOC/CDOM table of a folder of sample data (the repository's shared ``doc_cdom`` folder: CliVEC; Kowalczuk et al. 2010 IOPAN Baltic; Asmala et al. 2014
Finnish estuaries; Stedmon Dana 2012 Denmark Strait; Tehrani et al. 2013 Louisiana shelf), read
with their quirks caught; each configuration stores its uncertainty and the input ``domain`` it
was fitted on, and inputs outside it raise a :class:`satco2.ValidityWarning`.

Units: a_g in m-1, Rrs in sr-1, SSS on PSS-78 (1), DOC in umol L-1.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import xarray as xr

from .. import SatCO2Error, SatCO2Warning, config
from ..config import catalog_dir
from . import validity

#: Mannino et al. 2008 Table (MODIS-Aqua), a_g(lambda0) from Rrs490/Rrs551: lambda0 -> (a, b, c)
M08_COEFFS = {443: (0.4363, 2.221, 13.126), 412: (0.4553, 2.345, 8.045), 355: (0.4934, 2.731, 3.512)}
#: GOCAD MLR2 (Aurin et al. 2018): DOC = c0 + c1 a_g(380) + c2 SSS, umol L-1; validity range of DOC
GOCAD_MLR2 = (192.718, 26.790, -3.558)
GOCAD_MLR2_RANGE = (47.24, 223.79)

SEABASS_MISSING = -999.0
SEABASS_BDL = -777.0


# ----------------------------------------------------------------------------- SeaBASS

class SeaBASSValueWarning(SatCO2Warning):
    """A SeaBASS file held values that are physically impossible for their field (dropped as missing)."""


#: units (lower case) of quantities that cannot be negative (concentrations, absorption, rates, depth)
NONNEGATIVE_UNITS = {"umol/l", "umol/kg", "mg/m^3", "mg/m3", "mg/l", "ug/l", "mmol/m^3", "mmol/m3", "1/m", "m^-1",
                     "mg/m^3/d", "ug/m^3/d", "mgc/m^3/d", "cells/l", "cells/ml", "m", "psu", "nm-1", "1/nm"}
#: physical bounds of fields by name (lower case)
FIELD_BOUNDS = {"lat": (-90.0, 90.0), "lon": (-180.0, 360.0), "depth": (0.0, 11000.0),
                "wt": (-3.0, 45.0), "sal": (0.0, 45.0)}


def _impossible(name: str, unit: str, v: pd.Series, sentinels: list[float]) -> pd.Series:
    """Values impossible for the field: a sentinel scaled by 10, 100 or 1000 (``-99900`` when
    ``/missing=-999``), outside the field's physical bounds, or negative for a non-negative unit."""
    bad = pd.Series(False, index=v.index)
    for s in sentinels:
        for k in (10.0, 100.0, 1000.0):
            bad |= v == s * k
    lo, hi = FIELD_BOUNDS.get(name.lower(), (None, None))
    if lo is not None:
        bad |= (v < lo) | (v > hi)
    elif unit.lower().replace(" ", "") in NONNEGATIVE_UNITS:
        bad |= v < 0
    return bad & v.notna()


def read_seabass(path: str | Path) -> pd.DataFrame:
    """Read a SeaBASS text file (``/begin_header`` ... ``/end_header``, ``!`` comments, rows split
    on white space or commas; SeaBASS file format, NASA OBPG).

    Values become NaN when they equal the header's ``/missing`` (default -999),
    ``/below_detection_limit`` (default -777; flagged in a boolean column ``<field>_bdl``) or
    ``/above_detection_limit`` (flagged in ``<field>_adl``), and when they are physically
    impossible for the field (:func:`_impossible`: e.g. ``-99900`` in a file whose missing value is
    ``-999``, a negative concentration, a latitude beyond 90). ``df.attrs["dropped"]`` counts
    the values dropped per reason and field; impossible values also raise a
    :class:`SeaBASSValueWarning` that says how many were dropped. ``df.attrs`` holds the header."""
    path = Path(path)
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as e:
        raise SatCO2Error(f"cannot read the SeaBASS file {path}: {e.strerror}") from None
    if not lines or not lines[0].strip().lower().startswith("/begin_header"):
        raise SatCO2Error(f"{path} is not a SeaBASS file (it does not start with /begin_header)")
    header, end = {}, None
    for k, line in enumerate(lines):
        low = line.strip().lower()
        if low.startswith("/end_header"):
            end = k
            break
        if line.startswith("/") and "=" in line:
            key, val = line[1:].split("=", 1)
            header[key.strip().lower()] = val.strip()
    if end is None or "fields" not in header:
        raise SatCO2Error(f"the SeaBASS file {path} has no /end_header or no /fields line")
    fields = [f.strip() for f in header["fields"].split(",")]
    units = [u.strip() for u in header.get("units", "").split(",")]
    units += [""] * (len(fields) - len(units))
    rows = [ln.replace(",", " ").split() for ln in lines[end + 1:] if ln.strip() and not ln.startswith("!")]
    bad = [i for i, r in enumerate(rows) if len(r) != len(fields)]
    if bad:
        raise SatCO2Error(f"the SeaBASS file {path} has {len(bad)} data rows whose column count differs "
                          f"from its {len(fields)} fields (first at data row {bad[0] + 1})")
    raw = pd.DataFrame(rows, columns=fields)

    def _num(key, default):
        val = header.get(key)
        try:
            return float(re.sub(r"\[.*\]", "", val)) if val is not None else default
        except ValueError:
            raise SatCO2Error(f"the SeaBASS header /{key}={val} of {path} is not a number") from None

    missing = _num("missing", SEABASS_MISSING)
    bdl = _num("below_detection_limit", SEABASS_BDL)
    adl = _num("above_detection_limit", None)
    sentinels = [x for x in (missing, bdl, adl) if x is not None]
    dropped = {"missing": {}, "below_detection_limit": {}, "above_detection_limit": {}, "impossible": {}}
    cols = {}
    for f, unit in zip(fields, units):
        num = pd.to_numeric(raw[f], errors="coerce")
        if num.notna().sum() >= 0.5 * len(raw) and f.lower() not in ("date", "time", "station"):
            masks = {"missing": num == missing, "below_detection_limit": num == bdl,
                     "above_detection_limit": (num == adl) if adl is not None else num != num}
            imp = _impossible(f, unit, num.where(~(masks["missing"] | masks["below_detection_limit"]
                                                  | masks["above_detection_limit"])), sentinels)
            masks["impossible"] = imp
            drop = pd.Series(False, index=num.index)
            for reason, m in masks.items():
                drop |= m
                if m.any():
                    dropped[reason][f] = int(m.sum())
            cols[f] = num.where(~drop)
            cols[f + "_bdl"] = masks["below_detection_limit"]
            if adl is not None:
                cols[f + "_adl"] = masks["above_detection_limit"]
        else:
            cols[f] = raw[f]
    if "date" in raw and "time" in raw:
        cols["datetime"] = pd.to_datetime(raw["date"] + " " + raw["time"], format="%Y%m%d %H:%M:%S", errors="coerce")
    df = pd.DataFrame(cols)
    df.attrs = {"header": header, "units": dict(zip(fields, units)), "path": str(path), "dropped": dropped}
    if dropped["impossible"]:
        n = sum(dropped["impossible"].values())
        what = ", ".join(f"{k} ({v})" for k, v in dropped["impossible"].items())
        warnings.warn(f"{path.name}: {n} physically impossible value(s) treated as missing: {what}",
                      SeaBASSValueWarning, stacklevel=2)
    return df


def clivec_files(folder: str | Path) -> dict[str, Path]:
    """The two real CliVEC SeaBASS files (cruise -> path) in ``folder`` (e.g. the shared sample
    data's ``doc_cdom``)."""
    d = Path(folder)
    return {"CV1": d / "CV1_OM_pigments_seabass.txt", "CV2": d / "CV2_OM_pigments_seabass.txt"}


def surface_matchups(df: pd.DataFrame, max_depth: float = 10.0) -> pd.DataFrame:
    """Samples shallower than ``max_depth`` (m) with both DOC and a_g(443) measured."""
    need = ["DOC", "ag443"]
    for n in need + ["depth"]:
        if n not in df:
            raise SatCO2Error(f"the SeaBASS data lack the field {n!r} needed for DOC-CDOM matchups")
    return df[(df["depth"] <= max_depth)].dropna(subset=need)


# ----------------------------------------------------------------------------- kernels

def ag_M08(rrs490, rrs551, wavelength: int = 443):
    """CDOM absorption a_g(wavelength) (m-1) from Rrs490/Rrs551 (sr-1), Mannino et al. 2008 (JGR
    113, doi:10.1029/2007JC004493), MODIS-Aqua coefficients (a, b, c) of :data:`M08_COEFFS`.
    Ratios at or below ``a`` (no CDOM signal) give NaN."""
    if wavelength not in M08_COEFFS:
        raise SatCO2Error(f"Mannino 2008 a_g is defined at {sorted(M08_COEFFS)} nm, not {wavelength}")
    a, b, c = M08_COEFFS[wavelength]
    x = (np.asarray(rrs490, float) / np.asarray(rrs551, float) - a) / b
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)) / (-c), np.nan)


def rrs_ratio_M08(ag, wavelength: int = 443):
    """Inverse of :func:`ag_M08`: the Rrs490/Rrs551 ratio that gives ``ag`` (m-1)."""
    a, b, c = M08_COEFFS[wavelength]
    return a + b * np.exp(-c * np.asarray(ag, float))


def ag_slope(ag_ref, slope, wl_from: float = 443.0, wl_to: float = 380.0):
    """CDOM spectrum a_g(wl_to) = a_g(wl_from) exp(S (wl_from - wl_to)) (m-1, S in nm-1)."""
    return np.asarray(ag_ref, float) * np.exp(np.asarray(slope, float) * (np.asarray(wl_from, float) - wl_to))


def doc_GOCAD_MLR2(ag380, sss, check: bool = True):
    """DOC (umol L-1) = 192.718 + 26.790 a_g(380) - 3.558 SSS, GOCAD MLR2 (Aurin, Mannino & Lary
    2018, Appl. Sci. 8:2687). Warns (:class:`ValidityWarning`) outside 47.24-223.79 umol L-1."""
    c0, c1, c2 = GOCAD_MLR2
    out = c0 + c1 * np.asarray(ag380, float) + c2 * np.asarray(sss, float)
    if check:
        validity.check("doc_GOCAD_MLR2", "DOC", out, *GOCAD_MLR2_RANGE, units="umol L-1", stacklevel=2)
    return out


def doc_linear(ag443, a: float, b: float, domain=None, name: str = "linear_ag443"):
    """DOC (umol L-1) = a + b a_g(443) with a (umol L-1), b (umol L-1 m) fitted to data.

    ``domain`` = (lo, hi): the a_g(443) range (m-1) the coefficients were fitted on; finite inputs
    outside it raise a :class:`satco2.ValidityWarning` that says how many and how far."""
    x = np.asarray(ag443, float)
    if domain is not None:
        check_domain(x, domain, f"{name}: a_g(443)", "m-1")
    return a + b * x


def check_domain(values, domain, what: str, units: str = "") -> int:
    """Warn (:class:`satco2.ValidityWarning`, :func:`satco2.science.validity.check`) when finite
    ``values`` fall outside ``domain`` = (lo, hi), the range a configuration was fitted on; returns
    the number outside."""
    source, _, name = what.rpartition(": ")  # "<algorithm>: <input>"
    return validity.check(source or "DOC algorithm", name, values, float(domain[0]), float(domain[1]),
                          range_name="calibration range", units=units,
                          note="the fitted relation is extrapolated there", stacklevel=2)


# ----------------------------------------------------------------------------- calibration

def algorithms_file() -> Path:
    return catalog_dir() / "doc" / "algorithms.yaml"


def load_config(path: str | Path | None = None) -> dict:
    path = Path(path) if path else algorithms_file()
    return config.load_yaml(path, "DOC algorithm configuration")


def fit_linear(df: pd.DataFrame) -> dict:
    """Ordinary least squares DOC = a + b a_g(443) on SeaBASS surface matchups; also the median
    CDOM spectral slope S (nm-1)."""
    m = surface_matchups(df)
    if len(m) < 3:
        raise SatCO2Error("fewer than 3 surface DOC/a_g(443) matchups: cannot calibrate the linear relation")
    b, a = np.polyfit(m["ag443"].to_numpy(), m["DOC"].to_numpy(), 1)
    r = np.corrcoef(m["ag443"], m["DOC"])[0, 1]
    slope = float(np.nanmedian(df["S"])) if "S" in df else np.nan
    return {"a": round(float(a), 4), "b": round(float(b), 4), "n": int(len(m)), "r2": round(float(r * r), 4),
            "cdom_slope": round(slope, 6)}


def stats(pred, obs) -> dict:
    """N, bias (mean pred - obs), RMSE (same unit as inputs), R2 and mean absolute percentage difference."""
    pred = np.asarray(pred, float)
    obs = np.asarray(obs, float)
    ok = np.isfinite(pred) & np.isfinite(obs)
    d = pred[ok] - obs[ok]
    r = np.corrcoef(pred[ok], obs[ok])[0, 1] if ok.sum() > 2 and np.std(pred[ok]) > 0 else np.nan
    return {"n": int(ok.sum()), "bias": float(d.mean()), "rmse": float(np.sqrt((d ** 2).mean())),
            "r2": float(r * r), "mapd_percent": float(np.mean(np.abs(d) / obs[ok]) * 100)}


def validate(folder: str | Path, calibration: str = "CV1", validation: str = "CV2") -> dict:
    """Calibrate ``linear_ag443`` on one CliVEC cruise and validate on the other (the SeaBASS
    files of :func:`clivec_files` in ``folder``).

    Returns {"fit": coefficients, "calibration": stats on the fit cruise, "validation": stats on
    the independent cruise}; DOC statistics in umol L-1.
    """
    files = clivec_files(folder)
    cal = _read_seabass_quiet(files[calibration])
    val = surface_matchups(_read_seabass_quiet(files[validation]))
    fit = fit_linear(cal)
    mc = surface_matchups(cal)
    return {
        "fit": fit,
        "calibration": {"cruise": calibration, **stats(doc_linear(mc["ag443"], fit["a"], fit["b"]), mc["DOC"])},
        "validation": {"cruise": validation, **stats(doc_linear(val["ag443"], fit["a"], fit["b"]), val["DOC"])},
    }


# ----------------------------------------------------------------------------- calibration tables
#
# One table per source, all in the layout of :data:`TABLE_COLUMNS`: DOC (umol L-1), a_g(443)
# (m-1), salinity (1) and depth (m) of surface samples, the dataset, its water type and a
# ``group`` (cruise or campaign) for leave-one-group-out validation. Each reader catches the
# source's own quirks and counts what it dropped in ``table.attrs["dropped"]``.

TABLE_COLUMNS = ["dataset", "water_type", "group", "doc", "ag443", "salinity", "depth", "ag443_from"]
#: physical bounds used to drop typos in the literature tables (a_g(443) of natural waters stays
#: below ~50 m-1 even in humic lakes; DOC below 5000 umol L-1 outside bogs)
AG443_MAX, DOC_MAX = 50.0, 5000.0
#: micromoles of carbon per milligram (1000 / 12.011, atomic mass of carbon)
UMOL_PER_MG_C = 1000.0 / 12.011


def _surface(df: pd.DataFrame, max_depth: float, dropped: dict) -> pd.DataFrame:
    """Rows with DOC and a_g(443), within physical bounds, shallower than ``max_depth``."""
    n0 = len(df)
    df = df.dropna(subset=["doc", "ag443"])
    dropped["no DOC or a_g(443)"] = n0 - len(df)
    bad = (df["ag443"] <= 0) | (df["ag443"] > AG443_MAX) | (df["doc"] <= 0) | (df["doc"] > DOC_MAX)
    dropped["physically impossible DOC or a_g(443)"] = int(bad.sum())
    df = df[~bad]
    deep = ~(df["depth"] <= max_depth)
    dropped[f"deeper than {max_depth:g} m or depth unknown"] = int(deep.sum())
    return df[~deep]


def _finish(df: pd.DataFrame, dataset: str, water_type: str, dropped: dict, path) -> pd.DataFrame:
    df = df.assign(dataset=dataset, water_type=water_type)
    for c in TABLE_COLUMNS:
        if c not in df:
            df[c] = np.nan
    out = df[TABLE_COLUMNS].reset_index(drop=True)
    out.attrs = {"dropped": {k: v for k, v in dropped.items() if v}, "path": str(path)}
    return out


def _read_seabass_quiet(path) -> pd.DataFrame:
    """:func:`read_seabass` with its impossible-value warning recorded in attrs, not raised."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SeaBASSValueWarning)
        return read_seabass(path)


def table_clivec(path, max_depth: float = 10.0) -> pd.DataFrame:
    """A CliVEC SeaBASS file (Mannino & Mulholland, doi:10.5067/SeaBASS/CLIVEC/DATA001): measured
    a_g(443), DOC; no salinity. Group = the ``/cruise`` of the header."""
    raw = _read_seabass_quiet(path)
    dropped = {f"SeaBASS {r}": sum(v.values()) for r, v in raw.attrs["dropped"].items() if r != "missing"}
    cruise = raw.attrs["header"].get("cruise", Path(path).stem)
    df = pd.DataFrame({"doc": raw["DOC"], "ag443": raw["ag443"], "depth": raw["depth"], "group": cruise,
                       "ag443_from": "ag443"})
    return _finish(_surface(df, max_depth, dropped), "clivec", "Mid-Atlantic Bight shelf/slope", dropped, path)


def _hash_marked(s: pd.Series) -> tuple[pd.Series, int]:
    """Numbers from a spreadsheet column; cells marked ``#`` (e.g. ``#7.2``: doubtful values in the
    IOPAN table) and text become NaN; returns the column and the count of marked cells."""
    txt = s.astype(str).str.strip()
    marked = txt.str.startswith("#") & s.notna()
    return pd.to_numeric(s.where(~marked), errors="coerce"), int(marked.sum())


def table_kowalczuk(path, max_depth: float = 10.0) -> pd.DataFrame:
    """IOPAN Baltic a_CDOM/DOC table 1993-2015 (Kowalczuk et al. 2010, compiled in PMassicotte/cdoc),
    sheet 1 of the .xls. Quirks caught: '#'-marked cells (doubtful values) and text are dropped; a
    summary row without station or date (a443 = 3977) and positions outside the globe or at (0, 0)
    are dropped; ``Nowegian Sea`` is read as ``Norwegian Sea``; depth ``int``/``Int`` (integrated
    samples) is not a surface depth; DOC in umol dm-3, else mg L-1 x 1000/12.011. Group = year-month."""
    try:
        raw = pd.read_excel(path, sheet_name=0, engine="calamine")
    except (OSError, ValueError, ImportError) as e:
        raise SatCO2Error(f"cannot read the IOPAN spreadsheet {path}: {e}") from None
    dropped = {}
    keep = raw["Station name"].notna() & raw["Date"].notna()
    dropped["rows without station or date"] = int((~keep & raw.notna().any(axis=1)).sum())
    raw = raw[keep]
    lat, lon = pd.to_numeric(raw["Lat."], errors="coerce"), pd.to_numeric(raw["Long."], errors="coerce")
    badpos = (lat.abs() > 90) | (lon.abs() > 360) | ((lat == 0) & (lon == 0))
    dropped["impossible positions"] = int(badpos.sum())
    raw = raw[~badpos]
    ag, n1 = _hash_marked(raw["acdom(443)"])
    sal, n2 = _hash_marked(raw["Salinity (PSU)"])
    dropped["'#'-marked cells"] = n1 + n2
    doc_u = pd.to_numeric(raw["DOC micromol/dm3"], errors="coerce")
    doc_m = pd.to_numeric(raw["DOC mg/l"], errors="coerce") * UMOL_PER_MG_C
    depth = pd.to_numeric(raw["Depth (m)"], errors="coerce")
    region = raw["Region"].replace({"Nowegian Sea": "Norwegian Sea"})
    df = pd.DataFrame({"doc": doc_u.fillna(doc_m), "ag443": ag, "salinity": sal, "depth": depth,
                       "group": pd.to_datetime(raw["Date"]).dt.strftime("%Y-%m"), "region": region,
                       "ag443_from": "acdom(443)"})
    return _finish(_surface(df, max_depth, dropped), "kowalczuk", "Baltic Sea (IOPAN)", dropped, path)


def table_asmala(path, max_depth: float = 10.0) -> pd.DataFrame:
    """Finnish Baltic estuaries (Asmala et al. 2014, compiled in PMassicotte/cdoc): a_g(440) and the
    sample's own spectral slope S300-650 (um-1) give a_g(443) = a_g(440) exp(-S 3 nm). Group =
    sampling date (campaign)."""
    try:
        raw = pd.read_excel(path, sheet_name=0, engine="calamine")
    except (OSError, ValueError, ImportError) as e:
        raise SatCO2Error(f"cannot read the Asmala 2014 spreadsheet {path}: {e}") from None
    slope = pd.to_numeric(raw["S300_650"], errors="coerce") / 1000.0
    ag = ag_slope(pd.to_numeric(raw["a440"], errors="coerce"), slope, 440.0, 443.0)
    df = pd.DataFrame({"doc": pd.to_numeric(raw["doc"], errors="coerce"), "ag443": ag,
                       "salinity": pd.to_numeric(raw["salinity"], errors="coerce"),
                       "depth": pd.to_numeric(raw["depth"], errors="coerce"),
                       "group": pd.to_datetime(raw["date"]).dt.strftime("%Y-%m"), "ag443_from": "a440, S300_650"})
    return _finish(_surface(df, max_depth, {}), "asmala", "Finnish Baltic estuaries", {}, path)


def table_dana12(path, max_depth: float = 10.0) -> pd.DataFrame:
    """Denmark Strait 2012 (Stedmon, Dana cruise; compiled in PMassicotte/cdoc): a_g(440) and the
    sample's S300-650 (um-1) give a_g(443); pressure (dbar) is taken as depth (m); negative a440
    (below detection) is dropped. One cruise: group = the cruise."""
    raw = pd.read_csv(path, na_values=["NaN"])
    slope = pd.to_numeric(raw["S300_650"], errors="coerce") / 1000.0
    ag = ag_slope(pd.to_numeric(raw["a440"], errors="coerce"), slope, 440.0, 443.0)
    df = pd.DataFrame({"doc": pd.to_numeric(raw["DOC"], errors="coerce"), "ag443": ag,
                       "salinity": pd.to_numeric(raw["Salinity"], errors="coerce"),
                       "depth": pd.to_numeric(raw["Pressure"], errors="coerce"), "group": "Dana12",
                       "ag443_from": "a440, S300_650"})
    return _finish(_surface(df, max_depth, {}), "dana12", "Denmark Strait", {}, path)


def table_tehrani(path, slope: float, max_depth: float = 10.0) -> pd.DataFrame:
    """Louisiana shelf, Atchafalaya/Mississippi plume (Tehrani et al. 2013, compiled in
    PMassicotte/cdoc): absorption at 412 nm only, no slope in the table: a_g(443) = a_g(412)
    exp(-S 31 nm) with ``slope`` S (nm-1; the CliVEC median of the configuration). Surface
    samples (no depth column: taken as surface). Group = year-month."""
    raw = pd.read_csv(path)
    wl = pd.to_numeric(raw["wavelength"], errors="coerce")
    ag = ag_slope(pd.to_numeric(raw["absorption"], errors="coerce"), slope, wl, 443.0)
    df = pd.DataFrame({"doc": pd.to_numeric(raw["doc"], errors="coerce"), "ag443": ag,
                       "salinity": pd.to_numeric(raw["salinity"], errors="coerce"), "depth": 0.0,
                       "group": raw["year"].astype(str) + "-" + raw["month"].astype(int).map("{:02d}".format),
                       "ag443_from": "a412, CliVEC slope"})
    return _finish(_surface(df, max_depth, {}), "tehrani", "Louisiana shelf (river plume)", {}, path)


#: literature tables not used for a_g(443) calibration, and why
EXCLUDED_TABLES = {
    "cdoc_chen2004.csv": "absorption only at 337 nm and no spectral slope: a_g(443) would be a 106 nm extrapolation",
    "cdoc_helms2008.csv": "absorption only at 254 and 300 nm: a_g(443) would be a UV-slope extrapolation",
}


def calibration_table(folder: str | Path, slope: float | None = None) -> pd.DataFrame:
    """Every surface DOC/a_g(443) sample of the calibration files in ``folder`` (the shared
    ``doc_cdom`` sample folder), one table (:data:`TABLE_COLUMNS`); ``attrs["dropped"]`` per dataset."""
    folder = Path(folder)
    if slope is None:
        slope = load_config()["linear_ag443"]["cdom_slope"]
    parts = [table_clivec(folder / "CV1_OM_pigments_seabass.txt"), table_clivec(folder / "CV2_OM_pigments_seabass.txt"),
             table_kowalczuk(folder / "cdoc_kowalczuk2010a_aCDOM_DOC_1993_2014_non_linear_all_data.xls"),
             table_asmala(folder / "cdoc_asmala2014_data.xlsx"), table_dana12(folder / "cdoc_stedmon_Dana12.csv"),
             table_tehrani(folder / "cdoc_tehrani2013.csv", slope)]
    out = pd.concat(parts, ignore_index=True)
    out.attrs = {"dropped": {}}
    for p in parts:
        key = Path(p.attrs["path"]).name
        out.attrs["dropped"][key] = p.attrs["dropped"]
    return out


def calibrate(table: pd.DataFrame) -> dict:
    """OLS DOC = a + b a_g(443) on a calibration table, with uncertainty and the fitted domain.

    Returns a, b, their standard errors and covariance (from the residual variance, n - 2 degrees
    of freedom), the residual standard deviation ``rmse`` (umol L-1), n, R2, and ``domain``: the
    range of a_g(443), salinity and DOC of the samples (store it with the coefficients; inputs
    outside it raise a :class:`ValidityWarning`)."""
    t = table.dropna(subset=["doc", "ag443"])
    n = len(t)
    if n < 3:
        raise SatCO2Error(f"{n} DOC/a_g(443) samples: at least 3 are needed to calibrate the linear relation")
    x, y = t["ag443"].to_numpy(float), t["doc"].to_numpy(float)
    X = np.column_stack([np.ones(n), x])
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    res = y - X @ beta
    s2 = float(res @ res) / (n - 2)
    cov = s2 * np.linalg.inv(X.T @ X)
    r2 = 1.0 - float(res @ res) / float(((y - y.mean()) ** 2).sum())
    def outward(v, digits):  # rounded away from the data so that every sample stays inside
        k = 10.0 ** digits
        return [float(np.floor(np.nanmin(v) * k) / k), float(np.ceil(np.nanmax(v) * k) / k)]

    dom = {"ag443": outward(x, 5), "doc": outward(y, 2)}
    if "salinity" in t and t["salinity"].notna().any():
        dom["salinity"] = outward(t["salinity"].to_numpy(float), 3)
    return {"a": round(float(beta[0]), 4), "b": round(float(beta[1]), 4),
            "a_se": round(float(np.sqrt(cov[0, 0])), 4), "b_se": round(float(np.sqrt(cov[1, 1])), 4),
            "cov_ab": round(float(cov[0, 1]), 4), "rmse": round(float(np.sqrt(s2)), 3), "n": int(n),
            "r2": round(r2, 4), "domain": dom}


def leave_one_out(table: pd.DataFrame, by: str = "dataset") -> pd.DataFrame:
    """Leave-one-``by``-out validation of :func:`calibrate`: fit on every other group, predict the
    held-out one. One row per held-out group: n, bias, RMSE, R2, MAPD (:func:`stats`, umol L-1) and
    the fraction of its a_g(443) outside the training domain."""
    rows = []
    for g, test in table.groupby(by, sort=False):
        train = table[table[by] != g]
        if len(train.dropna(subset=["doc", "ag443"])) < 3 or len(test) == 0:
            continue
        fit = calibrate(train)
        lo, hi = fit["domain"]["ag443"]
        pred = doc_linear(test["ag443"], fit["a"], fit["b"])
        out = ((test["ag443"] < lo) | (test["ag443"] > hi)).mean()
        rows.append({by: g, "train_n": fit["n"], "a": fit["a"], "b": fit["b"],
                     **stats(pred, test["doc"]), "outside_domain": round(float(out), 3)})
    return pd.DataFrame(rows)


def validate_gocad(table: pd.DataFrame, slope: float | None = None) -> pd.DataFrame:
    """GOCAD MLR2 (:func:`doc_GOCAD_MLR2`, a_g(380) from a_g(443) with the configured CDOM slope,
    as the ``gocad_mlr2`` algorithm does) against every dataset of ``table`` that has salinity:
    :func:`stats` per dataset (umol L-1) and the fraction of observed DOC inside GOCAD's
    validated 47.24-223.79 umol L-1."""
    if slope is None:
        slope = load_config()["linear_ag443"]["cdom_slope"]
    rows = []
    for name, g in table.dropna(subset=["salinity"]).groupby("dataset", sort=False):
        pred = doc_GOCAD_MLR2(ag_slope(g["ag443"], slope, 443.0, 380.0), g["salinity"], check=False)
        lo, hi = GOCAD_MLR2_RANGE
        rows.append({"dataset": name, **stats(pred, g["doc"]),
                     "doc_in_gocad_range": round(float(g["doc"].between(lo, hi).mean()), 3)})
    return pd.DataFrame(rows)


def calibration_configs(table: pd.DataFrame) -> dict:
    """The configurations stored under ``calibrations:`` in ``catalogs/doc/algorithms.yaml``: one
    per water type (dataset) and one on every dataset pooled, each with its domain (``table``
    from :func:`calibration_table`)."""
    out = {}
    for name, t in table.groupby("dataset", sort=False):
        out[name] = {**calibrate(t), "water_type": t["water_type"].iloc[0],
                     "groups": sorted(map(str, t["group"].unique()))[:3] + (["..."] if t["group"].nunique() > 3 else []),
                     "ag443_from": t["ag443_from"].iloc[0]}
    out["pooled"] = {**calibrate(table), "water_type": "all datasets pooled",
                     "datasets": list(dict.fromkeys(table["dataset"]))}
    return out


# ----------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class DocAlgorithm:
    """A surface-DOC algorithm: ``func(ds, cfg) -> DOC ndarray`` on numpy arrays of the named
    ``inputs`` (variables of catalog products), its citation and whether it is a substitute."""

    name: str
    inputs: tuple[str, ...]
    func: Callable
    citation: str
    substitute: bool = False


def _linear_ag443(a_cdom_443, cfg):
    c = cfg["linear_ag443"]
    dom = c.get("domain", {}).get("ag443") if cfg.get("_check_domain", True) else None
    return doc_linear(a_cdom_443, c["a"], c["b"], dom, c.get("_name", "linear_ag443"))


def _gocad(a_cdom_443, sss, cfg):
    ag380 = ag_slope(a_cdom_443, cfg["linear_ag443"]["cdom_slope"], 443.0, 380.0)
    return doc_GOCAD_MLR2(ag380, sss)


def _linear_rrs(Rrs_488, Rrs_547, cfg):
    return _linear_ag443(ag_M08(Rrs_488, Rrs_547, 443), cfg)


DOC_ALGORITHMS: dict[str, DocAlgorithm] = {
    a.name: a for a in [
        DocAlgorithm("linear_ag443", ("a_cdom_443",), _linear_ag443,
                     "CDOM-DOC line (form: Liu, Pan, Bai et al. 2013); fitted to SeaBASS CliVEC CV1", True),
        DocAlgorithm("gocad_mlr2", ("a_cdom_443", "sss"), _gocad,
                     "Aurin, Mannino & Lary 2018, Appl. Sci. 8:2687 (MLR2)"),
        DocAlgorithm("linear_ag443_from_rrs", ("Rrs_488", "Rrs_547"), _linear_rrs,
                     "a_g(443): Mannino et al. 2008 JGR 113; DOC: linear_ag443", True),
    ]
}


def surface_doc(ds: xr.Dataset, algorithm: str = "linear_ag443", config: dict | None = None,
                calibration: str | None = None, check_domain: bool = True) -> xr.DataArray:
    """Surface DOC (umol L-1) from the variables of ``ds`` with a registered algorithm (lazy).

    ``calibration``: the name of an entry of ``calibrations:`` in the configuration (a water
    type, e.g. ``kowalczuk`` for the Baltic) used instead of the default ``linear_ag443``
    coefficients. With ``check_domain`` (default), a_g(443) outside the range the coefficients
    were fitted on raises a :class:`satco2.ValidityWarning` when the values are computed."""
    if algorithm not in DOC_ALGORITHMS:
        raise SatCO2Error(f"unknown DOC algorithm {algorithm!r}; choose one of {sorted(DOC_ALGORITHMS)}")
    alg = DOC_ALGORITHMS[algorithm]
    missing = [v for v in alg.inputs if v not in ds]
    if missing:
        raise SatCO2Error(f"DOC algorithm {algorithm!r} needs the variable(s) {', '.join(missing)} in its input")
    cfg = dict(config or load_config())
    if calibration is not None:
        cals = cfg.get("calibrations", {})
        if calibration not in cals:
            raise SatCO2Error(f"unknown DOC calibration {calibration!r}; choose one of {sorted(cals)}")
        cfg["linear_ag443"] = {**cfg["linear_ag443"], **cals[calibration], "_name": f"calibration {calibration}"}
    cfg["_check_domain"] = check_domain
    out = xr.apply_ufunc(lambda *arrs: alg.func(*arrs, cfg), *[ds[v] for v in alg.inputs],
                         dask="parallelized", output_dtypes=[float])
    out.attrs = {"units": "umol L-1", "long_name": "surface dissolved organic carbon",
                 "algorithm": algorithm, "citation": alg.citation, "substitute": str(alg.substitute)}
    if calibration is not None:
        out.attrs["calibration"] = calibration
    return out.rename("doc_surface")
