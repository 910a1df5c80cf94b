"""Checks a scientist would make of a dashboard, for tests: its maps' ranges and titles (read from
the Bokeh model), and a real-browser pass that records every request and keeps a screenshot.

- :func:`map_figures` - the Bokeh figures of a Panel viewable whose x axis is longitude;
- :func:`check_maps` - every map's x/y range lies within a region (plus a tolerance) and every
  title line fits its figure;
- :func:`browse` - serve a dashboard on loopback, open it in chromium, screenshot it, and return
  the requested URLs that left for another host.
"""
from __future__ import annotations

from ..dashboards.maps import CHAR_PX
from ..science import regions


def map_figures(view) -> list:
    """Bokeh figures of ``view`` (a Panel viewable or a HoloViews object) drawn as maps."""
    import panel as pn
    from bokeh.models import Plot

    root = pn.panel(view).get_root()
    out = []
    for fig in root.select({"type": Plot}):
        labels = [ax.axis_label or "" for ax in fig.below + fig.above]
        if any("longitude" in str(lab) for lab in labels):
            out.append(fig)
    return out


def region_bbox(*names: str) -> tuple[float, float, float, float]:
    """``(lon_min, lat_min, lon_max, lat_max)`` covering the named regions of catalogs/regions.yaml."""
    boxes = [tuple(float(x) for x in regions.bbox(n)) for n in names]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def title_fits(fig) -> bool:
    """Every line of the figure's title fits its width (Bokeh cuts a title line that does not)."""
    text = fig.title.text if fig.title is not None else ""
    width = fig.frame_width or fig.width or 0
    return all(len(line) * CHAR_PX <= width + 60 for line in str(text).split("\n"))


def check_maps(view, bbox, tol: float = 0.6) -> list:
    """Assert every map of ``view`` shows only ``bbox = (lon_min, lat_min, lon_max, lat_max)`` (give
    or take ``tol`` degrees), carries a title that fits and a colourbar with a label; returns the figures."""
    from bokeh.models import ColorBar

    figs = map_figures(view)
    assert figs, "the dashboard shows no map"
    x0, y0, x1, y1 = bbox
    for fig in figs:
        xr, yr = fig.x_range, fig.y_range
        assert x0 - tol <= xr.start < xr.end <= x1 + tol, (fig.title.text, xr.start, xr.end, bbox)
        assert y0 - tol <= yr.start < yr.end <= y1 + tol, (fig.title.text, yr.start, yr.end, bbox)
        assert fig.title.text and title_fits(fig), fig.title.text
        bars = [r for r in fig.right if isinstance(r, ColorBar)]
        assert bars and all(b.title for b in bars), f"map {fig.title.text!r} has no labelled colourbar"
    return figs


def browse(factory, screenshot, wait_text: str | None = None, size=(1300, 1000)) -> list[str]:
    """Serve ``factory`` with Panel on loopback, open it in chromium, wait for a canvas (and
    ``wait_text``), save a full-page ``screenshot`` and return the URLs requested on other hosts."""
    from . import chromium_page, serve_panel
    from .offline import is_external

    requested: list[str] = []
    with serve_panel(factory) as url, chromium_page(viewport={"width": size[0], "height": size[1]}) as page:
        page.on("request", lambda r: requested.append(r.url))
        page.on("websocket", lambda ws: requested.append(ws.url))
        page.goto(url, timeout=120_000)
        page.locator("canvas").first.wait_for(state="attached", timeout=120_000)
        if wait_text:
            page.get_by_text(wait_text).first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)  # let datashader's first image arrive
        page.screenshot(path=str(screenshot), full_page=True)
    return [u for u in requested if is_external(u)]
