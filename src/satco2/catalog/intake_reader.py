"""The intake 2 reader behind the generated catalogs: it calls :func:`satco2.catalog.open`.

Catalog-level user parameters ``source`` (demo|mirror|upstream), ``bbox`` and ``time`` reach it
through the templated kwargs ``from_source="{source}"``, ``select_bbox="{bbox}"`` and
``select_time="{time}"`` (named differently from the parameters: intake 2 drops a kwarg whose
name equals a user parameter's when that parameter is overridden).
"""
from __future__ import annotations

from intake.readers.readers import BaseReader

from satco2 import catalog


def _none(v):
    return None if v in (None, "", "None", "null") else v


class SatCO2Reader(BaseReader):
    """Open a SatCO2 Hub product lazily as an xarray Dataset (demo, mirror or upstream)."""

    output_instance = "xarray:Dataset"
    imports = {"xarray", "satco2"}
    func = "satco2.catalog:open"

    def _read(self, product_id=None, from_source="demo", select_bbox=None, select_time=None,
              footprint=None, **kw):
        return catalog.open(product_id, source=_none(from_source) or "demo", bbox=_none(select_bbox),
                            time=_none(select_time), footprint=_none(footprint))
