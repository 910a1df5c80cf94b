"""Observation-based reference carbon products: SeaFlux ensemble files and CF carbonate grids.

- :class:`SeaFluxReader` (``seaflux``): the SeaFlux files of Fay et al. (2021, ESSD 13, 4693;
  Zenodo record 5482547). Two layouts are read:

  * ``SeaFlux_<version>_fgco2_all_winds_products.nc``: ``fgco2(product, wind, time, lat, lon)``
    (sea-air flux, mol m-2 yr-1, positive to the atmosphere), the ``product`` and ``wind``
    coordinates are the pCO2 products and wind products' names;
  * ``SeaFlux_<version>_spco2_SOCOM_unfilled_<years>.nc``: one variable per pCO2 product
    (``CMEMS_FFNN``, ``CSIR_ML6``, ``JENA_MLS``, ``JMA_MLR``, ``MPI_SOMFFN``, ``NIES_FNN``, each
    ``(time, lat, lon)``, uatm), stacked here into ``spco2(product, time, lat, lon)``.

- :class:`CarbonGridReader` (``carbon_grid``): CF gridded NetCDF of surface carbonate variables
  (OceanSODA-ETHZ, CMEMS-LSCE-FFNN, the MPI-ULB SOM-FFN climatology): ``lat``/``latitude``,
  ``lon``/``longitude`` (0..360 or -180..180), ``time``; pressure units converted to uatm
  (``Pa``, ``atm``, ``1e-6 atm``), flux densities to mol m-2 yr-1 (from ``mol m-2 s-1``), values
  at or below -999 (fill values written without ``_FillValue``) masked.

Both put ``time`` on the first day of its month (the registry's start-of-period convention; the
upstream files stamp mid-month or use day offsets) and keep the file's stamps in
``time_original``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ... import SatCO2Error, cf
from .base import Reader, finish, normalise_units

#: the six pCO2 products of the SeaFlux ensemble (Fay et al. 2021, Table 1)
SEAFLUX_PRODUCTS = ("CMEMS_FFNN", "CSIR_ML6", "JENA_MLS", "JMA_MLR", "MPI_SOMFFN", "NIES_FNN")

SECONDS_PER_YEAR = 365.25 * 86400.0
#: carbon-product unit spellings (normalised) -> (canonical units, factor to multiply by)
CARBON_UNITS = {
    "uatm": ("uatm", 1.0), "µatm": ("uatm", 1.0), "microatm": ("uatm", 1.0), "micro atm": ("uatm", 1.0),
    "1e-6 atm": ("uatm", 1.0), "muatm": ("uatm", 1.0),
    "atm": ("uatm", 1e6),
    "Pa": ("uatm", 1e6 / 101325.0),
    "mol m-2 yr-1": ("mol m-2 yr-1", 1.0), "mol/m2/yr": ("mol m-2 yr-1", 1.0),
    "mol m-2 s-1": ("mol m-2 yr-1", SECONDS_PER_YEAR),
    "umol kg-1": ("umol kg-1", 1.0), "µmol kg-1": ("umol kg-1", 1.0), "umol/kg": ("umol kg-1", 1.0),
    "µmol/kg": ("umol kg-1", 1.0), "1e-6 mol kg-1": ("umol kg-1", 1.0), "mumol/kg": ("umol kg-1", 1.0),
    "mol kg-1": ("umol kg-1", 1e6),
    "1": ("1", 1.0), "": ("1", 1.0), "dimensionless": ("1", 1.0),
}


def carbon_convert(values: np.ndarray, src_units: str, units: str, fname: str, name: str) -> np.ndarray:
    """``values`` in ``src_units`` (the file's attribute) -> the registry's ``units``; one sentence
    when no conversion is known. A missing units attribute is taken as the registry's units."""
    s = normalise_units(src_units)
    if not s or s == units:
        return values
    a, b = CARBON_UNITS.get(s), CARBON_UNITS.get(units)
    if a is None or b is None or a[0] != b[0]:
        raise SatCO2Error(f"file {fname}: variable {name} is in {src_units!r}, which cannot be "
                          f"converted to the product's units {units!r}.")
    return (values * np.float32(a[1] / b[1])).astype(np.float32)


def _month_start(time_values) -> tuple[np.ndarray, np.ndarray]:
    t = pd.DatetimeIndex(time_values)
    return t.to_period("M").to_timestamp().values, t.values


def _open(p) -> xr.Dataset:
    try:
        return xr.open_dataset(p, engine="netcdf4", decode_times=True, mask_and_scale=True)
    except (OSError, ValueError) as e:
        raise SatCO2Error(f"file {p.name} is not a readable NetCDF file ({e}).") from None


def _standard_grid(src: xr.Dataset, da: xr.DataArray, p, name: str) -> xr.DataArray:
    lat = cf.find(src, "latitude", among=da.dims)
    lon = cf.find(src, "longitude", among=da.dims)
    if lat is None or lon is None:
        raise SatCO2Error(f"file {p.name} has no latitude/longitude coordinates.")
    if "time" not in da.dims:
        raise SatCO2Error(f"file {p.name}: variable {name} has no time dimension.")
    return da.rename({lat: "lat", lon: "lon"}) if (lat, lon) != ("lat", "lon") else da


def _finish_time(ds: xr.Dataset) -> xr.Dataset:
    start, original = _month_start(ds["time"].values)
    if len(set(start.tolist())) != len(start):
        raise SatCO2Error("two time steps of the file fall in the same month.")
    ds = ds.assign_coords(time=start, time_original=("time", original))
    return ds


def _on_grid(vals: np.ndarray, da: xr.DataArray) -> xr.DataArray:
    """``vals`` (the converted values of ``da``, dims time, lat, lon) with ``da``'s coordinates."""
    return xr.DataArray(vals, dims=da.dims, coords={
        "time": da["time"].values, "lat": da["lat"].values.astype(np.float64),
        "lon": da["lon"].values.astype(np.float64)})


class _GriddedCarbonReader(Reader):
    """One file, one Dataset: each variable of the product read by :meth:`variable`, months put
    on their first day (:func:`_finish_time`)."""

    def open_file(self, path, product) -> xr.Dataset:
        p = self.check_file(path)
        src = _open(p)
        with src:
            ds = _finish_time(xr.Dataset({name: self.variable(src, p, product, name, meta)
                                          for name, meta in product.variables.items()}))
            extra = {"source_title": str(src.attrs["title"])} if "title" in src.attrs else {}
        return finish(ds, product, p, extra)

    def variable(self, src: xr.Dataset, p, product, name: str, meta: dict) -> xr.DataArray:
        raise NotImplementedError


class SeaFluxReader(_GriddedCarbonReader):
    name = "seaflux"
    format = "SeaFlux ensemble NetCDF (Fay et al. 2021)"

    def variable(self, src, p, product, name, meta):
        if name == "fgco2":
            if "fgco2" not in src.variables:
                raise SatCO2Error(f"file {p.name} has no variable fgco2 needed by product {product.id} "
                                  f"(it has {', '.join(map(str, src.data_vars))}).")
            da = src["fgco2"]
            missing = {"product", "wind"} - set(da.dims)
            if missing:
                raise SatCO2Error(f"file {p.name}: fgco2 has no {' or '.join(sorted(missing))} dimension "
                                  f"(dims {da.dims}); is it a SeaFlux all_winds_products file?")
            da = _standard_grid(src, da, p, "fgco2").transpose("product", "wind", "time", "lat", "lon")
            vals = carbon_convert(da.values.astype(np.float32), da.attrs.get("units", ""), meta["units"], p.name, "fgco2")
            return xr.DataArray(vals, dims=da.dims, coords={
                "product": np.array([str(v) for v in da["product"].values], dtype=object),
                "wind": np.array([str(v) for v in da["wind"].values], dtype=object),
                "time": da["time"].values, "lat": da["lat"].values.astype(np.float64),
                "lon": da["lon"].values.astype(np.float64)})
        elif name == "spco2":
            present = [n for n in SEAFLUX_PRODUCTS if n in src.data_vars]
            if not present:
                raise SatCO2Error(f"file {p.name} has none of the SeaFlux pCO2 products "
                                  f"({', '.join(SEAFLUX_PRODUCTS)}); is it a SeaFlux spco2 file?")
            layers = []
            for n in present:
                da = _standard_grid(src, src[n], p, n).transpose("time", "lat", "lon")
                vals = carbon_convert(da.values.astype(np.float32), da.attrs.get("units", ""), meta["units"], p.name, n)
                layers.append(_on_grid(vals, da))
            return xr.concat(layers, dim=pd.Index(np.array(present, dtype=object), name="product"))
        else:
            raise SatCO2Error(f"the seaflux reader reads fgco2 or spco2, not {name} of {product.id}.")


class CarbonGridReader(_GriddedCarbonReader):
    name = "carbon_grid"
    format = "CF gridded NetCDF of surface carbonate variables"

    def variable(self, src, p, product, name, meta):
        s = meta.get("source_name", name)
        if s not in src.variables:
            raise SatCO2Error(f"file {p.name} has no variable {s} needed by product {product.id} "
                              f"(it has {', '.join(map(str, src.data_vars))}).")
        da = src[s]
        for d in list(da.dims):  # a singleton depth level
            if da.sizes[d] == 1 and d not in ("time",):
                da = da.isel({d: 0}, drop=True)
        da = _standard_grid(src, da, p, s)
        if set(da.dims) != {"time", "lat", "lon"}:
            raise SatCO2Error(f"file {p.name}: variable {s} has unexpected dimensions {da.dims}.")
        da = da.transpose("time", "lat", "lon")
        vals = da.values.astype(np.float32)
        vals[vals <= -999] = np.nan
        vals = carbon_convert(vals, da.attrs.get("units", ""), meta["units"], p.name, s)
        return _on_grid(vals, da)
