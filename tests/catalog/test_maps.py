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


def _render(obj):
    import holoviews as hv

    return hv.render(obj, backend="bokeh")


def test_axes_are_the_data_region_not_the_land_around_it():
    da = _field().sel(lat=slice(28, 32), lon=slice(121, 124))
    fig = _render(maps.raster(da))
    x0, y0, x1, y1 = maps.extent(da)
    assert (fig.x_range.start, fig.x_range.end) == pytest.approx((x0, x1))
    assert (fig.y_range.start, fig.y_range.end) == pytest.approx((y0, y1))
    assert x0 == pytest.approx(121.0, abs=0.06) and x1 == pytest.approx(124.0, abs=0.06)
    assert fig.xaxis[0].axis_label.startswith("longitude") and fig.yaxis[0].axis_label.startswith("latitude")


def test_title_is_complete_wrapped_and_colourbar_has_units():
    from bokeh.models import ColorBar

    from satco2.testing.dashboards import title_fits

    da = _field().assign_coords(time=np.datetime64("2010-07-01"))
    long = maps.raster(da, width=380, title=maps.map_title("Sea-surface pCO2 from MeSAA end members", "µatm",
                                                              "2010-07"))
    fig = _render(long)
    text = fig.title.text
    assert text.replace("\n", " ") == "Sea-surface pCO2 from MeSAA end members (µatm), 2010-07"
    assert "\n" in text and title_fits(fig)
    fig = _render(maps.raster(da))
    assert fig.title.text == "sea surface temperature (degC), 2010-07-01"  # default: long name, units, date
    assert [b.title for b in fig.right if isinstance(b, ColorBar)] == ["degC"]


def test_chlorophyll_is_log_scaled_with_robust_limits():
    from bokeh.models import LogColorMapper

    rng = np.random.default_rng(1)
    da = _field().rename("chlor_a").assign_attrs(units="mg m-3", long_name="chlorophyll-a",
                                                  standard_name="mass_concentration_of_chlorophyll_a_in_sea_water")
    da[:] = 10 ** rng.normal(0, 0.5, da.shape)
    da[0, 0] = 1e4  # one outlier must not flatten the colours
    fig = _render(maps.raster(da))
    mapper = fig.select_one({"type": LogColorMapper})
    assert mapper is not None
    lo, hi = np.percentile(da.values, [2, 98])
    assert (mapper.low, mapper.high) == pytest.approx((lo, hi))
    assert maps.robust_clim([-3, 1, 2, np.nan], symmetric=True) == pytest.approx((-2.9, 2.9), rel=0.05)
    assert maps.robust_clim([np.nan]) is None
    assert maps.robust_clim([5.0, 5.0]) == (4.75, 5.25)


def test_empty_state_is_a_note_not_a_plot():
    import panel as pn

    e = maps.empty("No match-ups in this region.")
    assert isinstance(e, pn.pane.Alert) and "No match-ups" in e.object


def test_maps_in_one_layout_keep_their_own_region():
    """Panel links axes of same-named dimensions across panes; maps opt out, so a map of a small
    region beside a map of a large one keeps its own ranges."""
    import panel as pn

    from satco2.testing.dashboards import map_figures

    small = _field().sel(lat=slice(28, 32), lon=slice(121, 124))
    row = pn.Row(maps.raster(small), maps.raster(_field()), pn.pane.HoloViews(
        __import__("holoviews").Text(0, 0, "note")))
    figs = map_figures(row)
    assert len(figs) == 2
    figs = sorted(figs, key=lambda f: f.x_range.end - f.x_range.start)  # Bokeh's select order is not the layout's
    assert figs[0].x_range.start == pytest.approx(121.0, abs=0.06) and figs[0].x_range.end == pytest.approx(124, abs=0.06)
    assert figs[1].x_range.start == pytest.approx(117.0, abs=0.06)
