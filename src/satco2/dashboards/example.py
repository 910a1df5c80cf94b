"""The example notebook's dashboard (``notebooks/example.ipynb``; its synthetic analysis is
:mod:`satco2.analyses.example`).

:func:`from_report` rebuilds the dashboard from a report folder (``<report>/example.zarr``):
a month selector, the datashaded map (:func:`satco2.dashboards.maps.raster`) and a line with the
selected month's maximum, so a change of the widget visibly changes both.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import xarray as xr

from .. import SatCO2Error
from ..analyses.example import PRODUCT, TITLE


def _open(report_dir) -> xr.Dataset:
    p = Path(report_dir) / PRODUCT
    if not p.exists():
        raise SatCO2Error(f"the report folder {report_dir} has no {PRODUCT}; was it made by the example notebook?")
    return xr.open_zarr(p).load()


def dashboard(ds: xr.Dataset):
    """The Panel dashboard of an example Dataset (see the module docstring)."""
    import panel as pn

    from . import maps

    months = [pd.Timestamp(t).strftime("%Y-%m") for t in ds.time.values]
    select = pn.widgets.Select(label="Month", options=months, value=months[0])
    vmax = float(ds.bloom.max())

    def _map(month):
        da = ds.bloom.sel(time=month).squeeze(drop=True)
        return pn.pane.HoloViews(maps.raster(da, clim=(0, vmax), when=month), linked_axes=False)

    def _stats(month):
        da = ds.bloom.sel(time=month).squeeze(drop=True)
        peak = da.where(da == da.max(), drop=True)
        return pn.pane.Markdown(
            f"Month {month}: maximum {float(da.max()):.3f} at {float(peak.lat[0]):.2f}°N"
        )

    return pn.Column(
        pn.pane.Markdown(f"## {TITLE}\nSynthetic data (`synthetic = yes`)."),
        select,
        pn.bind(_stats, select),
        pn.bind(_map, select),
    )


def from_report(report_dir):
    """Rebuild the dashboard from a report folder written by ``notebooks/example.ipynb``."""
    return dashboard(_open(report_dir))
