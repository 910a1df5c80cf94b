"""The four monthly carbon products on aligned inputs: pCO2(air), pCO2(sea, MeSAA), ΔpCO2 and the
air-sea CO2 flux, and their regional summaries.

:func:`compute_products` turns input DataArrays (roles :data:`ROLES`; opened from the catalog by
:mod:`satco2.analyses.pco2_flux`, or built by hand) into the products lazily (dask), after
:func:`align_inputs` put them on one monthly time axis and one grid (:func:`regrid`);
:func:`regional_summary` gives per-region monthly mean flux and budgets (Tg C yr-1) for every
gas-transfer parameterization (the spread used as an uncertainty band).

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

import json

import numpy as np
import pandas as pd
import xarray as xr

from .. import SatCO2Error
from ..cf import coord_name
from . import gas_exchange as ge
from . import mesaa, regions

ROLES = ("sst", "sss", "wind", "chl", "xco2", "slp")
"""Input roles of :func:`compute_products`: SST (degC), SSS (PSS-78), 10-m wind speed (m s-1),
chlorophyll-a (mg m-3, NaN in gaps), xCO2 (ppm; a time series is broadcast) and sea-level
pressure (Pa)."""

PRODUCT_VARS = ("pco2air", "pco2sw", "dpco2", "flux")


# ----------------------------------------------------------------------------------------------
# aligning the inputs


def _month_start(da):
    t = pd.DatetimeIndex(da["time"].values).to_period("M").to_timestamp()
    return da.assign_coords(time=("time", t, da["time"].attrs))


def _step(c) -> float:
    c = np.asarray(c, float)
    return float(np.abs(np.diff(c)).mean()) if c.size > 1 else np.nan


def _has(da, kind):
    try:
        coord_name(da, kind)
        return True
    except SatCO2Error:
        return False


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


def align_inputs(inputs: dict[str, xr.DataArray], resolution: float | None = None,
                 bbox=None) -> dict[str, xr.DataArray]:
    """Common monthly time axis (month start, inner join) and one grid: the SST grid, or a regular
    grid of ``resolution`` degrees over ``bbox`` (or the SST extent)."""
    missing = [r for r in ROLES if r not in inputs]
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


def _threads() -> int:
    """Threads of the in-memory flux path: dask's ``num_workers`` when set, else the usable CPUs."""
    import os

    import dask

    n = dask.config.get("num_workers", None)
    return max(1, int(n) if n else len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1))


_SLAB_PX = 1 << 19  # pixels per slab of the in-memory path (~2 MB of float32 per input)


def _flux_numpy_threaded(sst, sss, wind, pco2sw, xco2, slp, k_param, dtype):
    """:func:`gas_exchange.flux_from_pco2_fast` on broadcast-compatible numpy arrays, in slabs along
    the first axis longer than 1 (contiguous pieces of the result) run on a thread pool (the kernel
    holds no GIL); the values are those of one call on the whole arrays."""
    from concurrent.futures import ThreadPoolExecutor

    arrs = [np.asarray(a) for a in (sst, sss, wind, pco2sw, xco2, slp)]
    shape = np.broadcast_shapes(*(a.shape for a in arrs))
    # xarray leaves out missing leading dimensions (numpy broadcasting): put them back as 1s
    arrs = [a.reshape((1,) * (len(shape) - a.ndim) + a.shape) for a in arrs]
    out = np.empty(shape, dtype)
    axis = next((i for i, n in enumerate(shape) if n > 1), None)
    n_slabs = 1 if axis is None else min(shape[axis], max(_threads(), -(-out.size // _SLAB_PX)))
    if n_slabs <= 1:
        return ge.flux_from_pco2_fast(*arrs, k_param=k_param, dtype=dtype, out=out)
    edges = np.linspace(0, shape[axis], n_slabs + 1).round().astype(int)

    def slab(i):
        sl = (slice(None),) * axis + (slice(edges[i], edges[i + 1]),)
        parts = [a[sl] if a.shape[axis] > 1 else a for a in arrs]
        ge.flux_from_pco2_fast(*parts, k_param=k_param, dtype=dtype, out=out[sl])

    with ThreadPoolExecutor(min(_threads(), n_slabs)) as ex:
        list(ex.map(slab, range(n_slabs)))  # list(): re-raises the first error
    return out


def _persisted_blocks(data):
    """The numpy blocks of a dask array whose every chunk is held in memory (``.persist()``), as
    {block index: ndarray}; None for anything else (a lazy graph, numpy, ...)."""
    import dask.array as da

    if not isinstance(data, da.Array):
        return None
    graph = data.__dask_graph__()
    if len(graph) != data.npartitions:
        return None
    blocks = {}
    for idx in np.ndindex(*data.numblocks):
        v = graph.get((data.name, *idx))
        if not isinstance(v, np.ndarray):
            return None
        blocks[idx] = v
    return blocks


def _flux_persisted(args, k_param, dtype):
    """The flux of in-memory inputs, some of them persisted dask arrays, block by block (the dask
    chunks) on a thread pool, into one numpy array; None when the inputs' dimension orders or
    chunks do not line up (then the general path runs)."""
    from concurrent.futures import ThreadPoolExecutor

    dims = list(dict.fromkeys(d for a in args for d in a.dims))
    sizes = {d: max(a.sizes.get(d, 1) for a in args) for d in dims}
    if any(list(a.dims) != [d for d in dims if d in a.dims] for a in args):
        return None  # another dimension order: let xarray transpose (general path)
    chunks = {}  # the result's chunks: each dimension's as in the first input chunked along it
    for a in args:
        if not isinstance(a.data, np.ndarray):
            for d, c in zip(a.dims, a.data.chunks):
                if len(c) > 1:
                    chunks.setdefault(d, c)
    out_chunks = [chunks.get(d, (sizes[d],)) for d in dims]
    offsets = [np.concatenate([[0], np.cumsum(c)]) for c in out_chunks]
    held = []
    for a in args:
        if isinstance(a.data, np.ndarray):
            held.append(None)
            continue
        blocks = _persisted_blocks(a.data)
        if all(a.sizes[d] == 1 or c == tuple(out_chunks[dims.index(d)])
               for d, c in zip(a.dims, a.data.chunks)):
            held.append(blocks)
        else:  # chunked otherwise than the result (e.g. a time series in one chunk): one array
            def nest(prefix):
                if len(prefix) == a.ndim:
                    return blocks[prefix]
                return [nest(prefix + (i,)) for i in range(a.data.numblocks[len(prefix)])]
            held.append(np.block(nest(())) if a.ndim else blocks[()])
    out = np.empty(tuple(sizes[d] for d in dims), dtype)

    def part(i, idx, region):
        a = args[i]
        if held[i] is None or isinstance(held[i], np.ndarray):
            b = (a.data if held[i] is None else held[i])[tuple(region[dims.index(d)] if a.sizes[d] > 1 else slice(None) for d in a.dims)]
        else:
            b = held[i][tuple(idx[dims.index(d)] if a.sizes[d] > 1 else 0 for d in a.dims)]
        return b.reshape(tuple(b.shape[a.dims.index(d)] if d in a.dims else 1 for d in dims))

    def block(idx):
        region = tuple(slice(o[i], o[i + 1]) for o, i in zip(offsets, idx))
        parts = [part(i, idx, region) for i in range(len(args))]
        target = out[region]
        if target.flags.c_contiguous:
            ge.flux_from_pco2_fast(*parts, k_param=k_param, dtype=dtype, out=target)
        else:
            target[...] = ge.flux_from_pco2_fast(*parts, k_param=k_param, dtype=dtype)

    with ThreadPoolExecutor(_threads()) as ex:
        list(ex.map(block, np.ndindex(*(len(c) for c in out_chunks))))  # re-raises the first error
    return out


def flux_from_pco2(sst: xr.DataArray, sss: xr.DataArray, wind: xr.DataArray, pco2sw: xr.DataArray,
                   xco2: xr.DataArray, slp: xr.DataArray, k_param: str = "W14", dtype=None) -> xr.DataArray:
    """Air-sea CO2 flux (mmol C m-2 d-1, positive sea -> air) straight from seawater pCO2:
    pCO2air = xCO2 (P - pH2O), F = k K0 (pCO2sw - pCO2air), fused in
    :func:`gas_exchange.flux_from_pco2_fast` (Weiss 1974 K0, Weiss & Price 1980 pH2O, Wanninkhof
    2014 Sc and k; the k of ``k_param``).

    Inputs broadcast as in ``xr.apply_ufunc`` (dims, coordinates and the first input's attributes
    in the result); the result is float32 when every input is, else float64, or ``dtype``. Inputs
    that are lazy dask arrays give a lazy result (one kernel call per chunk). Inputs all held in
    memory (numpy-backed, or dask arrays whose chunks are all computed, ``.persist()``) are
    computed at once without a dask graph into a numpy-backed result, on a thread pool of dask's
    ``num_workers`` (or the usable CPUs): numpy-backed ones in slabs, persisted ones chunk by
    chunk. The values are the same either way (tests/science/test_air_sea_flux.py)."""
    ge.get_k(k_param)
    args = (sst, sss, wind, pco2sw, xco2, slp)
    if not all(isinstance(a, xr.DataArray) for a in args):
        raise SatCO2Error("flux_from_pco2 takes DataArrays for sst, sss, wind, pco2sw, xco2 and slp")
    if dtype is None:
        dtype = np.float32 if all(a.dtype == np.float32 for a in args) else np.float64
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise SatCO2Error(f"flux_from_pco2 computes float32 or float64, not {dtype}")
    kw = {"k_param": k_param, "dtype": dtype}
    if all(isinstance(a.data, np.ndarray) for a in args):
        return xr.apply_ufunc(_flux_numpy_threaded, *args, kwargs=kw)
    if all(isinstance(a.data, np.ndarray) or _persisted_blocks(a.data) is not None for a in args):
        persisted = _flux_persisted(args, k_param, dtype)
        if persisted is not None:
            return xr.apply_ufunc(lambda *_: persisted, *args, dask="allowed")
    return xr.apply_ufunc(ge.flux_from_pco2_fast, *args, kwargs=kw, dask="parallelized",
                          output_dtypes=[dtype])


def compute_products(inputs: dict[str, xr.DataArray], k_param: str = "W14",
                     mesaa_config: str | mesaa.MesaaConfig = "ecs", resolution: float | None = None,
                     bbox=None, parameters: dict | None = None) -> xr.Dataset:
    """The four monthly products (and the MeSAA components), lazily.

    inputs: role -> DataArray (see :data:`ROLES`; each may carry a ``product_id`` attribute,
    recorded in ``input_products``); k_param: a key of :data:`gas_exchange.K_PARAMETERIZATIONS`;
    mesaa_config: region name of ``catalogs/mesaa/`` or a :class:`mesaa.MesaaConfig`. Nothing is
    computed until ``.compute()`` or a write.
    """
    ge.get_k(k_param)  # fail early on an unknown name
    cfg = mesaa.load_config(mesaa_config) if isinstance(mesaa_config, str) else mesaa_config
    x = align_inputs(inputs, resolution=resolution, bbox=bbox)
    sst, sss, wind, chl, xco2, slp = (x[r] for r in ROLES)
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
    ids = {r: x[r].attrs.get("product_id", r) for r in ROLES}
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
        "synthetic": "yes" if synthetic else "no",
        **cfg.as_attrs(),
    })
    return ds


# ----------------------------------------------------------------------------------------------
# regional summaries


def region_weights(name: str, ds: xr.Dataset) -> xr.DataArray:
    """Fraction of each cell of ``ds`` in region ``name`` (:func:`satco2.science.regions.mask`)."""
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
