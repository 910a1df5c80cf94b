"""The pCO2 and air-sea CO2 flux analysis of ``notebooks/pco2_flux.ipynb``: input selection,
the workflow and product writing.

:func:`open_inputs` opens the inputs lazily through :func:`satco2.catalog.open` (product ids in
:data:`INPUTS`, wind product selectable in :data:`WIND_PRODUCTS`);
:func:`satco2.science.air_sea_flux.compute_products` turns them into the four monthly products
(pco2air, pco2sw, dpco2, flux); :func:`write_products` writes them to Zarr atomically with CF
metadata and provenance (parameters, code version, input product ids); :func:`run_analysis` is the
notebook's one call (products, regional summaries for every gas-transfer parameterization, and
match-ups with an observation file).
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import subprocess
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import SatCO2Error, __version__, catalog, io
from ..config import REPO_ROOT
from ..science import gas_exchange as ge
from ..science import air_sea_flux, flux_uncertainty, mesaa, regions, validation
from ..science.air_sea_flux import compute_products, region_weights, regional_summary
from . import zarr_direct

INPUTS: dict[str, tuple[str, str]] = {
    "sst": ("global-sst-oisst-25km", "sst"),
    "sss": ("global-sss-smos-25km", "sss"),
    "wind": ("global-ssw-ccmp-25km", "wind_speed"),
    "chl": ("global-chl-modis-aqua-4km", "chlor_a"),
    "xco2": ("extra-xco2-noaa-gml", "xco2"),
    "slp": ("extra-slp-ncep-reanalysis", "slp"),
}
"""Input role -> (product id, variable name), the defaults of :func:`open_inputs`."""

WIND_PRODUCTS = {"ccmp": "global-ssw-ccmp-25km", "windsat": "global-ssw-windsat-25km",
                 "era5": "extra-ssw-era5-25km"}
"""Wind product choices (name -> product id); all provide ``wind_speed`` (m s-1, 10 m)."""

XCO2_RECORDS = {"noaa-gml": "extra-xco2-noaa-gml", "noaa-mlo": "extra-xco2-noaa-mlo"}
"""Atmospheric xCO2 records (name -> product id), all with ``xco2`` (ppm); the first is the
products' own, the others are levels of the flux uncertainty ensemble."""

# ----------------------------------------------------------------------------------------------
# inputs


def open_inputs(bbox=None, time=None, source: str = "demo", wind_product: str = "ccmp",
                products: dict[str, str] | None = None, roles=None) -> dict[str, xr.DataArray]:
    """Open every input lazily with :func:`satco2.catalog.open`; returns role -> DataArray.

    bbox: (lon_min, lat_min, lon_max, lat_max) degrees; time: (start, end) strings;
    products: optional role -> product id overrides; roles: open only these roles.
    """
    if wind_product not in WIND_PRODUCTS:
        raise SatCO2Error(f"unknown wind product {wind_product!r}; choose one of {', '.join(WIND_PRODUCTS)}")
    ids = {role: pid for role, (pid, _) in INPUTS.items()}
    ids["wind"] = WIND_PRODUCTS[wind_product]
    ids.update(products or {})
    out = {}
    for role, pid in ids.items():
        if roles is not None and role not in roles:
            continue
        ds = catalog.open(pid, source=source, bbox=bbox, time=time)
        var = INPUTS[role][1]
        if var not in ds:
            raise SatCO2Error(f"product {pid} has no variable {var!r} (has {', '.join(ds.data_vars)})")
        da = ds[var]
        da.attrs = {**ds.attrs, **da.attrs, "product_id": ds.attrs.get("product_id", pid)}
        out[role] = da
    return out


def code_version() -> str:
    """``satco2 <version>`` plus the git commit of the source tree when it is a checkout."""
    v = f"satco2 {__version__}"
    try:
        r = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True, timeout=10)
        if r.returncode == 0 and r.stdout.strip():
            v += f" (git {r.stdout.strip()})"
    except (OSError, subprocess.SubprocessError):
        pass
    return v


def write_products(ds: xr.Dataset, path, extra_attrs: dict | None = None) -> Path:
    """Compute and write ``ds`` to the Zarr store ``path`` atomically (:func:`satco2.io.write_zarr`:
    the old store stays whole until the new one replaces it), float32 on disk, with a ``history``
    line; returns the path."""
    path = Path(path)
    out = ds.copy()
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    version = code_version()
    out.attrs["code_version"] = version
    out.attrs["history"] = f"{now} satco2.analyses.pco2_flux.write_products ({version})"
    out.attrs.update(extra_attrs or {})
    enc = {v: {"dtype": "float32"} for v in out.data_vars}
    for v in out.variables.values():
        for key in ("chunks", "preferred_chunks", "compressors", "filters", "shards"):
            v.encoding.pop(key, None)
    if any(out[v].chunks for v in out.data_vars):
        out = out.unify_chunks()
    io.write_zarr(out, path, consolidated=True, zarr_format=3, encoding=enc)
    return path


def write_flux_from_pco2(path, sst: xr.DataArray, sss: xr.DataArray, wind: xr.DataArray,
                         pco2sw: xr.DataArray, xco2: xr.DataArray, slp: xr.DataArray,
                         k_param: str = "W14", dtype=np.float32, encoding: dict | None = None) -> Path:
    """Write the flux from seawater pCO2 (:func:`satco2.science.air_sea_flux.flux_from_pco2`, as
    the variable ``flux``) to the Zarr store ``path`` atomically (:func:`satco2.io.atomic_dir`:
    nothing half-written on failure, an old store stays whole until replaced); returns the path.
    ``encoding``: ``to_zarr``'s, for ``flux``/the coordinates (e.g. the mirror's codec).

    The store is xarray's ``to_zarr`` of that DataArray (metadata, coordinates, attributes). When
    the large inputs are whole variables of local Zarr stores opened with ``xr.open_zarr`` (and
    chunked as stored, with zstd/blosc or no compression; :mod:`satco2.analyses.zarr_direct`),
    the flux chunks are computed chunk by chunk on a thread pool of dask's ``num_workers``: the
    input chunk files decompressed straight into buffers, the kernel, the result compressed and
    written, without dask or zarr-python's codec pipeline (same values and files as the general
    path: tests/science/test_air_sea_flux.py). Otherwise dask computes and xarray writes it."""
    args = (sst, sss, wind, pco2sw, xco2, slp)
    flux = air_sea_flux.flux_from_pco2(*args, k_param=k_param, dtype=dtype)
    ds = flux.rename("flux").to_dataset()
    if flux.chunks is None:  # computed already (inputs held in memory)
        return io.write_zarr(ds, path, consolidated=True, encoding=encoding)
    dims = flux.dims
    big = [a for a in args if a.dims == dims]
    sources = [zarr_direct.source(a) for a in big]
    small_ok = all(a.dims == dims or (set(a.dims) < set(dims) and a.size < 1 << 16
                                      and list(a.dims) == [d for d in dims if d in a.dims]) for a in args)
    if not small_ok or not big or any(s is None for s in sources) or len({(s.shape, s.chunks) for s in sources}) != 1:
        return io.write_zarr(ds, path, consolidated=True, encoding=encoding)
    with io.atomic_dir(path) as tmp:
        with warnings.catch_warnings():
            for msg in io._ZARR_NOTICES:
                warnings.filterwarnings("ignore", message=msg)
            ds.to_zarr(tmp, mode="w", consolidated=True, encoding=encoding, compute=False)
        out = zarr_direct.sink(tmp, "flux")
        if out is None or (out.shape, out.chunks) != (sources[0].shape, sources[0].chunks):
            ds.to_zarr(tmp, mode="w", consolidated=True, encoding=encoding)  # the general path
            return Path(path)
        small = {id(a): a.values.reshape(tuple(a.sizes[d] if d in a.dims else 1 for d in dims))
                 for a in args if a.dims != dims}
        src = {id(a): s for a, s in zip(big, sources)}

        def chunk(idx):
            region = out.region(idx)
            parts = []
            for a in args:
                if id(a) in src:
                    parts.append(src[id(a)].read(idx, np.empty(out.chunks, src[id(a)].dtype)))
                else:
                    v = small[id(a)]
                    parts.append(v[tuple(r if n > 1 else slice(None) for r, n in zip(region, v.shape))])
            res = ge.flux_from_pco2_fast(*parts, k_param=k_param, dtype=out.dtype)
            out.write(idx, res, np.empty(out.chunks, out.dtype))

        with ThreadPoolExecutor(air_sea_flux._threads()) as ex:
            list(ex.map(chunk, np.ndindex(*out.grid)))  # list(): re-raises the first error
    return Path(path)


# ----------------------------------------------------------------------------------------------
# the notebook's analysis, one call

PRODUCTS_FILE = "pco2_flux.zarr"
SUMMARY_FILE = "pco2_flux_summary.zarr"
MATCHUPS_FILE = "pco2_flux_matchups.csv"
STATS_FILE = "pco2_flux_validation.json"
UNCERTAINTY_FILE = "pco2_flux_uncertainty.json"


def summary_regions(region: str, bbox, tolerance: float = 0.5) -> list[str]:
    """``region`` first, then every other named region whose bounding box lies inside ``bbox``
    (degrees, with ``tolerance``): the regions whose budgets a run reports."""
    out = [region]
    for n in regions.names():
        if n == region:
            continue
        try:
            b = regions.bbox(n)
        except SatCO2Error:
            continue
        if (b[0] >= bbox[0] - tolerance and b[1] >= bbox[1] - tolerance
                and b[2] <= bbox[2] + tolerance and b[3] <= bbox[3] + tolerance):
            out.append(n)
    return out


def run_analysis(region: str, start: str, end: str, out_dir, k_param: str = "W14",
                 wind_product: str = "ccmp", mesaa_config: str = "ecs", resolution: float = 0.0,
                 source: str = "demo", obs_file: str = "", fit_bio: bool = False,
                 uncertainty_draws: int = 16, uncertainty_winds=None, uncertainty_xco2=None) -> dict:
    """What ``notebooks/pco2_flux.ipynb`` runs: open the inputs for ``region`` and ``start``..``end``,
    write the products (``pco2_flux.zarr``), the regional summaries (``region`` and the named
    regions inside it, see :func:`summary_regions`) for every gas-transfer parameterization
    (``pco2_flux_summary.zarr``) and, with ``obs_file``, the match-ups
    (``pco2_flux_matchups.csv``) and statistics (``pco2_flux_validation.json``) into ``out_dir``.
    With ``fit_bio`` the bio term's coefficients are first fitted to the observation file
    (:func:`mesaa.fit_bio_term` on in-situ pCO2 minus the mixing term against the product's Chl
    at the match-ups; Chen et al. 2017 tuned the bio term locally the same way) and the products
    are computed with them (recorded in the attributes and in the statistics' ``bio_fit``).
    The uncertainty of the region's budget (``pco2_flux_uncertainty.json``,
    :func:`budget_uncertainty`: parameterizations × the wind products ``uncertainty_winds`` ×
    the xCO2 records ``uncertainty_xco2`` (default: all those the source holds for the region and
    period) × ``uncertainty_draws`` end-member draws) is written too. Returns ``{"products", "summary", "inputs",
    "stats", "uncertainty"}`` (opened Datasets, input records, stats, the decomposition).
    """
    out_dir = Path(out_dir)
    bbox = tuple(map(float, regions.bbox(region)))
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
        with io.atomic_path(out_dir / MATCHUPS_FILE) as tmp:
            m.to_csv(tmp, index=False)
        stats = {"pco2sw": validation.statistics(m["obs_pco2sw"], m["model_pco2sw"]),
                 "obs_file": str(obs_file), "format": obs.attrs.get("format"),
                 "n_observations": int(len(obs))}
        if bio_fit:
            stats["bio_fit"] = bio_fit
        if "obs_pco2air" in m:
            stats["pco2air"] = validation.statistics(m["obs_pco2air"], m["model_pco2air"])
        io.write_json(out_dir / STATS_FILE, io.json_safe(stats), allow_nan=False)
    unc = budget_uncertainty(summary.sel(region=region) if region in summary.region else None, inputs, cfg,
                             region, wind_product, uncertainty_draws, resolution, bbox=bbox,
                             time=(start, end), source=source, winds=uncertainty_winds,
                             xco2_records=uncertainty_xco2)
    io.write_json(out_dir / UNCERTAINTY_FILE, io.json_safe(unc), allow_nan=False)
    records = [{"id": da.attrs.get("product_id", INPUTS[r][0]), "source": source,
                "synthetic": str(da.attrs.get("synthetic", ""))} for r, da in inputs.items()]
    return {"products": ds, "summary": summary, "inputs": records, "stats": stats, "uncertainty": unc}


def budget_uncertainty(summary: xr.Dataset | None, inputs: dict, cfg, region: str, wind_product: str,
                       n_draws: int = 16, resolution: float = 0.0, *, bbox=None, time=None,
                       source: str = "demo", winds=None, xco2_records=None) -> dict:
    """Mean ± σ of the region's period-mean budget and each source's share
    (:func:`satco2.science.flux_uncertainty.decompose`) over gas-transfer parameterization × wind
    product × atmospheric xCO2 record × MeSAA end-member draws.

    - ``k_param``: the four parameterizations (always);
    - ``wind``: ``wind_product`` (the run's) and the other names in ``winds`` (default: every
      :data:`WIND_PRODUCTS` entry), each opened with :func:`open_inputs` from ``source`` for
      ``bbox`` and ``time``; a product the source does not hold there, or not for every month of
      the run, is left out and listed under ``unavailable`` with the reason;
    - ``xco2``: the run's record and the others of ``xco2_records`` (default every
      :data:`XCO2_RECORDS` entry), the same way;
    - ``draw``: ``n_draws`` Monte Carlo draws of the end members where the configuration states
      their 1σ (:func:`~satco2.science.flux_uncertainty.draw_configs`).

    Without ``bbox``/``time`` only the given ``inputs`` are used (one wind, one xCO2 level). The
    members are computed like the run's products: with ``resolution`` on the run's grid
    (``bbox``). When every source but ``k_param`` has one level, the four parameterizations of
    ``summary`` are used (no recomputation)."""
    draws = flux_uncertainty.draw_configs(cfg, n=n_draws, seed=0)
    run_pid = inputs["xco2"].attrs.get("product_id", INPUTS["xco2"][0])
    run_xco2 = next((n for n, pid in XCO2_RECORDS.items() if pid == run_pid), run_pid)
    wind_inputs = {wind_product: inputs["wind"]}
    xco2_inputs = {run_xco2: inputs["xco2"]}
    unavailable: dict[str, str] = {}
    if bbox is not None and time is not None:
        n_time = inputs["sst"].sizes["time"]
        for name in (winds if winds is not None else list(WIND_PRODUCTS)):
            if name not in wind_inputs:
                _open_level(wind_inputs, unavailable, name, n_time, "wind", bbox=bbox, time=time,
                            source=source, wind_product=name, roles=("wind",))
        for name in (xco2_records if xco2_records is not None else list(XCO2_RECORDS)):
            if name not in xco2_inputs:
                if name not in XCO2_RECORDS:
                    raise SatCO2Error(f"unknown xCO2 record {name!r}; choose among {', '.join(XCO2_RECORDS)}")
                _open_level(xco2_inputs, unavailable, name, n_time, "xco2", bbox=bbox, time=time,
                            source=source, products={"xco2": XCO2_RECORDS[name]}, roles=("xco2",))
    if len(draws) == 1 and len(wind_inputs) == 1 and len(xco2_inputs) == 1 and summary is not None:
        b = (summary.budget.mean("time").expand_dims(wind=[wind_product], xco2=[run_xco2], draw=[0])
             .transpose("wind", "xco2", "draw", "k_param"))
    else:
        crossed = {w: {x: {**inputs, "wind": wda, "xco2": xda} for x, xda in xco2_inputs.items()}
                   for w, wda in wind_inputs.items()}
        b = flux_uncertainty.ensemble_budgets(crossed, draws, region=region, resolution=resolution or None,
                                              bbox=bbox if resolution else None)
    out = flux_uncertainty.decompose(b)
    out.update(region=region, units="Tg C yr-1", end_member_draws=len(draws),
               levels={d: [str(v) for v in b[d].values] for d in ("wind", "xco2", "k_param")},
               products={"wind": {w: str(wind_inputs[w].attrs.get("product_id", WIND_PRODUCTS.get(w, w)))
                                  for w in wind_inputs},
                         "xco2": {x: str(xco2_inputs[x].attrs.get("product_id", XCO2_RECORDS.get(x, x)))
                                  for x in xco2_inputs}},
               unavailable=unavailable,
               budgets={"dims": list(b.dims), "values": b.values.tolist()})
    return out


def _open_level(into: dict, unavailable: dict, name: str, n_time: int, role: str, **open_kw) -> None:
    """Open one more level (a wind product, an xCO2 record) of the uncertainty ensemble into
    ``into``, or say in ``unavailable`` why the source cannot give it for the whole run."""
    try:
        da = open_inputs(**open_kw)[role]
    except SatCO2Error as e:
        unavailable[name] = str(e)
        return
    if da.sizes.get("time", 0) != n_time:
        unavailable[name] = (f"{da.attrs.get('product_id', name)} covers {da.sizes.get('time', 0)} of the "
                             f"run's {n_time} months in this source")
        return
    into[name] = da


def matchups_all(ds: xr.Dataset, obs: pd.DataFrame) -> pd.DataFrame:
    """Match-ups of seawater pCO2 (and atmospheric pCO2 where the file has it) with ``ds``."""
    vars_ = ["pco2sw"] + (["pco2air"] if "pco2air" in obs and obs["pco2air"].notna().any() else [])
    return validation.matchups(ds, obs, variables=tuple(vars_))
