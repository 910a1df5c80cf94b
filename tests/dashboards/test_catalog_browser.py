"""The catalog browser: state via its parameters; once in a real browser (chromium)."""
from __future__ import annotations

import contextlib
import socket
import time
import urllib.request

import holoviews as hv
import panel as pn
import pytest
from bokeh.models import GlyphRenderer

from satco2 import catalog
from satco2.dashboards.catalog_browser import CatalogBrowser, app
from satco2.testing import launch_chromium


def test_search_filters_and_selects(demo_store):
    b = CatalogBrowser()
    assert b.param.product.objects == catalog.ids()
    b.search = "salinity"
    assert b.param.product.objects == ["global-sss-smap-25km", "global-sss-smos-25km", "global-sss-aquarius-25km"]
    assert b.product == "global-sss-smap-25km" and b.variable == "sss"
    b.product = "global-sss-smos-25km"
    md = b.metadata().object
    assert "global-sss-smos-25km" in md and "Boutin" in md and "sea_surface_salinity" in md
    listing = b.listing()
    assert "3 of" in listing[0].object and "global-sss-aquarius-25km" in listing[1].object
    b.search = "no such product anywhere"
    assert b.product is None and [o for o in b.param.product.objects if o] == []


def test_preview_is_a_map_with_coastlines(demo_store):
    b = CatalogBrowser(product="global-chl-modis-aqua-4km")
    assert b.variable == "chlor_a"
    pane = b.preview()
    fig = hv.render(pane.object, backend="bokeh")
    kinds = {type(r.glyph).__name__ for r in fig.select(GlyphRenderer)}
    assert {"Image", "MultiLine"} <= kinds
    assert "chlor_a" in fig.title.text or "chlorophyll" in fig.title.text
    b.product = "extra-currents-ecs-model"
    b.variable = "v"
    assert b.preview_data().dims == ("lat", "lon")  # first time and depth
    b.product = "extra-xco2-noaa-gml"  # a time series (sample) or broadcast on a grid (ecs_surface)
    expect = hv.Curve if b.preview_data().dims == ("time",) else hv.DynamicMap
    assert isinstance(b.preview().object, expect)
    b.product = "global-sst-oisst-25km"
    b.source = "mirror"  # no mirror in the test environment's root, unless ingested
    out = b.preview()
    assert isinstance(out, (pn.pane.Alert, pn.pane.HoloViews))


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@contextlib.contextmanager
def _serve():
    """The real Panel server on a random loopback port, in a thread; stopped on exit."""
    port = _free_port()
    server = pn.serve({"catalog": app}, port=port, address="127.0.0.1", show=False, threaded=True,
                      websocket_origin=f"127.0.0.1:{port}")
    url = f"http://127.0.0.1:{port}/catalog"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(url, timeout=5)
                break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        server.stop()


@pytest.mark.browser
@pytest.mark.slow
def test_real_browser_lists_every_product(demo_store, artifacts):
    from playwright.sync_api import sync_playwright

    with _serve() as url, sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url, timeout=120_000)
            page.locator("text=SatCO2 catalog").first.wait_for(timeout=120_000)
            page.locator(f"text={len(catalog.ids())} of {len(catalog.ids())} products").first.wait_for(timeout=60_000)
            listed = page.locator("table.satco2-products tbody code").all_inner_texts()
            assert listed == catalog.ids()
            page.screenshot(path=str(artifacts / "catalog_browser.png"), full_page=True)
        finally:
            browser.close()


def test_search_shows_the_selected_products_map(demo_store):
    """After a search switches the product, the preview is the new product's map, on its own region
    (it used to keep the previous product's variable and ranges)."""
    from satco2.dashboards import maps
    from satco2.testing.dashboards import check_maps, map_figures

    b = CatalogBrowser(product="global-chl-modis-aqua-4km")
    first = map_figures(b.preview())[0]
    assert "global-chl-modis-aqua-4km" in first.title.text
    b.search = "salinity smos"
    assert b.product == "global-sss-smos-25km"
    assert b._shown_variable() == "sss"
    pane = b.preview()
    fig = check_maps(pane, maps.extent(b.preview_data()), tol=0.01)[0]
    assert fig.title.text.replace("\n", " ").startswith("global-sss-smos-25km: ")
    assert "(1)" not in fig.title.text  # no meaningless "(1)" units


@pytest.mark.browser
@pytest.mark.slow
def test_catalog_browser_is_offline(demo_store, artifacts):
    """The served catalog browser requests nothing from another host (Bokeh/Panel served locally)."""
    from satco2.testing.dashboards import browse

    assert browse(app, artifacts / "catalog_browser_offline.png", wait_text="SatCO2 catalog") == []
