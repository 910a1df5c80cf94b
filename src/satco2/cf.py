"""What counts as latitude, longitude, depth and time: a thin layer on cf-xarray, the one lookup
every module uses.

A coordinate is found by cf-xarray's criteria (:data:`cf_xarray.criteria.coordinate_criteria`:
CF ``standard_name``, ``units`` such as ``degrees_north``, ``_CoordinateAxisType``, ``long_name``),
then by a 1-D ``axis`` attribute (``obj.cf.axes``), then by cf-xarray's name guesses
(:meth:`guess_coord_axis`: ``lat``, ``nav_lat``, ``lev``, ``time``, ...) and finally by a usual
name among the dimensions that have no coordinate variable (:data:`NAMES`).

- :func:`coord_name` - the name, or :class:`satco2.SatCO2Error`;
- :func:`find` - the name or None, optionally only among some names (e.g. a variable's dims) or
  among every variable of a Dataset (files whose latitude is a data variable);
- :func:`by_standard_name` - the data variable with one of some CF standard names.
"""
from __future__ import annotations

from collections.abc import Iterable

import cf_xarray  # noqa: F401 - registers the ``.cf`` accessor

from . import SatCO2Error

#: kind -> (cf-xarray coordinate key, CF axis)
KINDS: dict[str, tuple[str, str]] = {
    "latitude": ("latitude", "Y"),
    "longitude": ("longitude", "X"),
    "depth": ("vertical", "Z"),
    "time": ("time", "T"),
}

#: usual names of dimensions without a coordinate variable (nothing for cf-xarray to look at)
NAMES: dict[str, tuple[str, ...]] = {
    "latitude": ("lat", "latitude", "y"),
    "longitude": ("lon", "longitude", "x"),
    "depth": ("depth", "z", "lev"),
    "time": ("time", "t"),
}


def _first(obj, names: Iterable, among, one_d: bool) -> str | None:
    names = set(names)
    order = list(among) if among is not None else list(obj.coords)
    for n in order:
        if n in names and (not one_d or obj[n].ndim == 1):
            return str(n)
    return None


def _lookup(obj, kind: str, among, one_d: bool) -> str | None:
    key, axis = KINDS[kind]
    found = _first(obj, obj.cf.coordinates.get(key, ()), among, one_d)
    if found is None:
        found = _first(obj, obj.cf.axes.get(axis, ()), among, True)
    return found


def find(obj, kind: str, *, among: Iterable | None = None, variables: bool = False) -> str | None:
    """Name of the ``kind`` (a key of :data:`KINDS`) coordinate of a Dataset or DataArray, None if
    there is none. ``among``: only these names, in this order (e.g. ``da.dims``); ``variables``:
    look at every variable of a Dataset, not only its coordinates."""
    if variables and hasattr(obj, "data_vars"):
        obj = obj.set_coords([n for n in obj.data_vars])
    among = list(among) if among is not None else None
    one_d = among is not None
    found = _lookup(obj, kind, among, one_d)
    if found is None and len(obj.coords):
        found = _lookup(obj.cf.guess_coord_axis(), kind, among, one_d)
    if found is None:
        pool = among if among is not None else list(obj.coords) + list(obj.dims)
        found = next((str(n) for n in pool if str(n).lower() in NAMES[kind]), None)
    return found


def coord_name(obj, kind: str) -> str:
    """Name of the ``kind`` (a key of :data:`KINDS`) coordinate of a Dataset or DataArray."""
    found = find(obj, kind)
    if found is None:
        raise SatCO2Error(
            f"the data have no {kind} coordinate (looked for CF standard_name, units and axis "
            f"{KINDS[kind][1]!r} attributes and the names {', '.join(NAMES[kind])})."
        )
    return found


def by_standard_name(ds, standard_names: Iterable[str], names: Iterable[str] = ()):
    """The data variable of ``ds`` with the first of ``standard_names`` it has, else the first of
    ``names`` it has; None if neither."""
    have = ds.cf.standard_names
    for std in standard_names:
        for n in have.get(std, ()):
            if n in ds.data_vars:
                return ds[n]
    for n in names:
        if n in ds:
            return ds[n]
    return None
