"""Volume and DOC transport through sections and around closed boxes (flux form, C-grid faces).

Method
------
Velocities given at cell centres (an A-grid, e.g. ``extra-currents-ecs-model`` or a model read by
:mod:`satco2.catalog.readers.ocean_model`) are moved to the faces of an Arakawa C-grid: the east
face between cells ``i-1`` and ``i`` and the north face between rows ``j-1`` and ``j``. A face
carries the volume transport ``U = u_face * h_face * dy`` (m3 s-1), with ``u_face`` the mean of the
two neighbouring cells and ``h_face`` the wet thickness common to both (the smaller of the two
partial-cell thicknesses, zero where either side is land or below the sea floor). Models that
already give face transports (or analytic flows) pass them in directly with :class:`FaceFluxes`.

- A **section** (a polyline in lon/lat, or an isobath) is turned into a staircase of cell faces
  (the path runs along cell edges, corner to corner); its transport is the signed sum of the face
  transports it crosses. For a flow derived from a streamfunction given on the cell corners the
  staircase transport equals the streamfunction difference between its end corners exactly.
- A **closed box** is a set of cells; its net inflow is the sum over the faces between inside and
  outside cells. By the discrete Gauss theorem it equals minus the summed discrete divergence of
  the cells inside, so it vanishes to round-off for a flow that is non-divergent on the C-grid.

Sign convention: walking a section from its first to its last point, transport towards the
left-hand side is positive (a west-to-east section counts northward flow positive). A section's
``sign`` (+1/-1, from ``catalogs/doc/sections.yaml``) flips it so that "into the ECS" is positive.

Units: volume transport in Sv (1e6 m3 s-1); DOC in umol L-1 (= mmol m-3); DOC transport in
Tg C a-1 with :data:`TGC_PER_SV_UMOL` = 1e6 m3 s-1 * 1e-3 mol m-3 * 12.011 g mol-1 *
3.15576e7 s a-1 / 1e12 g Tg-1 = 0.379 Tg C a-1 per Sv per umol L-1.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from .. import SatCO2Error, config
from .. import cf
from ..cf import coord_name
from ..config import catalog_dir

EARTH_RADIUS_M = 6371.0e3  # mean Earth radius (IUGG), m
MOLAR_MASS_C = 12.011  # g mol-1 (IUPAC standard atomic weight of carbon)
SECONDS_PER_YEAR = 3.15576e7  # Julian year, s
TGC_PER_SV_UMOL = 1e6 * 1e-3 * MOLAR_MASS_C * SECONDS_PER_YEAR / 1e12  # = 0.3790 Tg C a-1

DEFAULT_DEPTH_BANDS = (0.0, 50.0, 100.0, 200.0, 500.0, np.inf)  # m

_SEASONS = {"DJF": (12, 1, 2), "MAM": (3, 4, 5), "JJA": (6, 7, 8), "SON": (9, 10, 11)}


def sv_umol_to_tgc_per_year(volume_sv, doc_umol_per_l):
    """DOC transport (Tg C a-1) of ``volume_sv`` (Sv) of water carrying ``doc_umol_per_l`` (umol L-1)."""
    return np.asarray(volume_sv) * np.asarray(doc_umol_per_l) * TGC_PER_SV_UMOL


# ----------------------------------------------------------------------------- coordinates

def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges of 1-D cell centres (midpoints, the outer edges mirrored)."""
    c = np.asarray(centres, dtype=float)
    mid = 0.5 * (c[1:] + c[:-1])
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


@dataclass
class Grid:
    """A regular-in-topology lon/lat/depth grid with its C-grid metrics.

    lon, lat: cell centres (degrees east/north, ascending); lon_f, lat_f: cell edges (corners).
    depth_bnds: (nz, 2) level tops/bottoms (m, positive down); h: (nz, ny, nx) wet thickness of
    every cell (m; partial bottom cells, 0 on land and below the sea floor); bottom: (ny, nx) sea
    floor depth (m, NaN on land). dy_e: (ny,) north-south length of east faces (m); dx_n: (ny+1,)
    east-west length of north faces (m).
    """

    lon: np.ndarray
    lat: np.ndarray
    depth: np.ndarray
    depth_bnds: np.ndarray
    h: np.ndarray
    bottom: np.ndarray
    names: dict = field(default_factory=dict)

    def __post_init__(self):
        self.lon_f = _edges(self.lon)
        self.lat_f = _edges(self.lat)
        self.dy_e = EARTH_RADIUS_M * np.deg2rad(np.diff(self.lat_f))
        self.dx_n = EARTH_RADIUS_M * np.cos(np.deg2rad(self.lat_f))[:, None] * np.deg2rad(np.diff(self.lon_f))[None, :]
        self.dx_c = EARTH_RADIUS_M * np.cos(np.deg2rad(self.lat))[:, None] * np.deg2rad(np.diff(self.lon_f))[None, :]
        # face thickness: the wet thickness both neighbours share (edge cells at open boundaries)
        hp = np.concatenate([self.h[:, :, :1], self.h, self.h[:, :, -1:]], axis=2)
        self.h_e = np.minimum(hp[:, :, :-1], hp[:, :, 1:])  # (nz, ny, nx+1)
        hp = np.concatenate([self.h[:, :1], self.h, self.h[:, -1:]], axis=1)
        self.h_n = np.minimum(hp[:, :-1], hp[:, 1:])  # (nz, ny+1, nx)

    @property
    def shape(self):
        return self.h.shape

    @property
    def bbox(self):
        return (self.lon_f[0], self.lat_f[0], self.lon_f[-1], self.lat_f[-1])

    @classmethod
    def from_dataset(cls, ds: xr.Dataset, bottom: xr.DataArray | None = None, var: str = "u") -> "Grid":
        """Grid of a dataset with ``u`` on (depth, lat, lon), found through CF attributes.

        The wet thickness comes from the sea floor depth (``bottom``, else a variable with
        standard_name ``sea_floor_depth_below_geoid`` in ``ds``, partial cells) or, without one,
        from where ``var`` is finite (full cells).
        """
        lon = coord_name(ds, "longitude")
        lat = coord_name(ds, "latitude")
        dep = coord_name(ds, "depth")
        z = np.asarray(ds[dep].values, dtype=float)
        bname = ds[dep].attrs.get("bounds")
        if bname and bname in ds:
            zb = np.asarray(ds[bname].values, dtype=float)
        else:
            e = np.concatenate([[0.0], 0.5 * (z[1:] + z[:-1]), [z[-1] + 0.5 * (z[-1] - z[-2])]])
            zb = np.stack([e[:-1], e[1:]], axis=1)
        if bottom is None:
            bottom = cf.by_standard_name(ds, ["sea_floor_depth_below_geoid"])
        if bottom is not None:
            b = np.asarray(bottom.transpose(lat, lon).values if set(bottom.dims) == {lat, lon} else bottom, dtype=float)
            bb = np.where(np.isfinite(b), b, 0.0)
            h = np.clip(np.minimum(zb[:, 1, None, None], bb[None]) - zb[:, 0, None, None], 0.0, None)
        else:
            u0 = ds[var].isel({d: 0 for d in ds[var].dims if d not in (dep, lat, lon)})
            wet = np.isfinite(np.asarray(u0.transpose(dep, lat, lon).values))
            h = np.where(wet, (zb[:, 1] - zb[:, 0])[:, None, None], 0.0)
            b = np.where(wet.any(0), h.sum(0), np.nan)
        return cls(np.asarray(ds[lon].values, float), np.asarray(ds[lat].values, float), z, zb, h, b,
                   names={"lon": lon, "lat": lat, "depth": dep})


# ----------------------------------------------------------------------------- face fluxes

def _face_kernel(u, v, c, h_e, h_n, dy_e, dx_n):
    """numpy kernel: centre u, v (m s-1) and tracer c (any unit) on (..., nz, ny, nx) -> face
    volume transports Ue (..., nz, ny, nx+1), Vn (..., nz, ny+1, nx) in m3 s-1 and the face
    tracer transports (unit of c times m3 s-1)."""
    u = np.where(np.isfinite(u), u, 0.0)
    v = np.where(np.isfinite(v), v, 0.0)
    c = np.where(np.isfinite(c), c, 0.0)

    def pad(a, ax):
        first = np.take(a, [0], axis=ax)
        last = np.take(a, [-1], axis=ax)
        return np.concatenate([first, a, last], axis=ax)

    up, cpx = pad(u, -1), pad(c, -1)
    vp, cpy = pad(v, -2), pad(c, -2)
    ue = 0.5 * (up[..., :-1] + up[..., 1:])
    ce = 0.5 * (cpx[..., :-1] + cpx[..., 1:])
    vn = 0.5 * (vp[..., :-1, :] + vp[..., 1:, :])
    cn = 0.5 * (cpy[..., :-1, :] + cpy[..., 1:, :])
    Ue = ue * h_e * dy_e[:, None]
    Vn = vn * h_n * dx_n
    return Ue, Vn, Ue * ce, Vn * cn


@dataclass
class FaceFluxes:
    """Face transports on the C-grid of ``grid``.

    ue, vn: volume transport through east faces (dims ..., depth, lat, lon_f) and north faces
    (..., depth, lat_f, lon), m3 s-1, eastward/northward positive. ce, cn: DOC transport through
    the same faces in umol L-1 * m3 s-1 (None when no DOC was given).
    """

    grid: Grid
    ue: xr.DataArray
    vn: xr.DataArray
    ce: xr.DataArray | None = None
    cn: xr.DataArray | None = None

    def divergence(self) -> xr.DataArray:
        """Net outflow of every cell (m3 s-1, summed over depth): the discrete divergence."""
        ue = self.ue.sum("depth")
        vn = self.vn.sum("depth")
        return (ue.isel(lon_f=slice(1, None)).values - ue.isel(lon_f=slice(None, -1)).values) + (
            vn.isel(lat_f=slice(1, None)).values - vn.isel(lat_f=slice(None, -1)).values)


def face_fluxes(u: xr.DataArray, v: xr.DataArray, doc: xr.DataArray | None = None,
                grid: Grid | None = None, bottom: xr.DataArray | None = None) -> FaceFluxes:
    """Face volume transports (m3 s-1) and DOC transports of centre velocities ``u``, ``v``
    (m s-1, dims [time,] depth, lat, lon) and DOC (umol L-1, same dims; optional).

    Lazy with dask inputs: one ``xr.apply_ufunc(..., dask="parallelized")`` over the numpy kernel.
    """
    ds = xr.Dataset({"u": u, "v": v})
    grid = grid or Grid.from_dataset(ds, bottom=bottom)
    n = grid.names or {"lon": "lon", "lat": "lat", "depth": "depth"}
    core = [n["depth"], n["lat"], n["lon"]]
    u = u.transpose(..., *core)
    v = v.transpose(..., *core)
    c = doc.transpose(..., *core) if doc is not None else xr.zeros_like(u)
    nz, ny, nx = grid.shape
    Ue, Vn, Ce, Cn = xr.apply_ufunc(
        _face_kernel, u, v, c,
        kwargs=dict(h_e=grid.h_e, h_n=grid.h_n, dy_e=grid.dy_e, dx_n=grid.dx_n),
        input_core_dims=[core, core, core],
        output_core_dims=[["depth", "lat", "lon_f"], ["depth", "lat_f", "lon"],
                          ["depth", "lat", "lon_f"], ["depth", "lat_f", "lon"]],
        exclude_dims=set(core),
        dask="parallelized",
        output_dtypes=[float] * 4,
        dask_gufunc_kwargs={"output_sizes": {"depth": nz, "lat": ny, "lon": nx, "lon_f": nx + 1, "lat_f": ny + 1},
                            "allow_rechunk": True},
    )
    coords = {"depth": grid.depth, "lat": grid.lat, "lon": grid.lon, "lon_f": grid.lon_f, "lat_f": grid.lat_f}
    Ue = Ue.assign_coords({k: coords[k] for k in Ue.dims if k in coords})
    Vn = Vn.assign_coords({k: coords[k] for k in Vn.dims if k in coords})
    if doc is None:
        return FaceFluxes(grid, Ue, Vn)
    Ce = Ce.assign_coords({k: coords[k] for k in Ce.dims if k in coords})
    Cn = Cn.assign_coords({k: coords[k] for k in Cn.dims if k in coords})
    return FaceFluxes(grid, Ue, Vn, Ce, Cn)


# ----------------------------------------------------------------------------- sections

@dataclass
class Section:
    """A named section: ``kind`` "polyline" (``points`` [[lon, lat], ...]) or "isobath" (``depth``
    in m, optional ``lat_range``/``lon_range`` limits). ``sign`` flips the left-positive
    convention; ``max_bottom_depth`` keeps only faces over shallower water (m); ``published``
    (Tg C a-1) and ``source`` document the literature value."""

    name: str
    kind: str = "polyline"
    points: list | None = None
    depth: float | None = None
    lat_range: tuple | None = None
    lon_range: tuple | None = None
    sign: int = 1
    max_bottom_depth: float | None = None
    published: float | None = None
    source: str = ""
    title: str = ""
    positive: str = ""

    @classmethod
    def from_dict(cls, name: str, d: dict) -> "Section":
        known = {k: d[k] for k in d if k in cls.__dataclass_fields__ and k != "name"}
        kind = known.get("kind", "polyline")
        if kind not in _STAIRCASES:
            raise SatCO2Error(f"section {name!r} has unknown kind {kind!r}; use one of {sorted(_STAIRCASES)}")
        if kind == "polyline" and (not known.get("points") or len(known["points"]) < 2):
            raise SatCO2Error(f"section {name!r} needs at least two points [lon, lat]")
        if kind == "isobath" and known.get("depth") is None:
            raise SatCO2Error(f"isobath section {name!r} needs a depth in m")
        return cls(name=name, **known)


def load_sections(path: str | Path | None = None) -> dict[str, Section]:
    """Sections defined in ``catalogs/doc/sections.yaml`` (or ``path``)."""
    path = Path(path) if path else catalog_dir() / "doc" / "sections.yaml"
    raw = config.load_yaml(path, "sections file")
    return {name: Section.from_dict(name, d) for name, d in (raw.get("sections") or {}).items()}


def select_sections(names=None, path: str | Path | None = None) -> dict[str, Section]:
    """The sections ``names`` (all when None) from ``path`` (default ``catalogs/doc/sections.yaml``);
    an unknown name raises :class:`SatCO2Error`."""
    secs = load_sections(path or None)
    if names is None:
        return secs
    unknown = [n for n in names if n not in secs]
    if unknown:
        raise SatCO2Error(f"unknown section(s) {', '.join(unknown)}; the sections file defines {', '.join(secs)}")
    return {n: secs[n] for n in names}


def _corner_index(grid: Grid, lon: float, lat: float, name: str):
    x0, y0, x1, y1 = grid.bbox
    if not (x0 <= lon <= x1 and y0 <= lat <= y1):
        raise SatCO2Error(
            f"section {name!r} point ({lon}, {lat}) lies outside the model domain "
            f"{x0:.2f}-{x1:.2f}E, {y0:.2f}-{y1:.2f}N")
    return int(np.argmin(np.abs(grid.lat_f - lat))), int(np.argmin(np.abs(grid.lon_f - lon)))


def _polyline_faces(grid: Grid, sec: Section):
    """Staircase of corner-to-corner steps along the polyline; returns the list of faces as
    (kind 'e'|'n', j, i, sign)."""
    corners = [_corner_index(grid, float(p[0]), float(p[1]), sec.name) for p in sec.points]
    faces = []
    for (ja, ia), (jb, ib) in zip(corners[:-1], corners[1:]):
        j, i = ja, ia
        n = abs(jb - ja) + abs(ib - ia)
        for _ in range(n):
            # step towards the end, choosing the move that stays closest to the straight line
            cand = []
            if i != ib:
                cand.append((j, i + np.sign(ib - i)))
            if j != jb:
                cand.append((j + np.sign(jb - j), i))

            def dist(c):
                (cj, ci) = c
                dx, dy = ib - ia, jb - ja
                return abs(dy * (ci - ia) - dx * (cj - ja))

            nj, ni = min(cand, key=dist)
            if nj == j:  # east/west step along lat_f[j]: crosses the north face (j, min(i, ni))
                # going east the left side is north: +Vn; going west: -Vn
                faces.append(("n", j, min(i, ni), 1 if ni > i else -1))
            else:  # north/south step along lon_f[i]: crosses east face (min(j, nj), i)
                # going north the left side is west: -Ue; going south: +Ue
                faces.append(("e", min(j, nj), i, -1 if nj > j else 1))
            j, i = nj, ni
    return faces


def _isobath_faces(grid: Grid, sec: Section):
    """Faces between columns shallower and deeper than ``sec.depth``; positive towards the
    shallow side (onshore), within the optional lat/lon ranges (face midpoints)."""
    b = np.where(np.isfinite(grid.bottom), grid.bottom, 0.0)
    shallow = b < sec.depth
    deep = (b >= sec.depth)
    faces = []
    lat_ok = (lambda y: True) if not sec.lat_range else (lambda y: sec.lat_range[0] <= y <= sec.lat_range[1])
    lon_ok = (lambda x: True) if not sec.lon_range else (lambda x: sec.lon_range[0] <= x <= sec.lon_range[1])
    ny, nx = b.shape
    for j in range(ny):
        for i in range(1, nx):  # east face i between cells i-1 and i
            if lat_ok(grid.lat[j]) and lon_ok(grid.lon_f[i]):
                if deep[j, i - 1] and shallow[j, i] and np.isfinite(grid.bottom[j, i]):
                    faces.append(("e", j, i, 1))  # eastward = onshore
                elif shallow[j, i - 1] and deep[j, i] and np.isfinite(grid.bottom[j, i - 1]):
                    faces.append(("e", j, i, -1))
    for j in range(1, ny):
        for i in range(nx):
            if lat_ok(grid.lat_f[j]) and lon_ok(grid.lon[i]):
                if deep[j - 1, i] and shallow[j, i] and np.isfinite(grid.bottom[j, i]):
                    faces.append(("n", j, i, 1))
                elif shallow[j - 1, i] and deep[j, i] and np.isfinite(grid.bottom[j - 1, i]):
                    faces.append(("n", j, i, -1))
    if not faces:
        raise SatCO2Error(f"isobath section {sec.name!r} ({sec.depth} m) was not found inside the model domain")
    return faces


_STAIRCASES = {"polyline": _polyline_faces, "isobath": _isobath_faces}


def section_faces(grid: Grid, sec: Section) -> xr.Dataset:
    """The faces a section crosses: kind ('e'/'n'), indices, sign, midpoint lon/lat, length (m),
    bottom depth (m, shallower neighbour) and along-section distance of the midpoint (km)."""
    faces = _STAIRCASES[sec.kind](grid, sec)
    kind = np.array([f[0] for f in faces])
    j = np.array([f[1] for f in faces])
    i = np.array([f[2] for f in faces])
    sign = np.array([f[3] for f in faces]) * int(sec.sign)
    is_e = kind == "e"
    lon = np.where(is_e, grid.lon_f[np.minimum(i, len(grid.lon_f) - 1)], grid.lon[np.minimum(i, len(grid.lon) - 1)])
    lat = np.where(is_e, grid.lat[np.minimum(j, len(grid.lat) - 1)], grid.lat_f[np.minimum(j, len(grid.lat_f) - 1)])
    length = np.where(is_e, grid.dy_e[np.minimum(j, len(grid.dy_e) - 1)],
                      grid.dx_n[np.minimum(j, grid.dx_n.shape[0] - 1), np.minimum(i, grid.dx_n.shape[1] - 1)])
    he = grid.h_e.sum(0)
    hn = grid.h_n.sum(0)
    bottom = np.where(is_e, he[np.minimum(j, he.shape[0] - 1), np.minimum(i, he.shape[1] - 1)],
                      hn[np.minimum(j, hn.shape[0] - 1), np.minimum(i, hn.shape[1] - 1)])
    keep = np.ones(len(faces), bool)
    if sec.max_bottom_depth is not None:
        keep = bottom <= sec.max_bottom_depth
    if not np.any(bottom[keep] > 0):
        raise SatCO2Error(f"section {sec.name!r} crosses only land (no wet face) in this model grid")
    # along-section distance: cumulative face length along the staircase
    dist = (np.cumsum(length) - 0.5 * length) / 1e3
    out = xr.Dataset(
        {"kind": ("face", kind), "j": ("face", j), "i": ("face", i), "sign": ("face", sign),
         "length": ("face", length, {"units": "m"}), "bottom_depth": ("face", bottom, {"units": "m"}),
         "distance": ("face", dist, {"units": "km", "long_name": "along-section distance"})},
        coords={"face_lon": ("face", lon), "face_lat": ("face", lat)},
    )
    return out.isel(face=np.flatnonzero(keep))


def _gather(fx: xr.DataArray, fy: xr.DataArray, faces: xr.Dataset) -> xr.DataArray:
    """Signed transport of every face of a section (dims ..., depth, face)."""
    is_e = (faces["kind"] == "e").values
    j, i, s = faces["j"].values, faces["i"].values, faces["sign"].values
    ex = fx.isel(lat=xr.DataArray(np.where(is_e, j, 0), dims="face"),
                 lon_f=xr.DataArray(np.where(is_e, i, 0), dims="face"))
    ny = fy.isel(lat_f=xr.DataArray(np.where(is_e, 0, j), dims="face"),
                 lon=xr.DataArray(np.where(is_e, 0, i), dims="face"))
    out = xr.where(xr.DataArray(is_e, dims="face"), ex, ny) * xr.DataArray(s, dims="face")
    drop = [c for c in out.coords if c in ("lat", "lon", "lat_f", "lon_f")]
    return out.drop_vars(drop).assign_coords(face_lon=faces.face_lon, face_lat=faces.face_lat,
                                             distance=faces.distance, bottom_depth=faces.bottom_depth)


def section_transport(ff: FaceFluxes, sec: Section | dict, name: str | None = None) -> xr.Dataset:
    """Transport through one section, per face and level.

    Returns a Dataset with ``volume`` (Sv) and, when DOC was given, ``doc`` (Tg C a-1), dims
    ([time,] depth, face), plus face coordinates ``face_lon``, ``face_lat``, ``distance`` (km),
    ``bottom_depth`` (m). Sum over ``depth`` and ``face`` for the section total (:func:`totals`).
    """
    if isinstance(sec, dict):
        sec = Section.from_dict(name or sec.get("name", "section"), sec)
    faces = section_faces(ff.grid, sec)
    out = xr.Dataset({"volume": _gather(ff.ue, ff.vn, faces) / 1e6})
    out["volume"].attrs = {"units": "Sv", "long_name": f"volume transport through {sec.name}"}
    if ff.ce is not None:
        out["doc"] = _gather(ff.ce, ff.cn, faces) / 1e6 * TGC_PER_SV_UMOL
        out["doc"].attrs = {"units": "Tg C a-1", "long_name": f"DOC transport through {sec.name}"}
    out.attrs.update(section=sec.name, sign=sec.sign, positive=sec.positive,
                     published_tgc_per_year=sec.published if sec.published is not None else np.nan,
                     source=sec.source)
    return out


def totals(st: xr.Dataset) -> xr.Dataset:
    """Section totals: sum over depth and faces (Sv, Tg C a-1)."""
    return st.sum(["depth", "face"], keep_attrs=True)


def by_depth_band(st: xr.Dataset, bands=DEFAULT_DEPTH_BANDS) -> xr.Dataset:
    """Section transport summed along the section and within depth bands of the level (m)."""
    labels = [f"{a:g}-{b:g} m" for a, b in zip(bands[:-1], bands[1:])]
    band = xr.DataArray(np.digitize(st.depth.values, bands[1:-1]), dims="depth")
    out = st.sum("face").groupby(band.rename("band")).sum()
    return out.reindex(band=range(len(labels)), fill_value=0.0).assign_coords(band=labels)


def by_bottom_depth(st: xr.Dataset, bands=(0.0, 50.0, 100.0, 200.0, np.inf)) -> xr.Dataset:
    """Section transport by the water depth under each face (e.g. 100-200 m outer shelf)."""
    labels = [f"{a:g}-{b:g} m" for a, b in zip(bands[:-1], bands[1:])]
    band = xr.DataArray(np.digitize(st.bottom_depth.values, bands[1:-1]), dims="face")
    out = st.sum("depth").groupby(band.rename("band")).sum()
    return out.reindex(band=range(len(labels)), fill_value=0.0).assign_coords(band=labels)


def by_position(st: xr.Dataset, coord: str = "face_lat", bins=None) -> xr.Dataset:
    """Section transport summed over depth and binned along the section by ``coord``
    (``face_lat``, ``face_lon`` or ``distance``)."""
    s = st.sum("depth")
    if bins is None:
        return s
    return s.groupby_bins(coord, bins).sum()


def seasonal(da: xr.Dataset | xr.DataArray):
    """Monthly series -> means per season (DJF, MAM, JJA, SON) and the annual mean."""
    month = da["time"].dt.month
    means = []
    for s, months in _SEASONS.items():
        means.append(da.where(month.isin(months), drop=True).mean("time").expand_dims(season=[s]))
    means.append(da.mean("time").expand_dims(season=["annual"]))
    return xr.concat(means, "season")


# ----------------------------------------------------------------------------- boxes

def box_mask(grid: Grid, polygon=None, max_bottom_depth: float | None = None,
             min_bottom_depth: float | None = None) -> np.ndarray:
    """Cells whose centre lies in ``polygon`` ([[lon, lat], ...]) and whose sea floor depth is
    within the given limits (m); land cells are left out."""
    import shapely

    lon2, lat2 = np.meshgrid(grid.lon, grid.lat)
    m = np.isfinite(grid.bottom) & (grid.h.sum(0) > 0)
    if polygon is not None:
        poly = shapely.Polygon(polygon)
        if not poly.is_valid or poly.area == 0:
            raise SatCO2Error("the box polygon is not a valid, non-empty polygon")
        m &= shapely.contains_xy(poly, lon2, lat2)
    if max_bottom_depth is not None:
        m &= grid.bottom < max_bottom_depth
    if min_bottom_depth is not None:
        m &= grid.bottom >= min_bottom_depth
    if not m.any():
        raise SatCO2Error("the box contains no ocean cell of the model grid")
    return m


def box_budget(ff: FaceFluxes, mask: np.ndarray) -> xr.Dataset:
    """Net inflow into a box of cells ``mask`` (ny, nx): ``volume`` (Sv) and ``doc`` (Tg C a-1),
    summed over depth and the whole box boundary, with ``divergence`` (Sv), minus the summed
    discrete divergence of the cells inside; the two agree to round-off (discrete Gauss theorem)."""
    m = np.asarray(mask).astype(float)
    mx = np.pad(m, ((0, 0), (1, 1)))
    my = np.pad(m, ((1, 1), (0, 0)))
    wx = xr.DataArray(mx[:, 1:] - mx[:, :-1], dims=("lat", "lon_f"))  # +1 where the face enters the box eastward
    wy = xr.DataArray(my[1:] - my[:-1], dims=("lat_f", "lon"))

    def net(fx, fy):
        return ((fx.sum("depth") * wx).sum(("lat", "lon_f")) + (fy.sum("depth") * wy).sum(("lat_f", "lon")))

    out = xr.Dataset({"volume": net(ff.ue, ff.vn) / 1e6})
    out["volume"].attrs = {"units": "Sv", "long_name": "net volume inflow into the box"}
    if ff.ce is not None:
        out["doc"] = net(ff.ce, ff.cn) / 1e6 * TGC_PER_SV_UMOL
        out["doc"].attrs = {"units": "Tg C a-1", "long_name": "net DOC inflow into the box"}
    div = xr.apply_ufunc(
        lambda ue, vn: ((ue[..., 1:] - ue[..., :-1]).sum(-3) + (vn[..., 1:, :] - vn[..., :-1, :]).sum(-3)),
        ff.ue, ff.vn, input_core_dims=[["depth", "lat", "lon_f"], ["depth", "lat_f", "lon"]],
        output_core_dims=[["lat", "lon"]], exclude_dims={"lat", "lon", "lat_f", "lon_f"},
        dask="parallelized", output_dtypes=[float],
        dask_gufunc_kwargs={"output_sizes": {"lat": m.shape[0], "lon": m.shape[1]}, "allow_rechunk": True})
    out["divergence"] = -(div * xr.DataArray(m, dims=("lat", "lon"))).sum(("lat", "lon")) / 1e6
    out["divergence"].attrs = {"units": "Sv", "long_name": "minus the summed cell divergence inside the box"}
    return out


# ----------------------------------------------------------------------------- analytic flows

def _pad_mean(c: np.ndarray, axis: int) -> np.ndarray:
    """Face values of a centre field along ``axis`` (mean of neighbours, edge cells at the ends)."""
    first = np.take(c, [0], axis=axis)
    last = np.take(c, [-1], axis=axis)
    p = np.concatenate([first, c, last], axis=axis)
    n = p.shape[axis]
    return 0.5 * (np.take(p, range(n - 1), axis=axis) + np.take(p, range(1, n), axis=axis))


def streamfunction_fluxes(grid: Grid, psi: xr.DataArray, profile: np.ndarray | None = None,
                          doc: xr.DataArray | None = None) -> FaceFluxes:
    """Face transports of a depth-integrated transport streamfunction ``psi`` (m3 s-1, dims
    [time,] lat_f, lon_f on the cell corners), non-divergent on the C-grid by construction.

    The transport through a face is the difference of ``psi`` between its corners (walking a
    section, transport to the left is ``psi(end) - psi(start)``); it is spread over the face's wet
    levels in proportion to ``h_face * profile`` (``profile``: (nz,) relative velocity shape,
    default uniform). ``psi`` must be constant along land, or transport on dry faces is lost.
    ``doc`` (umol L-1 on centres, dims [time,] depth, lat, lon) gives the DOC transports with the
    same face averaging as :func:`face_fluxes`.
    """
    p = np.asarray(psi.values, dtype=float)
    lead = psi.dims[:-2]
    te = p[..., :-1, :] - p[..., 1:, :]  # (..., ny, nx+1)
    tn = p[..., :, 1:] - p[..., :, :-1]  # (..., ny+1, nx)
    phi = np.ones(grid.shape[0]) if profile is None else np.asarray(profile, float)

    def spread(t, hf):
        w = hf * phi[:, None, None]
        tot = w.sum(0)
        w = np.where(tot > 0, w / np.where(tot > 0, tot, 1.0), 0.0)
        return t[..., None, :, :] * w

    ue = spread(te, grid.h_e)
    vn = spread(tn, grid.h_n)
    coords_e = {"depth": grid.depth, "lat": grid.lat, "lon_f": grid.lon_f}
    coords_n = {"depth": grid.depth, "lat_f": grid.lat_f, "lon": grid.lon}
    lc = {d: psi[d].values for d in lead if d in psi.coords}
    Ue = xr.DataArray(ue, dims=(*lead, "depth", "lat", "lon_f"), coords={**lc, **coords_e})
    Vn = xr.DataArray(vn, dims=(*lead, "depth", "lat_f", "lon"), coords={**lc, **coords_n})
    if doc is None:
        return FaceFluxes(grid, Ue, Vn)
    c = np.where(np.isfinite(doc.values), doc.values, 0.0)
    return FaceFluxes(grid, Ue, Vn, Ue * _pad_mean(c, -1), Vn * _pad_mean(c, -2))


def centre_velocity(ff: FaceFluxes) -> tuple[xr.DataArray, xr.DataArray]:
    """Cell-centre velocities (m s-1, NaN on land/below the floor) as the mean of the two face
    velocities of each cell: how a C-grid model's output is commonly written on an A-grid."""
    g = ff.grid
    with np.errstate(invalid="ignore", divide="ignore"):
        ufe = np.where(g.h_e > 0, ff.ue.values / (g.h_e * g.dy_e[:, None]), 0.0)
        vfn = np.where(g.h_n > 0, ff.vn.values / (g.h_n * g.dx_n), 0.0)
    uc = 0.5 * (ufe[..., :-1] + ufe[..., 1:])
    vc = 0.5 * (vfn[..., :-1, :] + vfn[..., 1:, :])
    wet = g.h > 0
    uc = np.where(wet, uc, np.nan)
    vc = np.where(wet, vc, np.nan)
    lead = ff.ue.dims[:-3]
    coords = {d: ff.ue[d].values for d in lead if d in ff.ue.coords}
    coords.update(depth=g.depth, lat=g.lat, lon=g.lon)
    dims = (*lead, "depth", "lat", "lon")
    return xr.DataArray(uc, dims=dims, coords=coords), xr.DataArray(vc, dims=dims, coords=coords)


# ----------------------------------------------------------------------------- regridding

def to_grid(da: xr.DataArray, lat, lon) -> xr.DataArray:
    """A surface field moved onto a (coarser) model grid: the block mean of the cells of each
    model cell (NaN skipped) when the grids nest, else linear interpolation."""
    lat = np.asarray(lat, float)
    lon = np.asarray(lon, float)
    if da.sizes["lat"] > 1 and len(lat) > 1:
        f_lat = (lat[1] - lat[0]) / float(da.lat[1] - da.lat[0])
        f_lon = (lon[1] - lon[0]) / float(da.lon[1] - da.lon[0])
        if abs(f_lat - round(f_lat)) < 1e-6 and abs(f_lon - round(f_lon)) < 1e-6 and round(f_lat) >= 1 and round(f_lon) >= 1:
            hy, hx = 0.5 * (lat[1] - lat[0]), 0.5 * (lon[1] - lon[0])
            sub = da.sel(lat=slice(lat[0] - hy, lat[-1] + hy), lon=slice(lon[0] - hx, lon[-1] + hx))
            out = sub.coarsen(lat=int(round(f_lat)), lon=int(round(f_lon)), boundary="trim").mean()
            if out.sizes["lat"] == lat.size and out.sizes["lon"] == lon.size and np.allclose(out.lat, lat, atol=1e-6) \
                    and np.allclose(out.lon, lon, atol=1e-6):
                return out.assign_coords(lat=lat, lon=lon)
    return da.interp(lat=lat, lon=lon)


def load_boxes(path: str | Path | None = None) -> dict:
    """Boxes (``polygon``, ``max_bottom_depth``) of ``catalogs/doc/sections.yaml``."""
    path = Path(path) if path else catalog_dir() / "doc" / "sections.yaml"
    return (config.load_yaml(path, "sections file") or {}).get("boxes") or {}
