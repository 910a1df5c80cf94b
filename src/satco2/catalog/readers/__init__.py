"""Readers of upstream file formats: one module per format, registered in :data:`READERS`.

:data:`READERS` maps the registry's ``upstream.reader`` name to ``module:Class`` (imported on
first use). Formats without a reader yet map to a message; :func:`get` raises a one-sentence
:class:`satco2.SatCO2Error` for them. See :mod:`satco2.catalog.readers.base` for what a reader
implements. ``ocean_model`` (ROMS / z-level model output) lives in its own module; it may expose
a ``Reader`` subclass named ``OceanModelReader`` or a function ``open_file(path, product)``.
"""
from __future__ import annotations

import importlib

from ... import SatCO2Error
from .base import Reader

READERS: dict[str, str] = {
    "l3m": "satco2.catalog.readers.l3m:L3mReader",
    "l3b": "satco2.catalog.readers.l3b:L3bReader",
    "netcdf_grid": "satco2.catalog.readers.netcdf_grid:NetCDFGridReader",
    "gml_text": "satco2.catalog.readers.gml_text:GMLTextReader",
    "rss_bytemap": "satco2.catalog.readers.rss_bytemap:RSSBytemapReader",
    "point_csv": "satco2.catalog.readers.point_csv:PointCSVReader",
    "ocean_model": "satco2.catalog.readers.ocean_model:OceanModelReader",
    "seaflux": "satco2.catalog.readers.carbon_products:SeaFluxReader",
    "carbon_grid": "satco2.catalog.readers.carbon_products:CarbonGridReader",
}

#: formats listed in the registry that have no reader yet: name -> why / what to do instead
NOT_SUPPORTED: dict[str, str] = {
    "goci_he5": "GOCI Level-2 HDF-EOS5 files are not supported yet (convert them to CF NetCDF first)",
    "vgpm_hdf": "Oregon State VGPM HDF4 files are not supported yet (HDF4 needs pyhdf; convert to NetCDF first)",
    "derived": "this product is derived from other products, not read from upstream files",
    "none": "this product exists only in the demo store",
}


class _FunctionReader(Reader):
    def __init__(self, name, func):
        self.name, self._func = name, func
        self.format = name

    def open_file(self, path, product):
        return self._func(path, product)


def get(name: str, **options) -> Reader:
    """The reader registered as ``name``; :class:`SatCO2Error` when there is none.

    ``options`` go to the reader class (e.g. ``lat``/``lon`` of ``point_csv``); a reader that
    takes none refuses them with one sentence."""
    if name in NOT_SUPPORTED:
        raise SatCO2Error(f"reader {name!r}: {NOT_SUPPORTED[name]}.")
    if name not in READERS:
        raise SatCO2Error(f"unknown reader {name!r}; known: {', '.join(sorted(READERS))}.")
    mod_name, _, cls_name = READERS[name].partition(":")
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        if e.name == mod_name:
            raise SatCO2Error(f"reader {name!r} is not installed in this checkout ({mod_name}).") from None
        raise
    obj = getattr(mod, cls_name, None)
    if obj is not None:
        if options:
            import inspect

            known = set(inspect.signature(obj).parameters)
            unknown = sorted(set(options) - known)
            if unknown:
                raise SatCO2Error(f"reader {name!r} takes no option {', '.join(unknown)}"
                                  f"{' (it takes ' + ', '.join(sorted(known)) + ')' if known else ''}.")
        return obj(**options)
    if callable(getattr(mod, "open_file", None)):
        if options:
            raise SatCO2Error(f"reader {name!r} takes no options.")
        return _FunctionReader(name, mod.open_file)
    raise SatCO2Error(f"reader module {mod_name} defines neither {cls_name} nor open_file().")
