"""Shared maps: the rendered map carries the land and coastline data (offline Natural Earth)."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from satco2 import SatCO2Error
from satco2.dashboards import maps


def _field():
    lat = np.arange(21.05, 35, 0.1)
    lon = np.arange(117.05, 131, 0.1)
    data = np.add.outer(np.linspace(0, 1, lat.size), np.linspace(0, 1, lon.size))
    return xr.DataArray(
        data, dims=("lat", "lon"), name="sst",
        coords={"lat": ("lat", lat, {"standard_name": "latitude"}),
                "lon": ("lon", lon, {"standard_name": "longitude"})},
        attrs={"units": "degC", "long_name": "sea surface temperature"},
    )


def test_rendered_map_has_coastline_and_raster(artifacts):
    import holoviews as hv
    from bokeh.models import GlyphRenderer

    fig = hv.render(maps.raster(_field(), cmap="RdYlBu_r", clim=(0, 2)), backend="bokeh")
    glyphs = {type(r.glyph).__name__: r for r in fig.select(GlyphRenderer)}
    assert {"Image", "MultiLine", "MultiPolygons"} <= set(glyphs)
    xs = np.concatenate([np.asarray(x, float) for x in glyphs["MultiLine"].data_source.data["xs"]])
    ys = np.concatenate([np.asarray(y, float) for y in glyphs["MultiLine"].data_source.data["ys"]])
    assert xs.size > 500
    # the coastline passes near the Changjiang mouth (121.9 E, 31.4 N) and east Taiwan (121.6 E, 23.5 N)
    for lon, lat in [(121.9, 31.4), (121.6, 23.5)]:
        assert np.min(np.hypot(xs - lon, ys - lat)) < 0.3
    assert "sea surface temperature (degC)" in fig.title.text
    # the raster was datashaded onto a regular image
    img = glyphs["Image"].data_source.data["image"][0]
    assert img.ndim == 2 and np.isfinite(img).mean() > 0.9
    hv.save(maps.raster(_field()), artifacts / "map_ecs.html", backend="bokeh")
    html = (artifacts / "map_ecs.html").read_text()
    assert "MultiLine" in html


def test_land_overlay_clipped_to_bbox():
    paths = maps.land_paths((117, 21, 131, 35))
    pts = np.concatenate(paths)
    assert pts[:, 0].min() >= 117 - 1e-9 and pts[:, 0].max() <= 131 + 1e-9
    assert len(maps.land_paths()) > 1000  # global: every Natural Earth 50 m land polygon


def test_map_needs_2d():
    da = _field().expand_dims(time=2)
    with pytest.raises(SatCO2Error, match="select one value"):
        maps.raster(da)
