"""The catalog browser: a Panel app that lists and searches every product, shows its metadata and
a datashaded preview map (land and coastlines from :mod:`satco2.dashboards.maps`).

State lives in :class:`CatalogBrowser` (param): ``search`` filters the product list (every word
must occur in the entry's metadata), ``product`` selects one, ``source`` and ``variable`` choose
what the preview shows. :func:`app` returns the servable layout; the dashboards service mounts it.
"""
from __future__ import annotations

import html

import numpy as np
import panel as pn
import param

from .. import SatCO2Error, catalog
from ..catalog import registry
from . import maps


def _table_html(products) -> str:
    rows = "".join(
        f"<tr><td><code>{html.escape(p.id)}</code></td><td>{html.escape(p['parameter'])}</td>"
        f"<td>{html.escape(p['long_name'])}</td><td>{html.escape(p['sensor'])}</td>"
        f"<td>{html.escape(p['resolution'])}</td>"
        f"<td>{html.escape(str(p['time_coverage']['start'] or ''))}..{html.escape(str(p['time_coverage']['end'] or ''))}</td></tr>"
        for p in products
    )
    return (
        "<table class='satco2-products'><thead><tr><th>id</th><th>parameter</th><th>name</th>"
        f"<th>sensor</th><th>resolution</th><th>coverage</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def metadata_markdown(p) -> str:
    """Markdown summary of one registry entry."""
    r = p.raw
    vars_md = "\n".join(
        f"| `{n}` | {v['units']} | {v['long_name']} | {v.get('standard_name', '')} |"
        for n, v in r["variables"].items()
    )
    urls = "\n".join(f"- {f}: `{u}`" for f, u in r["upstream"]["urls"].items()) or f"- {r['upstream'].get('notes', 'none')}"
    tc = r["time_coverage"]
    return f"""### {r['long_name']}
`{r['id']}` · {r['sensor']} · {r['resolution']} · {', '.join(r['frequencies'])}

**Region** {r['region']} — bbox {r['bbox']} · **Time** {tc['start'] or '—'} .. {tc['end'] or '—'}
**Producer** {r['producer']} (origin {r['origin']})

| variable | units | long name | CF standard name |
| --- | --- | --- | --- |
{vars_md}

**Upstream** {r['upstream']['archive']} — {r['upstream']['format']} (reader `{r['upstream']['reader']}`)
{urls}

**Licence** {r['licence']}
**Citation** {r['citation']}
"""


class CatalogBrowser(pn.viewable.Viewer):
    """Search, pick and preview catalog products."""

    search = param.String(default="", doc="words that must all occur in the product's metadata")
    product = param.Selector(default=None, objects=[], doc="the product shown")
    source = param.Selector(default="demo", objects=["demo", "mirror"], doc="where the preview reads from")
    variable = param.Selector(default=None, objects=[], doc="the variable previewed")

    def __init__(self, **params):
        super().__init__(**params)
        self._update_products()
        self._update_variables()

    # ------------------------------------------------------------------ state
    @property
    def products(self) -> list:
        """Registry entries matching :attr:`search`."""
        return registry.search(self.search) if self.search.strip() else registry.products()

    @param.depends("search", watch=True)
    def _update_products(self):
        ids = [p.id for p in self.products]
        self.param.product.objects = ids
        if self.product not in ids:
            self.product = ids[0] if ids else None

    @param.depends("product", watch=True)
    def _update_variables(self):
        names = list(registry.get(self.product).variables) if self.product else []
        self.param.variable.objects = names
        if self.variable not in names:
            self.variable = names[0] if names else None

    # ------------------------------------------------------------------ views
    @param.depends("search")
    def listing(self):
        prods = self.products
        head = f"**{len(prods)} of {len(registry.products())} products**"
        return pn.Column(pn.pane.Markdown(head), pn.pane.HTML(_table_html(prods), sizing_mode="stretch_width"))

    @param.depends("product")
    def metadata(self):
        if not self.product:
            return pn.pane.Markdown("No product matches the search.")
        return pn.pane.Markdown(metadata_markdown(registry.get(self.product)), sizing_mode="stretch_width")

    def _shown_variable(self) -> str | None:
        """The variable previewed: :attr:`variable` when the product has it, else the product's
        first (while a search switches the product, :attr:`variable` may still name the old one's)."""
        names = list(registry.get(self.product).variables) if self.product else []
        return self.variable if self.variable in names else (names[0] if names else None)

    def preview_data(self):
        """The previewed 2D (lat, lon) DataArray, or a 1D time series; loads one small slice."""
        ds = catalog.open(self.product, source=self.source)
        da = ds[self._shown_variable()]
        for d in da.dims:
            if d not in ("lat", "lon", "time") or (d == "time" and {"lat", "lon"} <= set(da.dims)):
                da = da.isel({d: 0})
        if {"lat", "lon"} <= set(da.dims):
            step = max(1, int(np.ceil(max(da.sizes["lat"], da.sizes["lon"]) / 800)))
            da = da.isel(lat=slice(None, None, step), lon=slice(None, None, step))
        return da.load()

    def preview_plot(self):
        """The preview as a HoloViews object (the shared map of :mod:`satco2.dashboards.maps`, or a
        time series), a warning pane when the source lacks the product, or None."""
        import holoviews as hv

        variable = self._shown_variable()
        if not self.product or not variable:
            return None
        try:
            da = self.preview_data()
        except SatCO2Error as e:
            return pn.pane.Alert(str(e), alert_type="warning")
        units = maps.units_label(da)
        if {"lat", "lon"} <= set(da.dims):
            when = maps._time_label(da)
            title = maps.map_title(f"{self.product}: {da.attrs.get('long_name', variable)}", units, when)
            return maps.raster(da, cmap="viridis", title=title, width=700)
        import holoviews.plotting.bokeh  # noqa: F401

        return hv.Curve((da["time"].values, da.values), "time", hv.Dimension(variable, unit=units or None)).opts(
            width=700, height=300, title=maps.map_title(f"{self.product}: {da.attrs.get('long_name', variable)}", units),
            shared_axes=False)

    @param.depends("product", "variable", "source")
    def preview(self):
        plot = self.preview_plot()
        if plot is None:
            return pn.pane.Markdown("")
        if isinstance(plot, pn.viewable.Viewable):
            return plot
        return pn.pane.HoloViews(plot, sizing_mode="fixed", linked_axes=False)

    def __panel__(self):
        controls = pn.Column(
            "## SatCO2 catalog",
            pn.widgets.TextInput.from_param(self.param.search, placeholder="search: e.g. chlorophyll modis"),
            pn.widgets.Select.from_param(self.param.product, size=12),
            pn.widgets.RadioButtonGroup.from_param(self.param.source),
            pn.widgets.Select.from_param(self.param.variable),
            width=340,
        )
        return pn.Row(controls, pn.Column(self.preview, self.metadata, self.listing, sizing_mode="stretch_width"))


def app(**params):
    """The servable catalog browser (``panel serve`` / the dashboards service)."""
    pn.extension(sizing_mode="fixed")
    return pn.panel(CatalogBrowser(**params))


if __name__.startswith("bokeh_app"):  # `panel serve src/satco2/dashboards/catalog_browser.py`
    app().servable(title="SatCO2 catalog")
