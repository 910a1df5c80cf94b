"""What counts as latitude, longitude, depth and time: plain data, one place (after cf-xarray's
criteria), and :func:`coord_name`, the one lookup every module uses.

A coordinate is found by its CF ``standard_name`` first, then its ``units``, then a 1-D ``axis``
attribute, then a usual name among the coordinates and finally the dimensions.
"""
from __future__ import annotations

from . import SatCO2Error

CRITERIA: dict[str, dict] = {
    "latitude": {"standard_name": "latitude", "units": ("degrees_north", "degree_north"),
                 "axis": "Y", "names": ("lat", "latitude", "y")},
    "longitude": {"standard_name": "longitude", "units": ("degrees_east", "degree_east"),
                  "axis": "X", "names": ("lon", "longitude", "x")},
    # depth and time have no telling units ("m", "days since ...") so they are not used
    "depth": {"standard_name": "depth", "units": (), "axis": "Z", "names": ("depth", "z", "lev")},
    "time": {"standard_name": "time", "units": (), "axis": "T", "names": ("time", "t")},
}


def coord_name(obj, kind: str) -> str:
    """Name of the ``kind`` (a key of :data:`CRITERIA`) coordinate of a Dataset or DataArray."""
    crit = CRITERIA[kind]
    coords = obj.coords
    for name, c in coords.items():
        if c.attrs.get("standard_name") == crit["standard_name"]:
            return str(name)
    for name, c in coords.items():
        if crit["units"] and c.attrs.get("units") in crit["units"]:
            return str(name)
    for name, c in coords.items():
        if c.attrs.get("axis") == crit["axis"] and c.ndim == 1:
            return str(name)
    for name in list(coords) + list(obj.dims):
        if str(name).lower() in crit["names"]:
            return str(name)
    raise SatCO2Error(
        f"the data have no {kind} coordinate (looked for CF standard_name {crit['standard_name']!r}, "
        f"units, axis {crit['axis']!r} and the names {', '.join(crit['names'])})."
    )
