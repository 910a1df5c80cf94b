"""The four monthly carbon products: pCO2(air), pCO2(sea, MeSAA), ΔpCO2 and air-sea CO2 flux.

:func:`open_inputs` opens the inputs lazily through :func:`satco2.catalog.open` (product ids in
:data:`INPUTS`, wind product selectable in :data:`WIND_PRODUCTS`); :func:`compute_products` turns
them into the products lazily (dask); :func:`write_products` writes them to Zarr atomically with
CF metadata and provenance (parameters, code version, input product ids); :func:`regional_summary`
gives per-region monthly mean flux and budgets (Tg C yr-1) for every gas-transfer
parameterization (the spread used as an uncertainty band).

=========  ===================================================================  ===============
variable   definition                                                           units
=========  ===================================================================  ===============
pco2air    xCO2 (P - pH2O(SST, SSS)), :func:`gas_exchange.pco2_air`             µatm
pco2sw     MeSAA, :func:`mesaa.pco2_mesaa` (+ pco2_mix, dpco2_bio components)   µatm
dpco2      pco2sw - pco2air                                                     µatm
flux       k(U10, SST) K0(SST, SSS) dpco2, positive sea -> air                  mmol C m-2 d-1
=========  ===================================================================  ===============
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import subprocess
import uuid
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import SatCO2Error, __version__
from ..cf import coord_name
from . import gas_exchange as ge
from . import mesaa, regions

INPUTS: dict[str, tuple[str, str]] = {
    "sst": ("global-sst-oisst-25km", "sst"),
    "sss": ("global-sss-smos-25km", "sss"),
    "wind": ("global-ssw-ccmp-25km", "wind_speed"),
    "chl": ("global-chl-modis-aqua-4km", "chlor_a"),
    "xco2": ("extra-xco2-noaa-gml", "xco2"),
    "slp": ("extra-slp-ncep-reanalysis", "slp"),
}
"""Input role -> (product id, variable name), the defaults of :func:`open_inputs`."""

WIND_PRODUCTS = {"ccmp": "global-ssw-ccmp-25km", "windsat": "global-ssw-windsat-25km"}
"""Wind product choices (name -> product id); both provide ``wind_speed`` (m s-1, 10 m)."""

PRODUCT_VARS = ("pco2air", "pco2sw", "dpco2", "flux")


# ----------------------------------------------------------------------------------------------
# inputs


def _month_start(da):
    t = pd.DatetimeIndex(da["time"].values).to_period("M").to_timestamp()
    return da.assign_coords(time=("time", t, da["time"].attrs))


def open_inputs(bbox=None, time=None, source: str = "demo", wind_product: str = "ccmp",
                products: dict[str, str] | None = None) -> dict[str, xr.DataArray]:
    """Open every input lazily with :func:`satco2.catalog.open`; returns role -> DataArray.

    bbox: (lon_min, lat_min, lon_max, lat_max) degrees; time: (start, end) strings;
    products: optional role -> product id overrides.
    """
    from .. import catalog

    if wind_product not in WIND_PRODUCTS:
        raise SatCO2Error(f"unknown wind product {wind_product!r}; choose one of {', '.join(WIND_PRODUCTS)}")
    ids = {role: pid for role, (pid, _) in INPUTS.items()}
    ids["wind"] = WIND_PRODUCTS[wind_product]
    ids.update(products or {})
    out = {}
    for role, pid in ids.items():
        ds = catalog.open(pid, source=source, bbox=bbox, time=time)
        var = INPUTS[role][1]
        if var not in ds:
            raise SatCO2Error(f"product {pid} has no variable {var!r} (has {', '.join(ds.data_vars)})")
        da = ds[var]
        da.attrs = {**ds.attrs, **da.attrs, "product_id": ds.attrs.get("product_id", pid)}
        out[role] = da
    return out


def _step(c) -> float:
    c = np.asarray(c, float)
    return float(np.abs(np.diff(c)).mean()) if c.size > 1 else np.nan


def regrid(da: xr.DataArray, lat, lon) -> xr.DataArray:
    """Put ``da`` on the (lat, lon) cell centres given, lazily.

    Same grid: unchanged. Finer source: block means over the integer factor (``coarsen``), then
    nearest cell. Coarser source: nearest cell (each target cell takes the value of the source
    cell containing it). Time-only inputs (e.g. xCO2 series) are returned as they are and
    broadcast later.
    """
    if not _has(da, "latitude"):
        return da
    la, lo = coord_name(da, "latitude"), coord_name(da, "longitude")
    if la != "lat" or lo != "lon":
        da = da.rename({la: "lat", lo: "lon"})
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    if da.lat.size == lat.size and da.lon.size == lon.size and np.allclose(da.lat, lat) and np.allclose(da.lon, lon):
        return da.assign_coords(lat=lat, lon=lon)
    fy = int(round(_step(lat) / _step(da.lat))) if da.lat.size > 1 and lat.size > 1 else 1
    fx = int(round(_step(lon) / _step(da.lon))) if da.lon.size > 1 and lon.size > 1 else 1
    if fy > 1 or fx > 1:
        da = da.coarsen(lat=max(fy, 1), lon=max(fx, 1), boundary="trim").mean()
    tol = 0.5 * max(_step(lat) if lat.size > 1 else 0, _step(da.lat) if da.lat.size > 1 else 0) + 1e-6
    return da.reindex(lat=lat, lon=lon, method="nearest", tolerance=tol)


def _has(da, kind):
    try:
        coord_name(da, kind)
        return True
    except SatCO2Error:
        return False


def align_inputs(inputs: dict[str, xr.DataArray], resolution: float | None = None,
                 bbox=None) -> dict[str, xr.DataArray]:
    """Common monthly time axis (month start, inner join) and one grid: the SST grid, or a regular
    grid of ``resolution`` degrees over ``bbox`` (or the SST extent)."""
    missing = [r for r in INPUTS if r not in inputs]
    if missing:
        raise SatCO2Error(f"carbon products need inputs {', '.join(missing)} as well")
    sst = inputs["sst"]
    la, lo = coord_name(sst, "latitude"), coord_name(sst, "longitude")
    if resolution:
        if bbox is None:
            s_la, s_lo = _step(sst[la]), _step(sst[lo])
            bbox = (float(sst[lo].min()) - s_lo / 2, float(sst[la].min()) - s_la / 2,
                    float(sst[lo].max()) + s_lo / 2, float(sst[la].max()) + s_la / 2)
        r = float(resolution)
        lon = np.round(np.arange(bbox[0] + r / 2, bbox[2], r), 6)
        lat = np.round(np.arange(bbox[1] + r / 2, bbox[3], r), 6)
    else:
        lat, lon = sst[la].values, sst[lo].values
    out = {}
    for role, da in inputs.items():
        if "time" not in da.dims:
            raise SatCO2Error(f"input {role} ({da.attrs.get('product_id', da.name)}) has no time dimension")
        out[role] = regrid(_month_start(da), lat, lon)
    aligned = xr.align(*out.values(), join="inner", exclude=("lat", "lon"))
    out = dict(zip(out.keys(), aligned))
    if out["sst"].sizes["time"] == 0:
        raise SatCO2Error("the inputs share no month: check the period against each product's coverage")
    return out


# ----------------------------------------------------------------------------------------------
# products


def _pco2air_np(xco2, slp, sst, sss):
    return ge.pco2_air_fast(xco2, slp, sst, sss)


def _flux_np(sst, sss, wind, dpco2, k_param):
    return ge.flux_fast(sst, sss, wind, dpco2, k_param)


def _lazy(func, *args, **kwargs):
    return xr.apply_ufunc(func, *args, kwargs=kwargs, dask="parallelized", output_dtypes=[np.float64])


def compute_products(inputs: dict[str, xr.DataArray], k_param: str = "W14",
                     mesaa_config: str | mesaa.MesaaConfig = "ecs", resolution: float | None = None,
                     bbox=None, parameters: dict | None = None) -> xr.Dataset:
    """The four monthly products (and the MeSAA components), lazily.

    inputs: role -> DataArray (see :data:`INPUTS`; from :func:`open_inputs` or built by hand);
    k_param: a key of :data:`gas_exchange.K_PARAMETERIZATIONS`; mesaa_config: region name of
    ``catalogs/mesaa/`` or a :class:`mesaa.MesaaConfig`. Nothing is computed until ``.compute()``
    or :func:`write_products`.
    """
    ge.get_k(k_param)  # fail early on an unknown name
    cfg = mesaa.load_config(mesaa_config) if isinstance(mesaa_config, str) else mesaa_config
    x = align_inputs(inputs, resolution=resolution, bbox=bbox)
    sst, sss, wind, chl, xco2, slp = (x[r] for r in ("sst", "sss", "wind", "chl", "xco2", "slp"))
    ms = mesaa.pco2_mesaa(sst, sss, chl, cfg)
    pco2air = _lazy(_pco2air_np, xco2, slp, sst, sss)
    dpco2 = ms.pco2sw - pco2air
    flux = _lazy(_flux_np, sst, sss, wind, dpco2, k_param=k_param)
    attrs_u = {"units": "uatm"}
    ds = xr.Dataset({
        "pco2air": pco2air.assign_attrs(
            standard_name="surface_partial_pressure_of_carbon_dioxide_in_air",
            long_name="atmospheric pCO2 at the sea surface (water-vapour saturated)", **attrs_u),
        "pco2sw": ms.pco2sw,
        "dpco2": dpco2.assign_attrs(
            standard_name="surface_carbon_dioxide_partial_pressure_difference_between_sea_water_and_air",
            long_name="pCO2 difference sea - air", **attrs_u),
        "flux": flux.assign_attrs(
            long_name=f"air-sea CO2 flux, positive from sea to air (k {k_param})",
            units="mmol m-2 d-1",
            comment="sign: positive = outgassing (sea to air), negative = uptake; no CF "
                    "standard_name is set because the CF CO2 mole-flux name is downward-positive"),
        "pco2_mix": ms.pco2_mix,
        "dpco2_bio": ms.dpco2_bio,
        "wind_speed": wind.assign_attrs(units="m s-1", long_name="10-m wind speed (input)"),
        "sst": sst.assign_attrs(units="degC", long_name="sea surface temperature (input)"),
        "sss": sss.assign_attrs(units="1", long_name="sea surface salinity (input)"),
        "chlor_a": chl.assign_attrs(units="mg m-3", long_name="chlorophyll-a (input, NaN in gaps)"),
    })
    ds = ds.transpose("time", "lat", "lon")
    ds["lat"].attrs.update(standard_name="latitude", units="degrees_north", axis="Y")
    ds["lon"].attrs.update(standard_name="longitude", units="degrees_east", axis="X")
    ds["time"].attrs.update(standard_name="time", axis="T")
    ids = {r: x[r].attrs.get("product_id", INPUTS[r][0]) for r in INPUTS}
    synthetic = any(str(inputs[r].attrs.get("synthetic", "")).startswith("yes") for r in inputs)
    params = {"k_param": k_param, "mesaa_config": cfg.name, "resolution": resolution,
              **(parameters or {})}
    ds.attrs.update({
        "Conventions": "CF-1.8",
        "title": "MeSAA monthly pCO2 and air-sea CO2 flux",
        "references": "Bai et al. (2015) doi:10.1002/2014JC010632; Wanninkhof (2014); Weiss (1974)",
        "input_products": ", ".join(f"{r}={pid}" for r, pid in ids.items()),
        "parameters": json.dumps(params, default=str, sort_keys=True),
        "k_param": k_param,
        "code_version": code_version(),
        "synthetic": "yes" if synthetic else "no",
        **cfg.as_attrs(),
    })
    return ds


def code_version() -> str:
    """``satco2 <version>`` plus the git commit of the source tree when it is a checkout."""
    v = f"satco2 {__version__}"
    try:
        from ..config import REPO_ROOT

        r = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True, timeout=10)
        if r.returncode == 0 and r.stdout.strip():
            v += f" (git {r.stdout.strip()})"
    except (OSError, subprocess.SubprocessError):
        pass
    return v


def write_products(ds: xr.Dataset, path, extra_attrs: dict | None = None) -> Path:
    """Compute and write ``ds`` to the Zarr store ``path`` atomically (temporary sibling, then
    rename), float32 on disk, with a ``history`` line; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    out = ds.copy()
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    out.attrs["history"] = f"{now} satco2.science.carbon.write_products ({code_version()})"
    out.attrs.update(extra_attrs or {})
    enc = {v: {"dtype": "float32"} for v in out.data_vars}
    for v in out.variables.values():
        for key in ("chunks", "preferred_chunks", "compressors", "filters", "shards"):
            v.encoding.pop(key, None)
    if any(out[v].chunks for v in out.data_vars):
        out = out.unify_chunks()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            # short string coordinates (k_param, region) are stored as fixed-length UTF-32, which
            # zarr-python reads back but flags as not (yet) in the Zarr v3 specification
            warnings.filterwarnings("ignore", message=".*FixedLengthUTF32.*")
            out.to_zarr(tmp, mode="w", consolidated=True, zarr_format=3, encoding=enc)
        if path.exists():
            old = path.with_name(f".{path.name}.{uuid.uuid4().hex}.old")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


# ----------------------------------------------------------------------------------------------
# regional summaries


def region_weights(name: str, ds: xr.Dataset) -> xr.DataArray:
    """Fraction of each cell in region ``name`` (:func:`satco2.science.regions.mask`)."""
    return regions.mask(name, ds)


def regional_summary(ds: xr.Dataset, weights: xr.DataArray | None = None) -> xr.Dataset:
    """Per month: area-weighted mean flux (mmol m-2 d-1) over the region's valid cells and the
    budget (Tg C yr-1) = that mean x the region's ocean area (cells where SST is valid), for every
    gas-transfer parameterization of :data:`gas_exchange.K_PARAMETERIZATIONS` (dim ``k_param``),
    plus mean pco2sw, pco2air, dpco2. Scaling the valid-cell mean to the whole ocean area fills
    cloud gaps with the regional mean (stated in the attributes)."""
    area = xr.DataArray(ge.cell_area_WGS84(ds.lat.values, ds.lon.values), dims=("lat", "lon"),
                        coords={"lat": ds.lat, "lon": ds.lon})
    if weights is not None:
        area = area * weights
    ocean_area = (area * ds.sst.notnull()).sum(("lat", "lon"))
    fluxes = []
    names = list(ge.K_PARAMETERIZATIONS)
    for k in names:
        fluxes.append(_lazy(_flux_np, ds.sst, ds.sss, ds.wind_speed, ds.dpco2, k_param=k))
    fk = xr.concat(fluxes, dim=pd.Index(names, name="k_param"))

    def amean(v):
        w = area * v.notnull()
        return (v.fillna(0) * area).sum(("lat", "lon")) / w.sum(("lat", "lon"))

    mean_flux = amean(fk)
    out = xr.Dataset({
        "flux_mean": mean_flux.assign_attrs(units="mmol m-2 d-1", long_name="regional mean flux"),
        "budget": (mean_flux * ocean_area * 1e-3 * ge.MOLAR_MASS_C * ge.DAYS_PER_YEAR / 1e12).assign_attrs(
            units="Tg C yr-1", long_name="regional air-sea CO2 flux (annualized rate of each month)",
            comment="valid-cell mean flux x ocean area (WGS84 cell areas); positive = source"),
        "pco2sw_mean": amean(ds.pco2sw).assign_attrs(units="uatm"),
        "pco2air_mean": amean(ds.pco2air).assign_attrs(units="uatm"),
        "dpco2_mean": amean(ds.dpco2).assign_attrs(units="uatm"),
        "ocean_area": ocean_area.assign_attrs(units="m2"),
    })
    out.attrs["k_param_default"] = ds.attrs.get("k_param", "W14")
    return out


# ----------------------------------------------------------------------------------------------
# the notebook's analysis, one call

PRODUCTS_FILE = "pco2_flux.zarr"
SUMMARY_FILE = "pco2_flux_summary.zarr"
MATCHUPS_FILE = "pco2_flux_matchups.csv"
STATS_FILE = "pco2_flux_validation.json"


def region_bbox(name: str) -> tuple[float, float, float, float]:
    """Bounding box of a named region (:func:`satco2.science.regions.bbox`)."""
    return tuple(map(float, regions.bbox(name)))


def summary_regions(region: str, bbox, tolerance: float = 0.5) -> list[str]:
    """``region`` first, then every other named region whose bounding box lies inside ``bbox``
    (degrees, with ``tolerance``): the regions whose budgets a run reports."""
    try:
        from . import regions

        names = regions.names()
    except ImportError:  # pragma: no cover - before satco2.science.regions existed
        return [region]
    out = [region]
    for n in names:
        if n == region:
            continue
        try:
            b = region_bbox(n)
        except SatCO2Error:
            continue
        if (b[0] >= bbox[0] - tolerance and b[1] >= bbox[1] - tolerance
                and b[2] <= bbox[2] + tolerance and b[3] <= bbox[3] + tolerance):
            out.append(n)
    return out


def run_analysis(region: str, start: str, end: str, out_dir, k_param: str = "W14",
                 wind_product: str = "ccmp", mesaa_config: str = "ecs", resolution: float = 0.0,
                 source: str = "demo", obs_file: str = "", fit_bio: bool = False) -> dict:
    """What ``notebooks/pco2_flux.ipynb`` runs: open the inputs for ``region`` and ``start``..``end``,
    write the products (``pco2_flux.zarr``), the regional summaries (``region`` and the named
    regions inside it, see :func:`summary_regions`) for every gas-transfer parameterization
    (``pco2_flux_summary.zarr``) and, with ``obs_file``, the match-ups
    (``pco2_flux_matchups.csv``) and statistics (``pco2_flux_validation.json``) into ``out_dir``.
    With ``fit_bio`` the bio term's coefficients are first fitted to the observation file
    (:func:`mesaa.fit_bio_term` on in-situ pCO2 minus the mixing term against the product's Chl
    at the match-ups; Chen et al. 2017 tuned the bio term locally the same way) and the products
    are computed with them (recorded in the attributes and in the statistics' ``bio_fit``).
    Returns ``{"products", "summary", "inputs", "stats"}`` (opened Datasets, input records, stats).
    """
    from . import validation

    out_dir = Path(out_dir)
    bbox = region_bbox(region)
    ge.get_k(k_param)
    cfg = mesaa.load_config(mesaa_config)  # bad names fail before any computation
    obs = validation.read_observations(obs_file) if obs_file else None  # fail before computing
    if fit_bio and obs is None:
        raise SatCO2Error("fitting the bio term (fit_bio) needs an observation file (obs_file)")
    inputs = open_inputs(bbox=bbox, time=(start, end), source=source, wind_product=wind_product)
    params = {"region": region, "start": start, "end": end, "wind_product": wind_product,
              "source": source, "obs_file": str(obs_file or ""), "fit_bio": bool(fit_bio)}

    def products(c):
        return compute_products(inputs, k_param=k_param, mesaa_config=c,
                                resolution=resolution or None, bbox=bbox if resolution else None,
                                parameters=params)

    ds = products(cfg)
    bio_fit = None
    if fit_bio:
        import dataclasses

        form = cfg.bio_form if cfg.bio_form in mesaa.FITTABLE_BIO_TERMS else "log10"
        m = validation.matchups(ds, obs, variables=("pco2sw", "pco2_mix", "chlor_a"))
        coefs = mesaa.fit_bio_term(m["obs_pco2sw"], m["model_pco2_mix"], m["model_chlor_a"], form)
        prov = {k: v for k, v in cfg.provenance.items() if not k.startswith("bio.")}
        prov["bio"] = {"citation": f"fitted to match-ups with {Path(obs_file).name}"}
        cfg = dataclasses.replace(cfg, name=f"{cfg.name}+bio fitted", bio_form=form,
                                  bio_coefficients=coefs, provenance=prov)
        n_fit = int((np.isfinite(m["obs_pco2sw"]) & np.isfinite(m["model_chlor_a"])).sum())
        bio_fit = {"form": form, **coefs, "n": n_fit}
        ds = products(cfg)
    write_products(ds, out_dir / PRODUCTS_FILE)
    ds = xr.open_zarr(out_dir / PRODUCTS_FILE)
    parts = []
    for name in summary_regions(region, bbox):
        w = region_weights(name, ds)
        if float(w.sum()) > 0:
            parts.append(regional_summary(ds, w).compute().expand_dims(region=[name]))
    summary = xr.concat(parts, dim="region")
    summary.attrs.update(ds.attrs)
    write_products(summary, out_dir / SUMMARY_FILE)
    stats = None
    if obs is not None:
        m = matchups_all(ds, obs)
        m.to_csv(out_dir / MATCHUPS_FILE, index=False)
        stats = {"pco2sw": validation.statistics(m["obs_pco2sw"], m["model_pco2sw"]),
                 "obs_file": str(obs_file), "format": obs.attrs.get("format"),
                 "n_observations": int(len(obs))}
        if bio_fit:
            stats["bio_fit"] = bio_fit
        if "obs_pco2air" in m:
            stats["pco2air"] = validation.statistics(m["obs_pco2air"], m["model_pco2air"])
        tmp = out_dir / f".{STATS_FILE}.tmp"
        tmp.write_text(json.dumps(_json_safe(stats), indent=2, allow_nan=False))
        os.replace(tmp, out_dir / STATS_FILE)
    records = [{"id": da.attrs.get("product_id", INPUTS[r][0]), "source": source,
                "synthetic": str(da.attrs.get("synthetic", ""))} for r, da in inputs.items()]
    return {"products": ds, "summary": summary, "inputs": records, "stats": stats}


def _json_safe(obj):
    """NaN/inf -> None (strict JSON), numpy scalars -> Python numbers, recursively."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def matchups_all(ds: xr.Dataset, obs: pd.DataFrame) -> pd.DataFrame:
    """Match-ups of seawater pCO2 (and atmospheric pCO2 where the file has it) with ``ds``."""
    from . import validation

    vars_ = ["pco2sw"] + (["pco2air"] if "pco2air" in obs and obs["pco2air"].notna().any() else [])
    return validation.matchups(ds, obs, variables=tuple(vars_))
