"""Readers for ocean-model current output: ROMS s-coordinates and z-level (HYCOM/NEMO/CMEMS) files.

Both return the layout of ``extra-currents-ecs-model``: ``u``, ``v`` (m s-1, eastward/northward,
dims time, depth, lat, lon on cell centres, lat ascending, depth positive down, NaN below the sea
floor) and ``sea_floor_depth`` (m, standard_name ``sea_floor_depth_below_geoid``), CF attributes.

- ``roms`` (:func:`open_roms`): ROMS history/average files. u on (eta_u, xi_u) and v on
  (eta_v, xi_v) are averaged to rho points with xgcm (the staggering is declared from the ROMS
  dimension names), rotated by ``angle`` when present, and the s-levels are interpolated to fixed
  depths. Depths of s-levels follow the ROMS transform (Shchepetkin & McWilliams 2005; ROMS wiki
  "Vertical S-coordinate"): Vtransform 1: z0 = hc s + (h - hc) C, z = z0 + zeta (1 + z0/h);
  Vtransform 2: z0 = (hc s + h C)/(hc + h), z = zeta + (zeta + h) z0. u/v dimensions one
  shorter than rho (a full ROMS grid) or of the same length (an ``ncks`` subset that cut every
  dimension alike, as MET Norway's Nordic-4km sample) are both understood. Curvilinear grids
  (rotated or projected: lat_rho varies along xi) are moved to a regular lat/lon grid
  (:func:`to_regular`) after rotation to east/north.
- ``zlevel`` (:func:`open_zlevel`): z-level files (CMEMS ``uo``/``vo`` on depth/latitude/longitude,
  HYCOM ``water_u``/``water_v``, NEMO). Variables are found by CF standard_name; coordinates by
  standard_name/axis. C-grid staggered velocities declared with the xgcm/COMODO attributes
  (``axis`` plus ``c_grid_axis_shift`` on the staggered coordinate) are moved to the centres with
  xgcm. Projected grids (``projection_x_coordinate`` X/Y with 2-D latitude/longitude, e.g. the
  polar-stereographic MET Norway Arctic20 ROMS output on z-levels) have their grid-relative
  velocities rotated to east/north with :func:`grid_angle` and are moved to a regular lat/lon grid
  with :func:`to_regular`. Files without sea-water velocities are refused in one sentence that
  names what they hold.

``READERS`` maps the reader names to these functions; each takes a path, a list of paths or an
open Dataset and an optional ``depth`` (target depths, m) and returns the Dataset.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ... import SatCO2Error, cf

#: default target depths (m) for s-coordinate output: the demo current product's levels
DEFAULT_DEPTHS = np.array([2.5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 1000], float)

U_NAMES = ("eastward_sea_water_velocity", "sea_water_x_velocity", "baroclinic_eastward_sea_water_velocity",
           "x_sea_water_velocity")
V_NAMES = ("northward_sea_water_velocity", "sea_water_y_velocity", "baroclinic_northward_sea_water_velocity",
           "y_sea_water_velocity")
EARTH_RADIUS_KM = 6371.0


# ----------------------------------------------------------------------------- curvilinear grids

def grid_angle(lon2, lat2) -> np.ndarray:
    """Angle (radians, counter-clockwise) between a curvilinear grid's X axis (last index) and
    east, from the 2-D longitudes and latitudes by centred differences on the sphere (the ROMS
    ``angle`` convention: east = u cos a - v sin a, north = u sin a + v cos a)."""
    lon = np.unwrap(np.radians(np.asarray(lon2, float)), axis=1)
    lat = np.radians(np.asarray(lat2, float))
    dx = np.gradient(lon, axis=1) * np.cos(lat)
    dy = np.gradient(lat, axis=1)
    return np.arctan2(dy, dx)


def _rotate(u, v, angle):
    ca, sa = np.cos(angle), np.sin(angle)
    return u * ca - v * sa, u * sa + v * ca


def to_regular(lon2, lat2, fields: dict, step_km: float | None = None):
    """Fields (..., ny, nx) on a curvilinear lon/lat grid -> a regular lat/lon grid.

    Linear interpolation on the Delaunay triangles of the model points (exact for fields linear
    in lon/lat; NaN at a model point spreads to the triangles that use it, so land stays NaN).
    The target spacing is the model's median cell size (km): dlat = size / 111.2 km and
    dlon = dlat / cos(mean latitude). Targets farther than one cell from every model point (the
    convex hull's empty corners) are NaN. Returns (lat, lon, {name: array})."""
    from scipy.interpolate import LinearNDInterpolator
    from scipy.spatial import Delaunay, cKDTree

    lon2 = np.asarray(lon2, float)
    lat2 = np.asarray(lat2, float)
    if np.nanmax(np.abs(lat2)) > 89.0:
        raise SatCO2Error("the model grid reaches the pole; a regular lat/lon grid cannot hold it (crop it first)")
    if np.nanmax(lon2) - np.nanmin(lon2) > 180:
        lon2 = lon2 % 360.0
    km = np.pi / 180 * EARTH_RADIUS_KM
    coslat = np.cos(np.radians(lat2))
    if step_km is None:
        sx = np.hypot(np.diff(lat2, axis=1), np.diff(lon2, axis=1) * coslat[:, 1:]) * km
        sy = np.hypot(np.diff(lat2, axis=0), np.diff(lon2, axis=0) * coslat[1:]) * km
        step_km = float(np.median(np.concatenate([sx.ravel(), sy.ravel()])))
    dlat = step_km / km
    dlon = dlat / np.cos(np.radians(np.nanmean(lat2)))
    lat = np.arange(np.nanmin(lat2), np.nanmax(lat2) + 1e-9, dlat)
    lon = np.arange(np.nanmin(lon2), np.nanmax(lon2) + 1e-9, dlon)
    L, Y = np.meshgrid(lon, lat)
    scale = np.cos(np.radians(np.nanmean(lat2)))
    pts = np.column_stack([lon2.ravel() * scale, lat2.ravel()])
    tgt = np.column_stack([L.ravel() * scale, Y.ravel()])
    far = cKDTree(pts).query(tgt)[0] > 1.01 * dlat
    tri = Delaunay(pts)
    out = {}
    for name, a in fields.items():
        a = np.asarray(a, float)
        lead = a.shape[:-2]
        vals = a.reshape(-1, a.shape[-2] * a.shape[-1]).T  # (npoints, k)
        res = LinearNDInterpolator(tri, vals)(tgt)  # (ntargets, k)
        res[far] = np.nan
        out[name] = res.T.reshape(*lead, lat.size, lon.size)
    return lat, lon, out


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
    curvilinear = not (np.allclose(lat2, lat2[:, :1]) and np.allclose(lon2, lon2[:1, :]))
    tdim = next((d for d in ds["u"].dims if d not in ("s_rho", "eta_u", "xi_u")), None)
    # declare the staggering for xgcm: u points sit between rho points along xi, v along eta;
    # u[i] lies between rho[i] and rho[i+1]: one shorter than rho on a full grid ("inner"), the
    # same length in a subset cut alike in every dimension ("right")
    sizes = {d: ds.sizes[d] for d in ("xi_rho", "xi_u", "eta_rho", "eta_v", "eta_u", "xi_v") if d in ds.dims}
    if sizes.get("eta_u") != sizes.get("eta_rho") or sizes.get("xi_v") != sizes.get("xi_rho"):
        raise SatCO2Error("the ROMS file's u/v dimensions do not match its rho grid (eta_u must equal eta_rho, "
                          "xi_v equal xi_rho)")
    xpos = "inner" if sizes["xi_u"] == sizes["xi_rho"] - 1 else "right" if sizes["xi_u"] == sizes["xi_rho"] else None
    ypos = "inner" if sizes["eta_v"] == sizes["eta_rho"] - 1 else "right" if sizes["eta_v"] == sizes["eta_rho"] else None
    if xpos is None or ypos is None:
        raise SatCO2Error(f"the ROMS file's u/v grids ({sizes}) are neither one shorter than nor as long as its rho grid")
    grid = xgcm.Grid(ds, coords={"X": {"center": "xi_rho", xpos: "xi_u"},
                                 "Y": {"center": "eta_rho", ypos: "eta_v"}},
                     padding="extend", autoparse_metadata=False)
    # eta_u coincides with eta_rho and xi_v with xi_rho: only one axis is staggered per component
    u = grid.interp(ds["u"].fillna(0.0).rename({"eta_u": "eta_rho"}), "X")
    v = grid.interp(ds["v"].fillna(0.0).rename({"xi_v": "xi_rho"}), "Y")
    if "angle" in ds or curvilinear:  # rotate grid-relative (xi, eta) components to east/north
        a = ds["angle"] if "angle" in ds else xr.DataArray(grid_angle(lon2, lat2), dims=("eta_rho", "xi_rho"))
        u, v = _rotate(u, v, a)
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
    floor = np.where(mask, h, np.nan)
    if curvilinear:
        lat, lon, f = to_regular(lon2, lat2, {"u": ui, "v": vi, "floor": floor})
        ui, vi, floor = f["u"], f["v"], f["floor"]
    else:
        lat = lat2[:, 0].astype(float)
        lon = lon2[0].astype(float)
    time = ds[tdim].values if tdim and tdim in ds.coords else np.arange(nt)
    out = xr.Dataset(
        {"u": (("time", "depth", "lat", "lon"), ui), "v": (("time", "depth", "lat", "lon"), vi),
         "sea_floor_depth": (("lat", "lon"), floor)},
        coords={"time": time, "depth": targets, "lat": lat, "lon": lon},
    )
    out = _cf_attrs(out.sortby("lat"), "roms")
    if curvilinear:
        out.attrs["regridded"] = "curvilinear ROMS grid moved to a regular lat/lon grid (linear, Delaunay)"
    return out


# ----------------------------------------------------------------------------- z-level

def _by_standard_name(ds, names, fallbacks):
    v = cf.by_standard_name(ds, names, fallbacks)
    if v is None:
        held = ", ".join(str(n) for n, v in ds.data_vars.items() if v.ndim >= 2) or "no gridded variable"
        raise SatCO2Error(f"no variable with standard_name {names[0]} (or named {', '.join(fallbacks)}) in the file, "
                          f"which holds {held}")
    return v


def _axis_dim(da: xr.DataArray, ds: xr.Dataset, axis: str, std: str, names) -> str:
    kind = {"X": "longitude", "Y": "latitude", "Z": "depth"}[axis]
    d = cf.find(ds, kind, among=da.dims) or next((d for d in da.dims if d in names), None)
    if d is None:
        raise SatCO2Error(f"cannot find the {std} dimension of {da.name!r} (no CF axis {axis!r} attribute)")
    return d


def open_zlevel(src, depth=None) -> xr.Dataset:
    """Currents from z-level output (CMEMS/HYCOM/NEMO style; see module docstring)."""
    import xgcm

    ds = _open(src)
    u = _by_standard_name(ds, U_NAMES, ("uo", "water_u", "u", "vozocrtx"))
    v = _by_standard_name(ds, V_NAMES, ("vo", "water_v", "v", "vomecrty"))
    projected = _projected_lonlat(ds, u)
    if projected is not None:
        return _open_projected(ds, u, v, *projected, depth=depth)
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


def _projected_lonlat(ds, u):
    """(lon2, lat2) names when ``u`` lives on a projected/curvilinear grid: its horizontal
    dimensions carry projection coordinates or 2-D latitude/longitude variables span them."""
    hdims = set(u.dims[-2:])
    two_d = {}
    for n, c in ds.variables.items():
        std = c.attrs.get("standard_name")
        if std in ("latitude", "longitude") and c.ndim == 2 and set(c.dims) == hdims:
            two_d[std] = n
    if len(two_d) == 2:
        return two_d["longitude"], two_d["latitude"]
    if any(ds[d].attrs.get("standard_name", "").startswith("projection_") for d in hdims if d in ds.variables):
        raise SatCO2Error("the file is on a projected grid without 2-D latitude/longitude variables; "
                          "add them (or regrid to lat/lon) before reading it")
    return None


def _open_projected(ds, u, v, lon_name, lat_name, depth=None) -> xr.Dataset:
    """z-level currents on a projected grid (X/Y with 2-D lon/lat) -> east/north components on a
    regular lat/lon grid (:func:`grid_angle`, :func:`to_regular`)."""
    ydim, xdim = u.dims[-2:]
    zdim = _axis_dim(u, ds, "Z", "depth", ("depth", "lev", "z", "deptht", "depthu"))
    tdim = next((d for d in u.dims if d not in (ydim, xdim, zdim)), None)
    order = [d for d in (tdim, zdim, ydim, xdim) if d]
    uu = u.transpose(*order).values.astype(float)
    vv = v.transpose(*order).values.astype(float)
    if not tdim:
        uu, vv = uu[None], vv[None]
    lon2 = ds[lon_name].transpose(ydim, xdim).values
    lat2 = ds[lat_name].transpose(ydim, xdim).values
    eastward = str(u.attrs.get("standard_name", "")).startswith("eastward")
    if not eastward:  # grid-relative x/y components
        uu, vv = _rotate(uu, vv, grid_angle(lon2, lat2))
    dep = np.abs(ds[zdim].values.astype(float))
    try:
        floor = _by_standard_name(ds, ("sea_floor_depth_below_geoid", "sea_floor_depth",
                                       "sea_floor_depth_below_sea_level"), ("deptho", "h", "bathymetry"))
        fl = floor.transpose(ydim, xdim).values.astype(float)
        if "mask" in ds and ds["mask"].dims == floor.dims:
            fl = np.where(ds["mask"].transpose(ydim, xdim).values > 0, fl, np.nan)
        fl = np.where(np.isfinite(uu[0, 0]), fl, np.nan)
    except SatCO2Error:
        fl = None
    fields = {"u": uu, "v": vv} | ({"floor": fl} if fl is not None else {})
    lat, lon, f = to_regular(lon2, lat2, fields)
    time = ds[tdim].values if tdim and tdim in ds.coords else np.array([np.datetime64("NaT")])
    out = xr.Dataset({"u": (("time", "depth", "lat", "lon"), f["u"]), "v": (("time", "depth", "lat", "lon"), f["v"])},
                     coords={"time": time, "depth": dep, "lat": lat, "lon": lon}).sortby("depth")
    if depth is not None:
        out = out.interp(depth=np.asarray(depth, float))
    if fl is not None:
        out["sea_floor_depth"] = (("lat", "lon"), f["floor"])
    else:
        zb = np.concatenate([[0.0], 0.5 * (out.depth.values[1:] + out.depth.values[:-1]), [out.depth.values[-1] * 1.25]])
        k = out["u"].isel(time=0).notnull().sum("depth")
        out["sea_floor_depth"] = xr.DataArray(zb[k.values], dims=("lat", "lon")).where(k > 0)
    out = _cf_attrs(out, "zlevel")
    out.attrs["regridded"] = "projected grid moved to a regular lat/lon grid (linear, Delaunay); x/y rotated to east/north"
    return out


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
