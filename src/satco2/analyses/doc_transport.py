"""The DOC transport analysis of ``notebooks/doc_transport.ipynb``: input selection, the chain
and product writing.

:func:`open_inputs` opens the currents, the surface inputs of the DOC algorithm (products in
:data:`INPUT_PRODUCTS`) and optionally a bathymetry from the catalog; :func:`analyse` runs the
chain of :mod:`satco2.science.doc`, :mod:`satco2.science.profiles` and
:mod:`satco2.science.transport`; :func:`write_results` writes the report's Zarr products.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from .. import SatCO2Error, catalog, io
from ..science import doc as docalg
from ..science import profiles
from ..science.transport import (
    TGC_PER_SV_UMOL,
    Grid,
    box_budget,
    box_mask,
    by_bottom_depth,
    by_depth_band,
    face_fluxes,
    load_sections,
    section_transport,
    to_grid,
    totals,
)

#: catalog product holding each algorithm input variable
INPUT_PRODUCTS = {"a_cdom_443": "global-acd-modis-aqua-4km", "sss": "global-sss-smos-25km",
                  "Rrs_488": "global-rrs-modis-aqua-4km", "Rrs_547": "global-rrs-modis-aqua-4km"}


def input_products(algorithm: str) -> list[str]:
    """Catalog product ids an algorithm reads (in order, without repeats)."""
    if algorithm not in docalg.DOC_ALGORITHMS:
        raise SatCO2Error(f"unknown DOC algorithm {algorithm!r}; choose one of {sorted(docalg.DOC_ALGORITHMS)}")
    return list(dict.fromkeys(INPUT_PRODUCTS[v] for v in docalg.DOC_ALGORITHMS[algorithm].inputs))


def open_inputs(start: str, end: str, algorithm: str = "linear_ag443",
                current_product: str = "extra-currents-ecs-model", bathymetry: str = "model",
                source: str = "demo") -> dict:
    """Open the inputs of the chain lazily with :func:`satco2.catalog.open` over ``start``..``end``:
    ``currents`` (the current product), ``surface`` (the products of ``algorithm``'s inputs,
    merged on their common times), ``bathymetry`` (the ``depth`` of product ``bathymetry``, or None
    for ``"model"``: the model's own sea floor) and ``datasets`` (every opened Dataset, for
    :func:`satco2.runs.record_inputs`)."""
    period = (start, end)
    pids = input_products(algorithm)  # unknown algorithm names fail before any opening
    currents = catalog.open(current_product, source=source, time=period)
    surface = xr.merge([catalog.open(pid, source=source, time=period) for pid in pids],
                       join="inner", compat="override")
    bathy_ds = None if bathymetry == "model" else catalog.open(bathymetry, source=source)
    return {"currents": currents, "surface": surface,
            "bathymetry": None if bathy_ds is None else bathy_ds["depth"],
            "datasets": [currents, surface] + ([] if bathy_ds is None else [bathy_ds])}


def analyse(currents: xr.Dataset, surface: xr.Dataset, sections: dict | None = None,
            algorithm: str = "linear_ag443", profile_model: str = "auto",
            bottom: xr.DataArray | None = None, box: dict | None = None,
            bathymetry: xr.DataArray | None = None) -> dict:
    """The DOC transport chain: surface DOC (:mod:`satco2.science.doc` algorithm) on the current
    grid (:func:`~satco2.science.transport.to_grid`) -> 3-D DOC (:mod:`satco2.science.profiles`
    model) -> face fluxes -> section and box transports (:mod:`satco2.science.transport`).

    currents: ``u``, ``v`` (m s-1, time, depth, lat, lon) with ``sea_floor_depth`` or ``bottom``;
    surface: the inputs of ``algorithm`` (e.g. ``a_cdom_443``) on their own lat/lon grid, same times.
    bathymetry: sea floor depth (m, positive down, e.g. ``extra-bathymetry-demo``) on any lat/lon
    grid; moved to the model grid, it sets the bottom of the DOC profiles (the transports keep the
    model's own wet thickness). Default: the model's sea floor.
    Returns {"summary": Dataset (section, time[, band]) of volume (Sv) and doc (Tg C a-1) totals,
    by depth band and by bottom depth band, with ``published``; "faces": {section: Dataset of
    time-mean transports per face and level}; "box": Dataset or None; "doc_surface", "doc3d",
    "grid", "fluxes"}.
    """
    sections = sections if sections is not None else load_sections()
    grid = Grid.from_dataset(currents, bottom=bottom)
    sdoc = docalg.surface_doc(surface, algorithm)
    sdoc_m = to_grid(sdoc, grid.lat, grid.lon)
    if "time" in currents.dims:
        sdoc_m = sdoc_m.sel(time=currents.time)
    bottom_da = xr.DataArray(grid.bottom, dims=("lat", "lon"), coords={"lat": grid.lat, "lon": grid.lon})
    if bathymetry is not None:
        bathy = to_grid(bathymetry.astype(float), grid.lat, grid.lon).compute()
        bottom_da = xr.where(np.isfinite(bottom_da), bathy.fillna(bottom_da), np.nan)
    doc3 = profiles.doc_profile(sdoc_m, grid.depth, bottom_da, model=profile_model, depth_bnds=grid.depth_bnds)
    n = grid.names
    u = currents["u"].rename({n["lat"]: "lat", n["lon"]: "lon", n["depth"]: "depth"}) if n else currents["u"]
    v = currents["v"].rename({n["lat"]: "lat", n["lon"]: "lon", n["depth"]: "depth"}) if n else currents["v"]
    grid.names = {"lon": "lon", "lat": "lat", "depth": "depth"}
    ff = face_fluxes(u, v, doc3.assign_coords(lat=u.lat, lon=u.lon), grid=grid)
    tot, bands, bottoms, faces = {}, {}, {}, {}
    for name, sec in sections.items():
        st = section_transport(ff, sec).compute()
        tot[name] = totals(st)
        bands[name] = by_depth_band(st)
        bottoms[name] = by_bottom_depth(st)
        faces[name] = st.mean("time") if "time" in st.dims else st
    names = list(sections)
    summary = xr.concat([tot[k] for k in names], dim=xr.DataArray(names, dims="section", name="section"))
    summary["doc_by_depth_band"] = xr.concat([bands[k]["doc"] for k in names], dim="section").assign_coords(section=names)
    summary["doc_by_bottom_depth"] = xr.concat([bottoms[k]["doc"].rename(band="bottom_band") for k in names],
                                               dim="section").assign_coords(section=names)
    summary["published"] = xr.DataArray([np.nan if sections[k].published is None else sections[k].published for k in names],
                                        dims="section", attrs={"units": "Tg C a-1", "long_name": "published annual mean"})
    summary["title"] = xr.DataArray([sections[k].title or k for k in names], dims="section")
    summary["volume"].attrs = {"units": "Sv", "long_name": "volume transport (positive into the ECS)"}
    summary["doc"].attrs = {"units": "Tg C a-1", "long_name": "DOC transport (positive into the ECS)"}
    summary.attrs = {"doc_algorithm": algorithm, "profile_model": profile_model,
                     "tgc_per_sv_umol": TGC_PER_SV_UMOL}
    box_out = None
    if box:
        mask = box_mask(grid, box.get("polygon"), box.get("max_bottom_depth"), box.get("min_bottom_depth"))
        box_out = box_budget(ff, mask).compute()
        box_out["mask"] = xr.DataArray(mask, dims=("lat", "lon"), coords={"lat": grid.lat, "lon": grid.lon})
    return {"summary": summary, "faces": faces, "box": box_out, "doc_surface": sdoc_m, "doc3d": doc3,
            "grid": grid, "fluxes": ff}


def write_results(res: dict, outdir: str | Path, currents: xr.Dataset | None = None) -> dict[str, Path]:
    """Write the products of :func:`analyse` into ``outdir`` (each Zarr written to a temporary
    name, then renamed): ``doc_transport_summary.zarr`` (section x time), ``doc_transport_maps.zarr``
    (monthly surface DOC and, with ``currents``, top-level u, v on the model grid, sea floor depth,
    the box mask), ``doc_transport_faces.zarr`` (time-mean transport per face and level of every
    section, faces of all sections concatenated with a ``face_section`` label)."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    summary = res["summary"].copy()
    summary["title"] = summary["title"].astype(str)
    if res.get("box") is not None:
        summary["box_volume"] = res["box"]["volume"]
        summary["box_doc"] = res["box"]["doc"]
    paths["summary"] = out / "doc_transport_summary.zarr"
    io.write_zarr(summary, paths["summary"], consolidated=True)
    g = res["grid"]
    maps = xr.Dataset({"doc_surface": res["doc_surface"].astype("float32")})
    maps["sea_floor_depth"] = xr.DataArray(g.bottom.astype("float32"), dims=("lat", "lon"), attrs={"units": "m"})
    if currents is not None:
        top = currents[["u", "v"]].isel(depth=0)
        maps["u"] = top["u"].astype("float32").assign_coords(lat=g.lat, lon=g.lon)
        maps["v"] = top["v"].astype("float32").assign_coords(lat=g.lat, lon=g.lon)
    if res.get("box") is not None:
        maps["box_mask"] = res["box"]["mask"].astype("int8")
    maps = maps.drop_vars([c for c in maps.coords if c not in ("time", "lat", "lon")])
    paths["maps"] = out / "doc_transport_maps.zarr"
    io.write_zarr(maps.compute(), paths["maps"], consolidated=True)
    faces = []
    for name, f in res["faces"].items():
        f = f.drop_vars([c for c in f.coords if c not in ("depth", "face_lon", "face_lat", "distance", "bottom_depth")])
        faces.append(f.assign_coords(face_section=("face", np.full(f.sizes["face"], name))))
    allf = xr.concat(faces, "face")
    allf.attrs = {}
    paths["faces"] = out / "doc_transport_faces.zarr"
    io.write_zarr(allf, paths["faces"], consolidated=True)
    return paths
