"""Gap filling and prediction of satellite fields (chlorophyll-a first).

Methods share :class:`~satco2.science.gapfill.base.GapFiller` (fit on a masked (time, lat, lon)
cube, return the filled field and an error estimate):

- ``dineof`` - :class:`~satco2.science.gapfill.dineof.DINEOF` (Beckers & Rixen 2003;
  Alvera-Azcarate et al. 2005, 2009), fast Gram/subspace solvers, optional temporal filter;
- ``climatology`` - :class:`~satco2.science.gapfill.climatology.Climatology`, the per-pixel
  calendar-month climatology (the baseline every method must beat);
- ``learned`` - :class:`~satco2.science.gapfill.learned.LearnedImputer`, a masked spatio-temporal
  convolutional network (PyTorch, CPU) trained by self-masking, several imputations by MC dropout,
  and a forecaster whose interval combines the imputations by Rubin's rules.

The evaluation harness (STIMP protocol and cloud-shaped masks; MAE, PCC, CRPS; Rubin's rules) is
:mod:`satco2.science.gapfill.evaluate`.
"""
from __future__ import annotations

import importlib

from ... import SatCO2Error
from .base import FillOutput, GapFiller, find_axes
from .dineof import DINEOF, dineof_matrix

#: method name -> "module:Class" (imported on first use: the learned method needs torch)
_METHOD_PATHS = {
    "dineof": "satco2.science.gapfill.dineof:DINEOF",
    "learned": "satco2.science.gapfill.learned:LearnedImputer",
    "climatology": "satco2.science.gapfill.climatology:Climatology",
}


class _Registry(dict):
    """A dict of method name -> GapFiller subclass that imports each class lazily."""

    def __missing__(self, key):
        if key not in _METHOD_PATHS:
            raise SatCO2Error(f"unknown gap-filling method {key!r}; choose one of {sorted(_METHOD_PATHS)}")
        mod, cls = _METHOD_PATHS[key].split(":")
        value = getattr(importlib.import_module(mod), cls)
        self[key] = value
        return value

    def __iter__(self):
        return iter(_METHOD_PATHS)

    def __len__(self):
        return len(_METHOD_PATHS)

    def __contains__(self, key):
        return key in _METHOD_PATHS

    def keys(self):
        return _METHOD_PATHS.keys()


#: registry of gap-filling methods: name -> GapFiller subclass
METHODS = _Registry()


def get(name: str, **options) -> GapFiller:
    """An instance of method ``name`` configured with ``options``."""
    return METHODS[name](**options)


__all__ = ["METHODS", "DINEOF", "dineof_matrix", "GapFiller", "FillOutput", "find_axes", "get"]
