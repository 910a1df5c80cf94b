"""Dashboard of ``notebooks/radiative_transfer.ipynb``: the seed's two timing curves measured here
(run time against NUMMU and against the azimuth order, serial and parallel), speed-up and parallel
efficiency, and the radiance results (Rrs and TOA reflectance, their convergence with NUMMU).

:func:`from_report` rebuilds it from a report folder (``rt_cases.csv``, ``rt_groups.csv``,
``rt_meta.json`` written by :mod:`satco2.analyses.radiative_transfer`).
"""
from __future__ import annotations

import html

import pandas as pd

from ..analyses.radiative_transfer import read_products

TITLE = "Parallel radiative transfer (DISORT): cost and radiances"
#: every plot stretches to its share of the page width (JupyterLab's notebook area, a browser tab)
PLOT = dict(responsive=True, min_width=320, height=320)


def _hv():
    import holoviews as hv
    import holoviews.plotting.bokeh  # noqa: F401  (options need a loaded plotting extension)

    return hv


class RadiativeTransferDashboard:
    """Plots of one sweep; each method returns a HoloViews object (testable without a browser)."""

    def __init__(self, cases: pd.DataFrame, groups: pd.DataFrame, meta: dict):
        self.cases, self.groups, self.meta = cases, groups, meta

    def _timing(self, sweep: str, xlabel: str):
        hv = _hv()

        g = self.groups[self.groups["sweep"] == sweep].sort_values("value")
        curves = [hv.Curve((g["value"], g["serial_s"]), xlabel, "run time (s)", label="serial")
                  * hv.Scatter((g["value"], g["serial_s"])).opts(size=6)]
        if "parallel_s" in g:
            curves.append(hv.Curve((g["value"], g["parallel_s"]), xlabel, "run time (s)",
                                   label=f"parallel ({int(g['workers'].iloc[0])} workers)")
                          * hv.Scatter((g["value"], g["parallel_s"])).opts(size=6))
        return hv.Overlay(curves).opts(title=f"Run time vs {xlabel}", logy=True,
                                       legend_position="top_left", show_grid=True, **PLOT)

    def timing_note(self) -> str:
        """What one point of the timing curves is (below the plots' short titles)."""
        g = self.groups
        cases = int(g["n_cases"].iloc[0]) if "n_cases" in g else int(g["n_tasks"].iloc[0])
        fixed = int(g[g["sweep"] == "aziorder"]["nummu"].iloc[0]) if (g["sweep"] == "aziorder").any() else None
        text = (f"Each point: {cases} cases (geometries x wavelengths); NUMMU curve at AZIORDER = 2 NUMMU - 1"
                + (f", AZIORDER curve at NUMMU = {fixed}" if fixed is not None else ""))
        if "parallel_s" in g and "n_cases" in g:
            lo, hi = int(g["n_tasks"].min()), int(g["n_tasks"].max())
            text += (f"; in parallel {lo if lo == hi else f'{lo}-{hi}'} tasks per point "
                     "(cases batched from the point's measured serial cost)")
        return text + "."

    def time_vs_nummu(self):
        return self._timing("nummu", "NUMMU")

    def time_vs_aziorder(self):
        return self._timing("aziorder", "AZIORDER")

    def speedup(self):
        hv = _hv()

        if "speedup" not in self.groups:
            return hv.Curve([], "NUMMU", "speed-up").opts(title="no parallel run")
        plots = []
        for sweep, label in (("nummu", "NUMMU"), ("aziorder", "AZIORDER")):
            g = self.groups[self.groups["sweep"] == sweep].sort_values("value")
            plots.append(
                (hv.Curve((g["value"], g["speedup"]), label, "speed-up / efficiency", label="speed-up")
                 * hv.Curve((g["value"], g["efficiency"]), label, "speed-up / efficiency",
                            label="parallel efficiency")
                 * hv.HLine(1.0).opts(color="gray", line_dash="dashed"))
                .opts(title=f"Speed-up and efficiency vs {label}", legend_position="top_left",
                      show_grid=True, **PLOT))
        return hv.Layout(plots).cols(2)

    def rrs_convergence(self):
        """Rrs and TOA reflectance of each geometry x wavelength against NUMMU (serial runs)."""
        hv = _hv()

        c = self.cases[(self.cases["sweep"] == "nummu") & (self.cases["mode"] == "serial")]
        rrs, toa = [], []
        for (wl, sza, vza), d in c.groupby(["wavelength", "sza", "vza"]):
            d = d.sort_values("nummu")
            lab = f"{wl:.0f} nm, sza {sza:.0f}, vza {vza:.0f}"
            rrs.append(hv.Curve((d["nummu"], d["Rrs"]), "NUMMU", "Rrs (sr-1)", label=lab))
            toa.append(hv.Curve((d["nummu"], d["rho_toa"]), "NUMMU", "TOA reflectance", label=lab))
        opts = dict(legend_position="bottom_right", show_grid=True, **PLOT)
        return (hv.Overlay(rrs).opts(title="Remote-sensing reflectance vs NUMMU", **opts)
                + hv.Overlay(toa).opts(title="TOA reflectance vs NUMMU", **opts)).cols(2)

    def results_table(self) -> pd.DataFrame:
        """The finest NUMMU's results per geometry and wavelength."""
        c = self.cases[(self.cases["sweep"] == "nummu") & (self.cases["mode"] == "serial")]
        c = c[c["nummu"] == c["nummu"].max()]
        cols = ["wavelength", "sza", "vza", "raz", "chl", "Rrs", "rho_w", "rho_path", "rho_toa",
                "water_fraction"]
        return c[cols].sort_values(["wavelength", "sza", "vza"]).reset_index(drop=True)

    def summary(self) -> str:
        m = self.meta
        g = self.groups
        lines = [f"## {html.escape(TITLE)}",
                 f"Solver {html.escape(str(m.get('solver')))} {html.escape(str(m.get('solver_version')))}; "
                 f"{m.get('n_cases', m.get('n_tasks'))} cases (run serially, then in "
                 f"{m.get('n_parallel_tasks', m.get('n_tasks'))} tasks on the cluster, batched to about "
                 f"{m.get('task_seconds', 0):.1f} s each where a point has enough work); chlorophyll {m.get('chl')} mg m-3; "
                 f"cluster: {m.get('workers')} workers, {html.escape(str(m.get('cluster')))}.",
                 f"Load average before/after: {m.get('load_average_before')} / "
                 f"{m.get('load_average_after')} on {m.get('cpu_count')} cores - the machine may be "
                 "shared, so timings are noisy."]
        if "speedup" in g:
            best = g.loc[g["speedup"].idxmax()]
            lines.append(f"Best speed-up {best['speedup']:.2f}x ({best['sweep']} = {int(best['value'])}); "
                         f"median parallel efficiency {g['efficiency'].median():.2f}.")
        if m.get("cluster") == "threads in the kernel process":
            lines.append("Workers are threads of the kernel process (a LocalCluster outside the hub): "
                         "the solver is Python/NumPy and holds the GIL most of the time, so expect little "
                         "speed-up here; on a gateway cluster each worker is its own process.")
        return "\n\n".join(lines)

    def panel(self):
        import panel as pn

        hv = _hv()

        def row(plots):
            plots = list(plots) if isinstance(plots, (list, hv.Layout)) else [plots]
            return pn.Row(*[pn.pane.HoloViews(p, sizing_mode="stretch_width") for p in plots],
                          sizing_mode="stretch_width")

        return pn.Column(
            pn.pane.Markdown(self.summary(), sizing_mode="stretch_width"),
            pn.pane.Markdown(self.timing_note(), sizing_mode="stretch_width"),
            row([self.time_vs_nummu(), self.time_vs_aziorder()]),
            row(self.speedup()),
            row(self.rrs_convergence()),
            pn.pane.Markdown("### Results at the finest NUMMU"),
            pn.widgets.Tabulator(self.results_table().round(5), disabled=True, show_index=False,
                                 sizing_mode="stretch_width"),
            sizing_mode="stretch_width", max_width=1400,
        )


def dashboard(products: dict):
    return RadiativeTransferDashboard(products["cases"], products["groups"], products["meta"]).panel()


def from_report(report_dir):
    """Rebuild the dashboard from a report folder of ``notebooks/radiative_transfer.ipynb``."""
    return dashboard(read_products(report_dir))
