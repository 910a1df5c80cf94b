"""notebooks/radiative_transfer.ipynb executed with papermill on its defaults (a small sweep), and
its dashboard rebuilt from the report folder."""
from __future__ import annotations

import pytest

from satco2 import SatCO2Error

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    import satco2.runs

    mp = pytest.MonkeyPatch()
    mp.setenv("SATCO2_REPORTS_DIR", str(tmp_path_factory.mktemp("reports")))
    try:
        yield satco2.runs.run("radiative_transfer", {}, timeout=600)
    finally:
        mp.undo()


@pytest.mark.slow
def test_notebook_runs_on_defaults_and_dashboard(report):
    import holoviews as hv

    from satco2.analyses import radiative_transfer as rta
    from satco2.dashboards import radiative_transfer as dash

    assert report.ok
    prods = rta.read_products(report.dir)
    g, c, meta = prods["groups"], prods["cases"], prods["meta"]
    # both curves of the seed, every point timed serially and in parallel
    assert sorted(g[g.sweep == "nummu"]["value"]) == [4, 8, 12, 16, 24, 32]
    assert sorted(g[g.sweep == "aziorder"]["value"]) == [0, 7, 15, 23, 31]
    assert (g["serial_s"] > 0).all() and (g["parallel_s"] > 0).all() and (g["workers"] == 2).all()
    assert meta["n_tasks"] == len(c[c["mode"] == "serial"]) == 11 * 8
    # cost grows steeply with NUMMU: summed CPU time at NUMMU 32 is well above NUMMU 8's (fixed overheads dominate small NUMMU)
    cpu = g[g.sweep == "nummu"].set_index("value")["serial_cpu_s"]
    assert cpu[32] > 2.5 * cpu[8]
    # parallel and serial runs give the same radiances (same tasks, deterministic solver)
    key = ["sweep", "value", "sza", "vza", "raz", "wavelength"]
    both = c.pivot_table(index=key, columns="mode", values="Rrs")
    assert (abs(both["serial"] - both["parallel"]) < 1e-12).all()
    # radiances converge with NUMMU: 24 vs 32 within 1 %
    s = c[(c.sweep == "nummu") & (c["mode"] == "serial")].set_index(["nummu", "wavelength", "sza", "vza"])["Rrs"]
    assert ((s.loc[24] / s.loc[32] - 1).abs() < 0.01).all()
    board = dash.RadiativeTransferDashboard(c, g, meta)
    assert isinstance(board.time_vs_nummu(), hv.Overlay)
    assert len(board.results_table()) == 8
    assert "speed-up" in board.summary()
    assert dash.from_report(report.dir) is not None
    with pytest.raises(SatCO2Error, match="rt_groups.csv"):
        dash.from_report(report.dir.parent)


def test_task_grid_and_bounds():
    from satco2.analyses import radiative_transfer as rta

    tasks = rta.build_tasks([2, 4], [0, 3], 2, [30.0], [0.0, 20.0], [90.0], [443.0], 0.3)
    assert len(tasks) == 8
    assert {t["aziorder"] for t in tasks if t["sweep"] == "nummu"} == {3, 7}
    with pytest.raises(SatCO2Error, match="aziorder=9"):
        rta.build_tasks([2], [9], 2, [30.0], [0.0], [90.0], [443.0], 0.3)
