"""Dashboard of the ECS DOC transport analysis (``notebooks/doc_transport.ipynb``).

Panels: a monthly surface-DOC map (datashaded, :func:`satco2.dashboards.maps.raster`) with the
surface currents as arrows (``hv.VectorField``) and the sections drawn on top; section DOC
transports (annual mean of the run) beside the published values; the monthly / seasonal cycle of
each section; the DOC transport by depth band and along each section; particles advected (RK4)
through the month's currents and coloured by DOC, played over days; DOC of the upper ocean as a
3-D volume (Panel's ``VTKVolume``: vtk.js bundled with Panel, no other host) played over months.
The columns wrap (``FlexBox``) instead of running past a narrow page such as JupyterLab's
notebook area.

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
    volume_3d = param.Boolean(default=True, doc="show the 3-D DOC volume (vtk.js; see views_4d)")

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
                     title=f"Particles, {self.month} currents (colour: DOC umol/L)")
        hm = hv.HoloMap({day: hv.Points(df, ["lon", "lat"], ["doc"]).opts(**style)
                         for day, df in frames.items()}, kdims=["day"])
        m = self.data["maps"]
        bbox = (float(m.lon.min()), float(m.lat.min()), float(m.lon.max()), float(m.lat.max()))
        # land clipped to the grid: the full polygons in every frame made the served page hang
        return hm * maps.land(bbox)

    def doc_volume(self, month: str | None = None, top: float = 300.0, dz: float = 10.0,
                   max_cells: int = 60):
        """DOC(lon, lat, z) of one month in the upper ``top`` metres from the profile model
        (:func:`satco2.science.profiles.doc_profile` of the month's surface DOC and the sea floor),
        on a regular grid for a volume viewer: at most ``max_cells`` cells along lon and lat
        (every n-th model cell), ``dz`` metres vertically (nearest model level; NaN on land and
        below the sea floor).

        Returns ``(values[lon, lat, z] (float32) with z upward from -top, (lon0, lat0, -top),
        (dlon, dlat, dz))``."""
        m = self.data["maps"]
        month = month or self.month
        depth = self.data["faces"].depth.values.astype(float)
        step = max(1, int(np.ceil(max(m.lon.size, m.lat.size) / max_cells)))
        sub = m.isel(lon=slice(None, None, step), lat=slice(None, None, step))
        surf = sub["doc_surface"].sel(time=sub.time.dt.strftime("%Y-%m") == month)
        if surf.time.size == 0:
            raise SatCO2Error(f"the run has no month {month}; its months are {', '.join(self.param.month.objects)}.")
        doc3 = profiles.doc_profile(surf, depth, sub["sea_floor_depth"]).isel(time=0)
        z = np.arange(top - dz / 2, 0, -dz)  # cell centres, deepest first (z grows upward)
        levels = np.abs(depth[None, :] - z[:, None]).argmin(1)
        vol = doc3.values[levels]  # (z, lat, lon)
        below = z[:, None, None] > np.nan_to_num(sub["sea_floor_depth"].values, nan=-1.0)[None]
        vol = np.where(below, np.nan, vol)
        lon, lat = sub.lon.values.astype(float), sub.lat.values.astype(float)
        # float32: half the bytes sent to the browser per month (~0.4 MB at 60 x 60 x 30 cells)
        return (np.ascontiguousarray(vol.transpose(2, 1, 0), dtype=np.float32), (float(lon[0]), float(lat[0]), -top),
                (float(lon[1] - lon[0]), float(lat[1] - lat[0]), dz))

    def doc_3d(self, top: float = 300.0, exaggeration: float | None = None):
        """A 3-D volume of DOC(z) (Panel's ``VTKVolume``: vtk.js shipped with Panel, drawn by the
        browser's WebGL, no other host) with a month player: the volume of the selected month,
        its three slice planes and an orientation widget; depth exaggerated so the upper ``top``
        metres stand about a third of the box's width."""
        import panel as pn

        vol, origin, spacing = self.doc_volume(top=top)
        if exaggeration is None:  # vertical cell size in "degrees" so the column is ~1/3 of the width
            exaggeration = max(vol.shape[0] * spacing[0], vol.shape[1] * spacing[1]) / 3.0 / top
        ex = exaggeration

        origin, spacing = (origin[0], origin[1], origin[2] * ex), (spacing[0], spacing[1], spacing[2] * ex)
        size = [n * d for n, d in zip(vol.shape, spacing)]
        centre = [o + s / 2 for o, s in zip(origin, size)]
        reach = 1.6 * max(size)
        camera = {"position": [centre[0] - 0.55 * reach, centre[1] - 1.1 * reach, centre[2] + 0.75 * reach],
                  "focalPoint": centre, "viewUp": [0.0, 0.0, 1.0]}  # from the south-west, above

        def volume_pane(values, camera):
            return pn.pane.VTKVolume(
                values, origin=origin, spacing=spacing, colormap="Cool to Warm", rescale=True,
                nan_opacity=0.0, display_slices=True, display_volume=True, shadow=False, ambient=0.8,
                diffuse=0.4, edge_gradient=0.0, slice_k=0, slice_i=vol.shape[0] // 2,
                slice_j=vol.shape[1] // 2, camera=camera, render_background="#ffffff",
                orientation_widget=True, controller_expanded=False, width=560, height=460,
                name="DOC(z) volume")

        holder = pn.Column(volume_pane(vol, camera), width=560, height=460)
        player = pn.widgets.DiscretePlayer(label="month", options=list(self.param.month.objects),
                                           value=self.month, interval=1500, loop_policy="loop")

        def caption(month, v):
            return (f"**DOC(z) in 3-D, {month}**: the upper {top:.0f} m from the profile model under the "
                    f"month's surface DOC; colours span the month's range, {np.nanmin(v):.1f} (blue) to "
                    f"{np.nanmax(v):.1f} (red) umol/L; depth exaggerated {ex * 111e3:.0f}x, land and "
                    "below the sea floor empty. Drag to rotate, scroll to zoom.")

        title = pn.pane.Markdown(caption(self.month, vol), width=560)

        def show(event):
            v = self.doc_volume(event.new, top=top)[0]
            # a new pane keeping the user's camera: given new data, vtk.js rebuilds its controller
            # with its default (rainbow) colour preset instead of the pane's colormap
            holder[0] = volume_pane(v, holder[0].camera or camera)
            title.object = caption(event.new, v)

        player.param.watch(show, "value")
        return pn.Column(title, holder, player, width=580, name="doc_3d")

    def __panel__(self):
        import panel as pn

        table = section_table(self.data["summary"]).round(2)
        # FlexBox: the columns sit side by side on a wide page and wrap in a narrow one (a
        # notebook inside JupyterLab) instead of running past its right edge
        return pn.Column(
            pn.pane.Markdown("## East China Sea DOC transport\nPositive = into the ECS shelf box; "
                             "published values: SatCO2 platform (BRIEF seed 000).", sizing_mode="stretch_width"),
            pn.FlexBox(pn.Column(pn.widgets.Select.from_param(self.param.month),
                                 pn.panel(self.param_map)),
                       pn.Column(self.bars_vs_published(), pn.pane.DataFrame(table, index=False),
                                 self.seasonal_cycle())),
            pn.Row(pn.widgets.Select.from_param(self.param.section)),
            pn.FlexBox(pn.panel(self.param_bands), pn.panel(self.param_along)),
            pn.pane.Markdown("### Particles and DOC(z) in 3-D\nParticles advected (RK4) by the selected "
                             "month's surface currents, coloured by surface DOC (press play); DOC in the "
                             "upper ocean as a 3-D volume from the profile model, one frame per month.",
                             sizing_mode="stretch_width"),
            self.views_4d(),
            sizing_mode="stretch_width",
        )

    def views_4d(self):
        """Particles (a HoloMap played over days with a Panel ``DiscretePlayer``, rendered by the
        server) and the 3-D DOC volume (:meth:`doc_3d`, vtk.js in the browser, played over months)."""
        import panel as pn

        if not self.volume_3d:
            # inlined into a JupyterLab notebook (the hub sets PANEL_INLINE=1), Panel 1.9's vtk.js
            # bundle fails to parse and takes the whole dashboard output with it
            return pn.FlexBox(pn.panel(self.param_particles), pn.pane.Markdown(
                "The 3-D DOC volume is drawn in the served dashboard (`satco2 publish` of this run, "
                "or `panel serve`), not inside JupyterLab.", width=400))
        return pn.FlexBox(pn.panel(self.param_particles), self.doc_3d())

    @param.depends("month")
    def param_particles(self):
        import panel as pn

        # the pane's layout holds the plot and its day player (the pane alone drops the widget)
        return pn.pane.HoloViews(self.particles(), widgets={"day": pn.widgets.DiscretePlayer},
                                 widget_location="bottom").layout

    @param.depends("month", "arrow_stride")
    def param_map(self):
        return self.doc_map()

    @param.depends("section")
    def param_bands(self):
        return self.depth_bands()

    @param.depends("section")
    def param_along(self):
        return self.along_section()


def dashboard(data: dict[str, xr.Dataset], volume_3d: bool = True):
    """The Panel dashboard (a :class:`DocTransportDashboard` viewable); ``volume_3d=False`` leaves
    the vtk.js volume out (the notebook inside JupyterLab)."""
    import panel as pn

    return pn.panel(DocTransportDashboard(data, volume_3d=volume_3d))


def from_report(report_dir, volume_3d: bool = True):
    """Rebuild the dashboard from a report folder of ``notebooks/doc_transport.ipynb``."""
    return dashboard(_open(report_dir), volume_3d=volume_3d)
