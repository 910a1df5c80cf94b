"""Surface dissolved organic carbon (DOC) from satellite CDOM, Rrs and salinity; SeaBASS validation.

Algorithms (registry :data:`DOC_ALGORITHMS`; inputs are variables of the catalog products):

- ``linear_ag443`` - DOC = a + b * a_g(443), a CDOM-DOC mixing line (the form of Liu, Pan, Bai et
  al. 2013, Acta Oceanol. Sin. 32(2):1-11, doi:10.1007/s13131-013-0272-x, whose ECS coefficients
  were not found). Coefficients ``a`` (umol L-1), ``b`` (umol L-1 m) are **fitted to data**: the
  surface (<= 10 m) CliVEC cruise CV1 samples (NASA SeaBASS, Mannino & Mulholland,
  doi:10.5067/SeaBASS/CLIVEC/DATA001), stored in ``catalogs/doc/algorithms.yaml`` and validated on
  the independent cruise CV2 (:func:`validate`). A Mid-Atlantic Bight fit: a SUBSTITUTE for the ECS.
- ``gocad_mlr2`` - GOCAD MLR2 (Aurin, Mannino & Lary 2018, Appl. Sci. 8:2687; SCIENCE-NOTES s3 [S]):
  DOC = 192.718 + 26.790 a_g(380) - 3.558 SSS (umol L-1), valid 47.24-223.79 umol L-1. a_g(380)
  comes from a_g(443) with the exponential CDOM spectrum a_g(380) = a_g(443) exp(S (443 - 380)),
  S (nm-1) the median spectral slope of the CliVEC samples (config).
- ``linear_ag443_from_rrs`` - ``linear_ag443`` applied to a_g(443) from Rrs with :func:`ag_M08`.

CDOM from Rrs: :func:`ag_M08`, Mannino et al. 2008 (JGR 113, doi:10.1029/2007JC004493, MODIS-Aqua
coefficients as quoted in SCIENCE-NOTES s3 [S]): a_g(l0) = ln((Rrs490/Rrs551 - a)/b)/(-c) (m-1);
the MODIS product bands Rrs_488 and Rrs_547 stand in for 490 and 551.

Units: a_g in m-1, Rrs in sr-1, SSS on PSS-78 (1), DOC in umol L-1.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from .. import SatCO2Error, ValidityWarning

#: Mannino et al. 2008 Table (MODIS-Aqua), a_g(lambda0) from Rrs490/Rrs551: lambda0 -> (a, b, c)
M08_COEFFS = {443: (0.4363, 2.221, 13.126), 412: (0.4553, 2.345, 8.045), 355: (0.4934, 2.731, 3.512)}
#: GOCAD MLR2 (Aurin et al. 2018): DOC = c0 + c1 a_g(380) + c2 SSS, umol L-1; validity range of DOC
GOCAD_MLR2 = (192.718, 26.790, -3.558)
GOCAD_MLR2_RANGE = (47.24, 223.79)

#: catalog product holding each algorithm input variable
INPUT_PRODUCTS = {"a_cdom_443": "global-acd-modis-aqua-4km", "sss": "global-sss-smos-25km",
                  "Rrs_488": "global-rrs-modis-aqua-4km", "Rrs_547": "global-rrs-modis-aqua-4km"}

SEABASS_MISSING = -999.0
SEABASS_BDL = -777.0


# ----------------------------------------------------------------------------- SeaBASS

def read_seabass(path: str | Path) -> pd.DataFrame:
    """Read a SeaBASS text file (``/begin_header`` ... ``/end_header``, ``!`` comments, rows split
    on white space). Missing values (``/missing``, -999) become NaN; below-detection values (-777)
    become NaN with a boolean column ``<field>_bdl``. ``df.attrs`` holds the header."""
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
    rows = [ln.replace(",", " ").split() for ln in lines[end + 1:] if ln.strip() and not ln.startswith("!")]
    bad = [i for i, r in enumerate(rows) if len(r) != len(fields)]
    if bad:
        raise SatCO2Error(f"the SeaBASS file {path} has {len(bad)} data rows whose column count differs "
                          f"from its {len(fields)} fields (first at data row {bad[0] + 1})")
    raw = pd.DataFrame(rows, columns=fields)
    missing = float(header.get("missing", SEABASS_MISSING))
    cols = {}
    for f in fields:
        num = pd.to_numeric(raw[f], errors="coerce")
        if num.notna().sum() >= 0.5 * len(raw) and f.lower() not in ("date", "time", "station"):
            cols[f] = num.where((num != missing) & (num != SEABASS_BDL))
            cols[f + "_bdl"] = num == SEABASS_BDL
        else:
            cols[f] = raw[f]
    if "date" in raw and "time" in raw:
        cols["datetime"] = pd.to_datetime(raw["date"] + " " + raw["time"], format="%Y%m%d %H:%M:%S", errors="coerce")
    df = pd.DataFrame(cols)
    df.attrs = {"header": header, "units": dict(zip(fields, units)), "path": str(path)}
    return df


def clivec_files() -> dict[str, Path]:
    """The two real CliVEC SeaBASS files (cruise -> path) in the shared sample data."""
    from ..testing import shared_data

    d = shared_data() / "doc_cdom"
    return {"CV1": d / "CV1_OM_pigments_seabass.txt", "CV2": d / "CV2_OM_pigments_seabass.txt"}


def surface_matchups(df: pd.DataFrame, max_depth: float = 10.0) -> pd.DataFrame:
    """Samples shallower than ``max_depth`` (m) with both DOC and a_g(443) measured."""
    need = ["DOC", "ag443"]
    for n in need + ["depth"]:
        if n not in df:
            raise SatCO2Error(f"the SeaBASS data lack the field {n!r} needed for DOC-CDOM matchups")
    return df[(df["depth"] <= max_depth)].dropna(subset=need)


# ----------------------------------------------------------------------------- kernels

def _valid(values, lo, hi, name):
    v = np.asarray(values, float)
    if np.any((v < lo) | (v > hi)):
        warnings.warn(f"{name} evaluated outside its validated range {lo}-{hi}", ValidityWarning, stacklevel=3)


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
    return np.asarray(ag_ref, float) * np.exp(float(slope) * (wl_from - wl_to))


def doc_GOCAD_MLR2(ag380, sss, check: bool = True):
    """DOC (umol L-1) = 192.718 + 26.790 a_g(380) - 3.558 SSS, GOCAD MLR2 (Aurin, Mannino & Lary
    2018, Appl. Sci. 8:2687). Warns (:class:`ValidityWarning`) outside 47.24-223.79 umol L-1."""
    c0, c1, c2 = GOCAD_MLR2
    out = c0 + c1 * np.asarray(ag380, float) + c2 * np.asarray(sss, float)
    if check:
        fin = out[np.isfinite(out)]
        _valid(fin, *GOCAD_MLR2_RANGE, "GOCAD MLR2 DOC")
    return out


def doc_linear(ag443, a: float, b: float):
    """DOC (umol L-1) = a + b a_g(443) with a (umol L-1), b (umol L-1 m) fitted to data."""
    return a + b * np.asarray(ag443, float)


# ----------------------------------------------------------------------------- calibration

def algorithms_file() -> Path:
    from ..config import catalog_dir

    return catalog_dir() / "doc" / "algorithms.yaml"


def load_config(path: str | Path | None = None) -> dict:
    path = Path(path) if path else algorithms_file()
    try:
        return yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise SatCO2Error(f"cannot read the DOC algorithm configuration {path}: {e}") from None


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


def validate(calibration: str = "CV1", validation: str = "CV2", files: dict | None = None) -> dict:
    """Calibrate ``linear_ag443`` on one CliVEC cruise and validate on the other.

    Returns {"fit": coefficients, "calibration": stats on the fit cruise, "validation": stats on
    the independent cruise}; DOC statistics in umol L-1.
    """
    files = files or clivec_files()
    cal = read_seabass(files[calibration])
    val = surface_matchups(read_seabass(files[validation]))
    fit = fit_linear(cal)
    mc = surface_matchups(cal)
    return {
        "fit": fit,
        "calibration": {"cruise": calibration, **stats(doc_linear(mc["ag443"], fit["a"], fit["b"]), mc["DOC"])},
        "validation": {"cruise": validation, **stats(doc_linear(val["ag443"], fit["a"], fit["b"]), val["DOC"])},
    }


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
    return doc_linear(a_cdom_443, c["a"], c["b"])


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


def input_products(algorithm: str) -> list[str]:
    """Catalog product ids an algorithm reads (in order, without repeats)."""
    if algorithm not in DOC_ALGORITHMS:
        raise SatCO2Error(f"unknown DOC algorithm {algorithm!r}; choose one of {sorted(DOC_ALGORITHMS)}")
    return list(dict.fromkeys(INPUT_PRODUCTS[v] for v in DOC_ALGORITHMS[algorithm].inputs))


def surface_doc(ds: xr.Dataset, algorithm: str = "linear_ag443", config: dict | None = None) -> xr.DataArray:
    """Surface DOC (umol L-1) from the variables of ``ds`` with a registered algorithm (lazy)."""
    if algorithm not in DOC_ALGORITHMS:
        raise SatCO2Error(f"unknown DOC algorithm {algorithm!r}; choose one of {sorted(DOC_ALGORITHMS)}")
    alg = DOC_ALGORITHMS[algorithm]
    missing = [v for v in alg.inputs if v not in ds]
    if missing:
        raise SatCO2Error(f"DOC algorithm {algorithm!r} needs the variable(s) {', '.join(missing)} in its input")
    cfg = config or load_config()
    out = xr.apply_ufunc(lambda *arrs: alg.func(*arrs, cfg), *[ds[v] for v in alg.inputs],
                         dask="parallelized", output_dtypes=[float])
    out.attrs = {"units": "umol L-1", "long_name": "surface dissolved organic carbon",
                 "algorithm": algorithm, "citation": alg.citation, "substitute": str(alg.substitute)}
    return out.rename("doc_surface")
