"""Vertical DOC profile model: surface DOC (umol L-1) -> DOC(z) down to the sea floor.

Structure after Liu, Pan, Bai et al. (JGR Oceans ~2014, "Estimating dissolved organic carbon
inventories in the East China Sea using remote sensing data", abstract; the same group's review,
Acta Oceanol. Sin. 2014, doi:10.1007/s13131-014-0419-4): a
**uniform** model for vertically mixed water and a **stratified** model, chosen per pixel by a
**water-mass index**. The paper's parameters and thresholds were not found, so every number lives
in ``catalogs/doc/profiles.yaml`` flagged ``substitute: true`` (see :func:`load_params`).

Models (registry :data:`PROFILE_MODELS`, numpy kernels on broadcast arrays):

- ``uniform``: DOC(z) = DOC_surf for 0 <= z <= H.
- ``stratified``: DOC(z) = DOC_surf above the pycnocline z_p (the mixed-layer depth), below
  DOC_deep + (DOC_surf - DOC_deep) * exp(-(z - z_p) / L), with DOC_deep (umol L-1) and L (m)
  from the config.
- ``auto``: uniform where the index H / MLD <= threshold (mixed to the floor), else stratified.

Depths z, H and MLD are in m, positive down; below the sea floor DOC is NaN.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import xarray as xr

from .. import SatCO2Error, config
from ..config import catalog_dir

SUBSTITUTE = True  # the whole parameter set is a substitute (see module docstring)


def load_params(path: str | Path | None = None) -> dict:
    """Profile-model parameters (``catalogs/doc/profiles.yaml``) as plain values plus
    ``substitute`` (list of names whose value is not from the source paper)."""
    path = Path(path) if path else catalog_dir() / "doc" / "profiles.yaml"
    raw = config.load_yaml(path, "profile-model parameters file")
    flat, subs = {}, []
    for group, entries in raw.items():
        for name, spec in entries.items():
            key = f"{group}.{name}"
            flat[key] = spec["value"] if isinstance(spec, dict) else spec
            if isinstance(spec, dict) and spec.get("substitute"):
                subs.append(key)
    flat["substitute"] = subs
    return flat


def _params(params: dict | None, **overrides) -> dict:
    p = copy.deepcopy(params) if params is not None else load_params()
    p.update({k: v for k, v in overrides.items() if v is not None})
    return p


def uniform(doc_surf, z, bottom, mld, p):
    """Uniform column: DOC(z) = DOC_surf (umol L-1)."""
    return np.broadcast_to(doc_surf, np.broadcast_shapes(np.shape(doc_surf), np.shape(z))).astype(float)


def stratified(doc_surf, z, bottom, mld, p):
    """Stratified column: surface value in the mixed layer, exponential relaxation to
    ``stratified.deep_doc`` (umol L-1) with e-folding depth ``stratified.decay_scale`` (m) below."""
    deep = float(p["stratified.deep_doc"])
    L = float(p["stratified.decay_scale"])
    below = np.clip(z - mld, 0.0, None)
    return deep + (doc_surf - deep) * np.exp(-below / L)


def auto(doc_surf, z, bottom, mld, p):
    """Uniform where the water-mass index H / MLD <= ``index.threshold``, else stratified."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mixed = (bottom / mld) <= float(p["index.threshold"])
    return np.where(mixed, uniform(doc_surf, z, bottom, mld, p), stratified(doc_surf, z, bottom, mld, p))


PROFILE_MODELS = {"uniform": uniform, "stratified": stratified, "auto": auto}


def water_mass_index(bottom, mld):
    """Water-mass index H / MLD (1): <= threshold means the column is mixed to the floor."""
    return bottom / mld


def monthly_mld(time: xr.DataArray, params: dict | None = None) -> xr.DataArray:
    """Climatological mixed-layer depth (m) for each time step from ``mixed_layer_depth.monthly``."""
    p = _params(params)
    clim = np.asarray(p["mixed_layer_depth.monthly"], float)
    if clim.shape != (12,):
        raise SatCO2Error("mixed_layer_depth.monthly must list 12 monthly values in m")
    return xr.DataArray(clim[time.dt.month.values - 1], dims=time.dims, coords=time.coords,
                        attrs={"units": "m", "long_name": "mixed-layer depth (climatology, SUBSTITUTE)"})


def _kernel(doc_surf, bottom, mld, z, zb, model, p):
    # doc_surf, bottom, mld: (..., lat, lon) -> (..., nz, lat, lon)
    zz = z[:, None, None]
    out = PROFILE_MODELS[model](doc_surf[..., None, :, :], zz, bottom[..., None, :, :], mld[..., None, :, :], p)
    top = zb[:, 0][:, None, None]
    return np.where(top < bottom[..., None, :, :], out, np.nan)


def doc_profile(doc_surface: xr.DataArray, depth: xr.DataArray | np.ndarray, bottom: xr.DataArray,
                model: str = "auto", mld: xr.DataArray | None = None, params: dict | None = None,
                depth_bnds: np.ndarray | None = None) -> xr.DataArray:
    """3-D DOC (umol L-1, dims [time,] depth, lat, lon) from surface DOC (umol L-1).

    depth: level centres (m, positive down); bottom: sea-floor depth (m, NaN on land) on the same
    lat/lon grid; mld: mixed-layer depth (m), default the monthly climatology of the config;
    model: a key of :data:`PROFILE_MODELS`. Levels whose top lies below the floor are NaN.
    Lazy with dask inputs.
    """
    if model not in PROFILE_MODELS:
        raise SatCO2Error(f"unknown DOC profile model {model!r}; choose one of {sorted(PROFILE_MODELS)}")
    p = _params(params)
    z = np.asarray(getattr(depth, "values", depth), float)
    if depth_bnds is None:
        e = np.concatenate([[0.0], 0.5 * (z[1:] + z[:-1]), [z[-1] + 0.5 * (z[-1] - z[-2]) if z.size > 1 else 2 * z[0]]])
        depth_bnds = np.stack([e[:-1], e[1:]], 1)
    if mld is None:
        if "time" not in doc_surface.dims:
            raise SatCO2Error("doc_profile needs a time coordinate or an explicit mixed-layer depth")
        mld = monthly_mld(doc_surface["time"], p)
    bottom = bottom.where(np.isfinite(bottom), 0.0)
    mld = xr.DataArray(mld) if not isinstance(mld, xr.DataArray) else mld
    mld = mld.broadcast_like(doc_surface)
    out = xr.apply_ufunc(
        _kernel, doc_surface, bottom, mld,
        kwargs=dict(z=z, zb=np.asarray(depth_bnds, float), model=model, p=p),
        input_core_dims=[["lat", "lon"]] * 3,
        output_core_dims=[["depth", "lat", "lon"]],
        dask="parallelized", output_dtypes=[float],
        dask_gufunc_kwargs={"output_sizes": {"depth": z.size}},
    )
    out = out.assign_coords(depth=("depth", z, {"units": "m", "positive": "down", "standard_name": "depth", "axis": "Z"}))
    out.attrs = {"units": "umol L-1", "long_name": f"dissolved organic carbon ({model} profile model)",
                 "profile_model": model, "substitute_parameters": ", ".join(p.get("substitute", []))}
    return out.rename("doc")


def column_inventory(doc3d: xr.DataArray, depth_bnds: np.ndarray, bottom: xr.DataArray) -> xr.DataArray:
    """Column DOC inventory (mol C m-2) = sum over levels of DOC (mmol m-3) x wet thickness (m) / 1000."""
    zb = np.asarray(depth_bnds, float)
    b = bottom.where(np.isfinite(bottom), 0.0)
    top = xr.DataArray(zb[:, 0], dims="depth")
    bot = xr.DataArray(zb[:, 1], dims="depth")
    h = (np.minimum(bot, b) - top).clip(min=0.0)
    inv = (doc3d.fillna(0.0) * h).sum("depth") / 1e3
    inv.attrs = {"units": "mol m-2", "long_name": "column DOC inventory"}
    return inv.where(np.isfinite(bottom))
