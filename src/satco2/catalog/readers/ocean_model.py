"""Readers for ocean-model current output: ROMS s-coordinates and z-level (HYCOM/NEMO/CMEMS) files.

Both return the layout of ``extra-currents-ecs-model``: ``u``, ``v`` (m s-1, eastward/northward,
dims time, depth, lat, lon on cell centres, lat ascending, depth positive down, NaN below the sea
floor) and ``sea_floor_depth`` (m, standard_name ``sea_floor_depth_below_geoid``), CF attributes.

- ``roms`` (:func:`open_roms`): ROMS history/average files. u on (eta_u, xi_u) and v on
  (eta_v, xi_v) are averaged to rho points with xgcm (the staggering is declared from the ROMS
  dimension names), rotated by ``angle`` when present, and the s-levels are interpolated to fixed
  depths. Depths of s-levels follow the ROMS transform (Shchepetkin & McWilliams 2005; ROMS wiki
  "Vertical S-coordinate"): Vtransform 1: z0 = hc s + (h - hc) C, z = z0 + zeta (1 + z0/h);
  Vtransform 2: z0 = (hc s + h C)/(hc + h), z = zeta + (zeta + h) z0. Rectilinear grids only
  (lat_rho constant along xi, lon_rho along eta).
- ``zlevel`` (:func:`open_zlevel`): z-level files (CMEMS ``uo``/``vo`` on depth/latitude/longitude,
  HYCOM ``water_u``/``water_v``, NEMO). Variables are found by CF standard_name; coordinates by
  standard_name/axis. C-grid staggered velocities declared with the xgcm/COMODO attributes
  (``axis`` plus ``c_grid_axis_shift`` on the staggered coordinate) are moved to the centres with
  xgcm.

``READERS`` maps the reader names to these functions; each takes a path, a list of paths or an
open Dataset and an optional ``depth`` (target depths, m) and returns the Dataset.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ... import SatCO2Error

#: default target depths (m) for s-coordinate output: the demo current product's levels
DEFAULT_DEPTHS = np.array([2.5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 1000], float)

U_NAMES = ("eastward_sea_water_velocity", "sea_water_x_velocity", "baroclinic_eastward_sea_water_velocity")
V_NAMES = ("northward_sea_water_velocity", "sea_water_y_velocity", "baroclinic_northward_sea_water_velocity")


def _open(src) -> xr.Dataset:
    if isinstance(src, xr.Dataset):
        return src
    paths = [src] if isinstance(src, (str, Path)) else list(src)
    for p in paths:
        if not Path(p).exists():
            raise SatCO2Error(f"model output file {p} does not exist")
    try:
        if len(paths) == 1:
            return xr.open_dataset(paths[0], engine="netcdf4", decode_times=True)
        return xr.open_mfdataset(paths, engine="netcdf4", combine="by_coords")
    except (OSError, ValueError) as e:
        raise SatCO2Error(f"cannot open the model output {paths[0]}: {e}") from None


def _cf_attrs(ds: xr.Dataset, source: str) -> xr.Dataset:
    ds["u"].attrs = {"units": "m s-1", "standard_name": "eastward_sea_water_velocity", "long_name": "eastward current"}
    ds["v"].attrs = {"units": "m s-1", "standard_name": "northward_sea_water_velocity", "long_name": "northward current"}
    ds["sea_floor_depth"].attrs = {"units": "m", "standard_name": "sea_floor_depth_below_geoid", "positive": "down"}
    ds["lat"].attrs = {"standard_name": "latitude", "units": "degrees_north", "axis": "Y"}
    ds["lon"].attrs = {"standard_name": "longitude", "units": "degrees_east", "axis": "X"}
    ds["depth"].attrs = {"standard_name": "depth", "units": "m", "positive": "down", "axis": "Z"}
    if "time" in ds.coords:
        ds["time"].attrs.update(standard_name="time", axis="T")
    ds.attrs["model_reader"] = source
    return ds


# ----------------------------------------------------------------------------- ROMS

def roms_depths(h, zeta, s, C, hc, vtransform: int):
    """Depth (m, positive down) of ROMS s-levels: h (.., eta, xi) m; zeta (time, eta, xi) m;
    s, C (ns,) stretching coordinates; hc (m). Returns (time, ns, eta, xi)."""
    h = np.asarray(h, float)[None, None]
    zeta = np.asarray(zeta, float)[:, None]
    s = np.asarray(s, float)[None, :, None, None]
    C = np.asarray(C, float)[None, :, None, None]
    if vtransform == 1:
        z0 = hc * s + (h - hc) * C
        z = z0 + zeta * (1.0 + z0 / h)
    elif vtransform == 2:
        z0 = (hc * s + h * C) / (hc + h)
        z = zeta + (zeta + h) * z0
    else:
        raise SatCO2Error(f"ROMS Vtransform {vtransform} is not supported (use 1 or 2)")
    return -z


def _interp_columns(values, depths, bottom, targets):
    """Linear interpolation of (..., nk, y, x) column values at depths (same shape, increasing
    or decreasing along nk) to target depths (nt,) -> (..., nt, y, x); constant above the
    shallowest level, NaN below the sea floor ``bottom`` (y, x)."""
    order = np.argsort(depths, axis=-3)
    d = np.take_along_axis(depths, order, axis=-3)
    v = np.take_along_axis(values, order, axis=-3)
    nk = d.shape[-3]
    out = []
    for zt in targets:
        k = np.sum(d < zt, axis=-3, keepdims=True)  # first level at or below zt
        k1 = np.clip(k, 1, nk - 1)
        d0 = np.take_along_axis(d, k1 - 1, -3)
        d1 = np.take_along_axis(d, k1, -3)
        v0 = np.take_along_axis(v, k1 - 1, -3)
        v1 = np.take_along_axis(v, k1, -3)
        w = np.clip((zt - d0) / np.where(d1 > d0, d1 - d0, 1.0), 0.0, 1.0)
        val = v0 + w * (v1 - v0)
        val = np.where(k == 0, np.take(v, [0], axis=-3), val)
        val = np.where(k == nk, np.take(v, [nk - 1], axis=-3), val)
        val = np.where(zt < bottom, val, np.nan)
        out.append(val[..., 0, :, :])
    return np.stack(out, axis=-3)


def open_roms(src, depth=None) -> xr.Dataset:
    """Currents from ROMS output (see module docstring), interpolated to ``depth`` (m)."""
    import xgcm

    ds = _open(src)
    need = ["u", "v", "h", "s_rho", "lon_rho", "lat_rho"]
    missing = [n for n in need if n not in ds.variables]
    if missing:
        raise SatCO2Error(f"not a ROMS file: the variable(s) {', '.join(missing)} are missing")
    if "Cs_r" not in ds or "hc" not in ds:
        raise SatCO2Error("the ROMS file lacks Cs_r or hc, which define its s-level depths")
    lon2, lat2 = ds["lon_rho"].values, ds["lat_rho"].values
    if not (np.allclose(lat2, lat2[:, :1]) and np.allclose(lon2, lon2[:1, :])):
        raise SatCO2Error("this ROMS grid is curvilinear; only rectilinear ROMS grids are read (regrid it first)")
    tdim = next((d for d in ds["u"].dims if d not in ("s_rho", "eta_u", "xi_u")), None)
    # declare the staggering for xgcm: u points sit between rho points along xi, v along eta
    grid = xgcm.Grid(ds, coords={"X": {"center": "xi_rho", "inner": "xi_u"},
                                 "Y": {"center": "eta_rho", "inner": "eta_v"}},
                     padding="extend", autoparse_metadata=False)
    # eta_u coincides with eta_rho and xi_v with xi_rho: only one axis is staggered per component
    u = grid.interp(ds["u"].fillna(0.0).rename({"eta_u": "eta_rho"}), "X")
    v = grid.interp(ds["v"].fillna(0.0).rename({"xi_v": "xi_rho"}), "Y")
    if "angle" in ds:  # rotate grid-relative (xi, eta) components to east/north
        a = ds["angle"]
        u, v = u * np.cos(a) - v * np.sin(a), u * np.sin(a) + v * np.cos(a)
    h = ds["h"].values.astype(float)
    mask = ds["mask_rho"].values > 0 if "mask_rho" in ds else np.ones_like(h, bool)
    nt = ds.sizes[tdim] if tdim else 1
    zeta = ds["zeta"].values if "zeta" in ds else np.zeros((nt, *h.shape))
    vt = int(ds["Vtransform"].values) if "Vtransform" in ds else 1
    z = roms_depths(h, zeta, ds["s_rho"].values, ds["Cs_r"].values, float(ds["hc"].values), vt)
    targets = np.asarray(DEFAULT_DEPTHS if depth is None else depth, float)
    bottom = np.where(mask, h, 0.0)
    uu = u.transpose(*([tdim] if tdim else []), "s_rho", "eta_rho", "xi_rho").values
    vv = v.transpose(*([tdim] if tdim else []), "s_rho", "eta_rho", "xi_rho").values
    if not tdim:
        uu, vv = uu[None], vv[None]
    ui = _interp_columns(uu, z, bottom, targets)
    vi = _interp_columns(vv, z, bottom, targets)
    lat = lat2[:, 0].astype(float)
    lon = lon2[0].astype(float)
    time = ds[tdim].values if tdim and tdim in ds.coords else np.arange(nt)
    out = xr.Dataset(
        {"u": (("time", "depth", "lat", "lon"), ui), "v": (("time", "depth", "lat", "lon"), vi),
         "sea_floor_depth": (("lat", "lon"), np.where(mask, h, np.nan))},
        coords={"time": time, "depth": targets, "lat": lat, "lon": lon},
    )
    return _cf_attrs(out.sortby("lat"), "roms")


# ----------------------------------------------------------------------------- z-level

def _by_standard_name(ds, names, fallbacks):
    for v in ds.data_vars.values():
        if v.attrs.get("standard_name") in names:
            return v
    for n in fallbacks:
        if n in ds:
            return ds[n]
    raise SatCO2Error(f"no velocity variable with standard_name {names[0]} (or named {', '.join(fallbacks)}) in the file")


def _axis_dim(da: xr.DataArray, ds: xr.Dataset, axis: str, std: str, names) -> str:
    for d in da.dims:
        c = ds[d] if d in ds.variables else None
        if c is not None and (c.attrs.get("axis") == axis or c.attrs.get("standard_name") == std):
            return d
    for d in da.dims:
        if d in names:
            return d
    raise SatCO2Error(f"cannot find the {std} dimension of {da.name!r} (no CF axis {axis!r} attribute)")


def open_zlevel(src, depth=None) -> xr.Dataset:
    """Currents from z-level output (CMEMS/HYCOM/NEMO style; see module docstring)."""
    import xgcm

    ds = _open(src)
    u = _by_standard_name(ds, U_NAMES, ("uo", "water_u", "u", "vozocrtx"))
    v = _by_standard_name(ds, V_NAMES, ("vo", "water_v", "v", "vomecrty"))
    staggered = [c for c in ds.coords if "c_grid_axis_shift" in ds[c].attrs]
    if staggered:
        grid = xgcm.Grid(ds, padding="extend")
        xc = [c for c in ds.coords if ds[c].attrs.get("axis") == "X" and "c_grid_axis_shift" not in ds[c].attrs]
        yc = [c for c in ds.coords if ds[c].attrs.get("axis") == "Y" and "c_grid_axis_shift" not in ds[c].attrs]
        if not xc or not yc:
            raise SatCO2Error("the staggered z-level file has no centre X/Y coordinates (axis without c_grid_axis_shift)")
        if xc[0] not in u.dims:
            u = grid.interp(u.fillna(0.0), "X")
        if yc[0] not in v.dims:
            v = grid.interp(v.fillna(0.0), "Y")
    dims = {}
    for key, axis, std, names in [("lon", "X", "longitude", ("longitude", "lon", "x")),
                                  ("lat", "Y", "latitude", ("latitude", "lat", "y")),
                                  ("depth", "Z", "depth", ("depth", "lev", "z", "deptht", "depthu"))]:
        dims[_axis_dim(u, ds, axis, std, names)] = key
    tdim = next((d for d in u.dims if d not in dims), None)
    if tdim:
        dims[tdim] = "time"
    u = u.rename(dims)
    v = v.rename({k: val for k, val in dims.items() if k in v.dims})
    out = xr.Dataset({"u": u, "v": v})
    out = out.drop_vars([c for c in out.coords if c not in ("time", "depth", "lat", "lon")])
    dep = out["depth"]
    if ds[[k for k, val in dims.items() if val == "depth"][0]].attrs.get("positive") == "up" or float(dep.min()) < 0:
        out = out.assign_coords(depth=np.abs(dep.values))
    if "time" not in out.dims:
        out = out.expand_dims(time=[np.datetime64("NaT")])
    if depth is not None:
        out = out.interp(depth=np.asarray(depth, float))
    out = out.sortby("lat").sortby("depth").transpose("time", "depth", "lat", "lon")
    try:
        floor = _by_standard_name(ds, ("sea_floor_depth_below_geoid", "sea_floor_depth"), ("deptho", "h", "bathymetry"))
        floor = floor.rename({k: val for k, val in dims.items() if k in floor.dims}).sortby("lat")
        out["sea_floor_depth"] = floor.drop_vars([c for c in floor.coords if c not in ("lat", "lon")])
    except SatCO2Error:  # no bathymetry in the file: the bottom of the deepest wet level
        zb = np.concatenate([[0.0], 0.5 * (out.depth.values[1:] + out.depth.values[:-1]),
                             [out.depth.values[-1] * 1.25 if out.depth.size else 0.0]])
        wet = out["u"].isel(time=0).notnull()
        k = wet.sum("depth")
        out["sea_floor_depth"] = xr.DataArray(zb[k.values], dims=("lat", "lon")).where(k > 0)
    return _cf_attrs(out, "zlevel")


def open_auto(src, depth=None) -> xr.Dataset:
    """ROMS when the file has ``s_rho``, else z-level."""
    ds = _open(src)
    return open_roms(ds, depth) if "s_rho" in ds.variables else open_zlevel(ds, depth)


READERS = {"roms": open_roms, "zlevel": open_zlevel, "ocean_model": open_auto}


from .base import Reader  # noqa: E402  (the catalog's reader interface)


class OceanModelReader(Reader):
    """``ocean_model`` reader of the registry: one ROMS or z-level model file -> the
    ``extra-currents-ecs-model`` layout (u, v float32, sea_floor_depth), loaded in memory."""

    name = "ocean_model"
    format = "ROMS s-coordinate or z-level (CMEMS/HYCOM/NEMO) NetCDF model output"

    def open_file(self, path, product=None) -> xr.Dataset:
        p = self.check_file(path)
        with _open(p) as raw:
            ds = open_auto(raw).load()
        for v in ("u", "v", "sea_floor_depth"):
            ds[v] = ds[v].astype(np.float32)
        if (ds.lon > 180).any():
            ds = ds.assign_coords(lon=((ds.lon + 180) % 360) - 180).sortby("lon")
        ds.attrs["source_file"] = p.name
        return ds
