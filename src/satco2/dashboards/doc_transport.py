"""Dashboard of the ECS DOC transport analysis (``notebooks/doc_transport.ipynb``).

Panels: a monthly surface-DOC map (datashaded, :func:`satco2.dashboards.maps.raster`) with the
surface currents as arrows (``hv.VectorField``) and the sections drawn on top; section DOC
transports (annual mean of the run) beside the published values; the monthly / seasonal cycle of
each section; the DOC transport by depth band and along each section.

State lives in :class:`DocTransportDashboard` (``param``); ``from_report(report_dir)`` rebuilds it
from the Zarr products that :func:`satco2.analyses.doc_transport.write_results` wrote.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import param
import xarray as xr

from .. import SatCO2Error
from ..science import profiles
from ..science.particles import advect_rk4, bilinear
from ..science.transport import seasonal


def _open(report_dir) -> dict[str, xr.Dataset]:
    d = Path(report_dir)
    names = {"summary": "doc_transport_summary.zarr", "maps": "doc_transport_maps.zarr",
             "faces": "doc_transport_faces.zarr"}
    out = {}
    for k, n in names.items():
        p = d / n
        if not p.exists():
            raise SatCO2Error(f"the report folder {d} has no {n}; was it written by notebooks/doc_transport.ipynb?")
        out[k] = xr.open_zarr(p).load()
    return out


def section_table(summary: xr.Dataset) -> pd.DataFrame:
    """Mean volume (Sv) and DOC (Tg C a-1) transport of the run per section beside the published annual mean."""
    df = pd.DataFrame({
        "section": summary.section.values,
        "title": summary["title"].values.astype(str),
        "volume_sv": summary["volume"].mean("time").values,
        "doc_tgc_per_year": summary["doc"].mean("time").values,
        "published_tgc_per_year": summary["published"].values,
    })
    return df


def seasonal_table(summary: xr.Dataset) -> pd.DataFrame:
    s = seasonal(summary["doc"])
    return s.to_dataframe(name="doc_tgc_per_year").reset_index()[["section", "season", "doc_tgc_per_year"]]


class DocTransportDashboard(param.Parameterized):
    """DOC transport results of one run; ``month`` selects the map, ``section`` the detail plots."""

    month = param.Selector(default=None, objects=[], doc="month shown on the map (YYYY-MM)")
    section = param.Selector(default=None, objects=[], doc="section shown in the detail plots")
    arrow_stride = param.Integer(default=4, bounds=(1, 20), doc="plot every n-th current vector")

    def __init__(self, data: dict[str, xr.Dataset], **params):
        self.data = data
        months = [pd.Timestamp(t).strftime("%Y-%m") for t in data["maps"].time.values]
        secs = [str(s) for s in data["summary"].section.values]
        self.param.month.objects = months
        self.param.section.objects = secs
        params.setdefault("month", months[0])
        params.setdefault("section", secs[0])
        super().__init__(**params)

    # --------------------------------------------------------------- pieces
    def doc_map(self):
        import holoviews as hv

        from . import maps

        m = self.data["maps"]
        da = m["doc_surface"].sel(time=self.month).squeeze("time", drop=True) if "time" in m["doc_surface"].dims else m["doc_surface"]
        da = da.rename("doc_surface").assign_attrs(units="µmol L⁻¹", long_name="Surface DOC")
        img = maps.raster(da, cmap="viridis", clim=maps.robust_clim(m["doc_surface"].values), width=560,
                          when=self.month)
        return img * self.vectors() * self.section_paths()

    def vectors(self):
        import holoviews as hv

        m = self.data["maps"]
        if "u" not in m:
            return hv.VectorField([])
        s = self.arrow_stride
        u = m["u"].sel(time=self.month).squeeze("time", drop=True).values[::s, ::s]
        v = m["v"].sel(time=self.month).squeeze("time", drop=True).values[::s, ::s]
        lon, lat = np.meshgrid(m.lon.values[::s], m.lat.values[::s])
        mag = np.hypot(u, v)
        ok = np.isfinite(mag)
        ang = np.arctan2(v, u)
        scale = np.nanmax(mag) if np.any(ok) else 1.0
        # arrow length ~ sqrt(speed): the 1 m/s Kuroshio and 0.05 m/s shelf flows both stay visible
        return hv.VectorField((lon[ok], lat[ok], ang[ok], np.sqrt(mag[ok] / scale)), vdims=["Angle", "Magnitude"]).opts(
            magnitude="Magnitude", color="black", line_width=1.2, pivot="tail")

    def section_paths(self):
        import holoviews as hv

        f = self.data["faces"]
        paths = []
        for name in self.param.section.objects:
            sel = f.face_section.values == name
            paths.append(hv.Points((f.face_lon.values[sel], f.face_lat.values[sel]), label=name))
        return hv.Overlay([p.opts(size=3) for p in paths])

    def bars_vs_published(self):
        import holoviews as hv

        df = section_table(self.data["summary"])
        rows = [(r.section, "this run", r.doc_tgc_per_year) for r in df.itertuples()]
        rows += [(r.section, "published", r.published_tgc_per_year) for r in df.itertuples()]
        return hv.Bars(rows, kdims=["section", "source"], vdims=["Tg C/a"]).opts(
            width=520, height=300, title="DOC transport: run mean vs published annual mean (+ into the ECS)", tools=["hover"], xrotation=0)

    def seasonal_cycle(self):
        import holoviews as hv

        doc = self.data["summary"]["doc"]
        curves = [hv.Curve((doc.time.values, doc.sel(section=s).values), "time", "Tg C/a", label=str(s))
                  for s in doc.section.values]
        return hv.Overlay(curves).opts(width=520, height=300, title="Monthly DOC transport", legend_position="bottom_left")

    def depth_bands(self):
        import holoviews as hv

        b = self.data["summary"]["doc_by_depth_band"].sel(section=self.section).mean("time")
        return hv.Bars((b.band.values, b.values), "depth band", "Tg C/a").opts(
            width=520, height=260, title=f"{self.section}: DOC transport by depth", tools=["hover"])

    def along_section(self):
        import holoviews as hv

        f = self.data["faces"]
        sel = f.face_section.values == self.section
        d = f["doc"].isel(face=np.flatnonzero(sel)).sum("depth")
        return hv.Curve((d.distance.values, d.values), "distance along section (km)", "Tg C/a per face").opts(
            width=520, height=260, title=f"{self.section}: DOC transport along the section", tools=["hover"])

    # --------------------------------------------------------------- 4-D views
    def particle_frames(self, n_particles: int = 300, days: float = 20.0, n_frames: int = 21, seed: int = 0):
        """Particles released on a seeded random set of ocean cells and advected by RK4
        (:func:`satco2.science.particles.advect_rk4`) through the month's surface currents,
        coloured by the surface DOC sampled at their positions: ``{day: DataFrame(lon, lat, doc)}``."""
        m = self.data["maps"]
        u = m["u"].sel(time=self.month).squeeze("time", drop=True).values.astype(float)
        v = m["v"].sel(time=self.month).squeeze("time", drop=True).values.astype(float)
        doc = m["doc_surface"].sel(time=self.month).squeeze("time", drop=True).values.astype(float)
        lon, lat = m.lon.values.astype(float), m.lat.values.astype(float)
        jj, ii = np.nonzero(np.isfinite(u) & np.isfinite(v))
        rng = np.random.default_rng(seed)
        pick = rng.choice(jj.size, size=min(n_particles, jj.size), replace=False)
        x0, y0 = lon[ii[pick]], lat[jj[pick]]
        steps_per_frame = 4
        dt = days * 86400.0 / ((n_frames - 1) * steps_per_frame)
        xs, ys = advect_rk4(x0, y0, u, v, lon, lat, dt, (n_frames - 1) * steps_per_frame)
        frames = {}
        for f in range(n_frames):
            k = f * steps_per_frame
            ok = np.isfinite(xs[k]) & np.isfinite(ys[k])
            frames[round(f * days / (n_frames - 1), 2)] = pd.DataFrame(
                {"lon": xs[k][ok], "lat": ys[k][ok], "doc": bilinear(doc, lon, lat, xs[k][ok], ys[k][ok])})
        return frames

    def particles(self):
        """An animation (HoloMap, played with a slider/player widget) of the particles."""
        import holoviews as hv
        import holoviews.plotting.bokeh  # noqa: F401

        from . import maps

        frames = self.particle_frames()
        lo = np.nanpercentile(self.data["maps"]["doc_surface"].values, [2, 98])
        style = dict(color="doc", cmap="viridis", clim=tuple(float(x) for x in lo), size=4, colorbar=True,
                     width=560, height=460,
                     title=f"Particles in the {self.month} surface currents (colour: DOC, umol/L)")
        hm = hv.HoloMap({day: hv.Points(df, ["lon", "lat"], ["doc"]).opts(**style)
                         for day, df in frames.items()}, kdims=["day"])
        m = self.data["maps"]
        bbox = (float(m.lon.min()), float(m.lat.min()), float(m.lon.max()), float(m.lat.max()))
        # land clipped to the grid: the full polygons in every frame made the served page hang
        return hm * maps.land(bbox)

    def section_doc_z(self, lat: float | None = None):
        """DOC(z) along a zonal section (the latitude nearest ``lat``, default the grid's middle)
        for every month: a HoloMap of depth x longitude images with a month player."""
        import holoviews as hv
        import holoviews.plotting.bokeh  # noqa: F401

        m = self.data["maps"]
        depth = self.data["faces"].depth.values.astype(float)
        lat = float(m.lat.values[m.lat.size // 2]) if lat is None else lat
        row = m["doc_surface"].sel(lat=lat, method="nearest")
        bottom = m["sea_floor_depth"].sel(lat=lat, method="nearest")
        doc3 = profiles.doc_profile(row.expand_dims(lat=[float(row.lat)]),
                                    depth, bottom.expand_dims(lat=[float(row.lat)])).isel(lat=0)
        lo = np.nanpercentile(doc3.values, [2, 98])
        images = {}
        for t in doc3.time.values:
            month = pd.Timestamp(t).strftime("%Y-%m")
            d = doc3.sel(time=t)
            images[month] = hv.QuadMesh((d.lon.values, -depth, d.transpose("depth", "lon").values),
                                        ["lon", "depth (m, negative down)"], ["doc"]).opts(
                cmap="viridis", clim=tuple(float(x) for x in lo), colorbar=True, width=560, height=320,
                title=f"DOC(z) along {float(row.lat):.1f} N (umol/L)")
        return hv.HoloMap(images, kdims=["month"])

    def __panel__(self):
        import panel as pn

        table = section_table(self.data["summary"]).round(2)
        return pn.Column(
            pn.pane.Markdown("## East China Sea DOC transport\nPositive = into the ECS shelf box; "
                             "published values: SatCO2 platform (BRIEF seed 000)."),
            pn.Row(pn.Column(pn.widgets.Select.from_param(self.param.month),
                             pn.panel(self.param_map)),
                   pn.Column(self.bars_vs_published(), pn.pane.DataFrame(table, index=False), self.seasonal_cycle())),
            pn.Row(pn.widgets.Select.from_param(self.param.section)),
            pn.Row(pn.panel(self.param_bands), pn.panel(self.param_along)),
            pn.pane.Markdown("### Particles and DOC(z)\nParticles advected (RK4) by the selected month's "
                             "surface currents, coloured by surface DOC; DOC(z) along a zonal section "
                             "from the profile model, one frame per month (press play)."),
            self.views_4d(),
        )

    def views_4d(self):
        """Particles (played over days) and DOC(z) along the section (played over months), each
        a HoloMap with a Panel ``DiscretePlayer``: rendered by the server, no extra JavaScript."""
        import panel as pn

        return pn.Row(pn.panel(self.param_particles),
                      pn.pane.HoloViews(self.section_doc_z(), widgets={"month": pn.widgets.DiscretePlayer},
                                        widget_location="bottom"))

    @param.depends("month")
    def param_particles(self):
        import panel as pn

        return pn.pane.HoloViews(self.particles(), widgets={"day": pn.widgets.DiscretePlayer},
                                 widget_location="bottom")

    @param.depends("month", "arrow_stride")
    def param_map(self):
        return self.doc_map()

    @param.depends("section")
    def param_bands(self):
        return self.depth_bands()

    @param.depends("section")
    def param_along(self):
        return self.along_section()


def dashboard(data: dict[str, xr.Dataset]):
    """The Panel dashboard (a :class:`DocTransportDashboard` viewable)."""
    import panel as pn

    return pn.panel(DocTransportDashboard(data))


def from_report(report_dir):
    """Rebuild the dashboard from a report folder of ``notebooks/doc_transport.ipynb``."""
    return dashboard(_open(report_dir))
