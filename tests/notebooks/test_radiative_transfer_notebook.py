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
    assert meta["n_cases"] == len(c[c["mode"] == "serial"]) == len(c[c["mode"] == "parallel"]) == 11 * 40
    # the cluster ran batches: an even number of tasks per point (2 workers), fewer than its cases,
    # and every case keeps its own timing inside its task
    assert (g["n_tasks"] % 2 == 0).all() and (g["n_tasks"] < g["n_cases"]).all()
    assert meta["n_parallel_tasks"] == g["n_tasks"].sum()
    par = c[c["mode"] == "parallel"]
    assert (par.groupby(["sweep", "value"])["batch"].nunique().values == g.set_index(["sweep", "value"])
            .loc[par.groupby(["sweep", "value"]).size().index, "n_tasks"].values).all()
    assert (par["task_seconds"] > 0).all()
    # cost grows steeply with NUMMU: summed CPU time at NUMMU 32 is well above NUMMU 8's (fixed overheads dominate small NUMMU)
    cpu = g[g.sweep == "nummu"].set_index("value")["serial_cpu_s"]
    assert cpu[32] > 2.0 * cpu[8]  # the cost model says ~3.5x on an idle core; 2.4x measured at load 5
    # parallel and serial runs give the same radiances (same tasks, deterministic solver)
    key = ["sweep", "value", "sza", "vza", "raz", "wavelength"]
    both = c.pivot_table(index=key, columns="mode", values="Rrs")
    assert (abs(both["serial"] - both["parallel"]) < 1e-12).all()
    # radiances converge with NUMMU: 24 vs 32 within 1 %
    s = c[(c.sweep == "nummu") & (c["mode"] == "serial")].set_index(["nummu", "wavelength", "sza", "vza"])["Rrs"]
    assert ((s.loc[24] / s.loc[32] - 1).abs() < 0.01).all()
    board = dash.RadiativeTransferDashboard(c, g, meta)
    assert isinstance(board.time_vs_nummu(), hv.Overlay)
    assert len(board.results_table()) == 40  # 2 sza x 2 vza x 2 azimuths x 5 bands
    assert "speed-up" in board.summary() and f"{meta['n_parallel_tasks']} tasks" in board.summary()
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


def test_batches_are_sized_from_the_cost_and_cover_every_case_once():
    from satco2.analyses import radiative_transfer as rta

    group = [{"case": i} for i in range(40)]
    cheap = rta.plan_batches(group, 0.02, workers=2)  # 0.8 s of work: one task per worker
    assert len(cheap) == 2 and sorted(t["case"] for b in cheap for t in b) == list(range(40))
    costly = rta.plan_batches(group, 0.13, workers=2)  # 5.2 s: 6 tasks of ~0.9 s, 3 per worker
    assert len(costly) == 6 and max(map(len, costly)) - min(map(len, costly)) <= 1
    assert sorted(t["case"] for b in costly for t in b) == list(range(40))
    assert len(rta.plan_batches(group[:3], 10.0, workers=2)) == 3  # never more tasks than cases
    assert len(rta.plan_batches(group, 0.5, workers=4, task_seconds=2.0)) == 8
    with pytest.raises(SatCO2Error, match="task target"):
        rta.plan_batches(group, 0.1, workers=2, task_seconds=0)


def test_sweep_on_a_cluster_runs_every_case_in_batches(tmp_path):
    """A small sweep on a real (threaded, in-process) LocalCluster: the parallel rows are the same
    cases with the same radiances, batched into one task per worker; the cost model is fitted."""
    import numpy as np
    from distributed import Client, LocalCluster

    from satco2.analyses import radiative_transfer as rta

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        out = rta.run_analysis(tmp_path, client=client, nummu_list=[2, 4], aziorder_list=[0, 3], nummu_fixed=2,
                               sza_list=[30.0], vza_list=[10.0, 30.0], raz_list=[90.0], wavelengths=[443.0])
    g, c, meta = out["groups"], out["cases"], out["meta"]
    assert list(g["n_cases"]) == [2, 2, 2, 2] and list(g["n_tasks"]) == [2, 2, 2, 2]
    ser, par = c[c["mode"] == "serial"], c[c["mode"] == "parallel"]
    assert len(ser) == len(par) == 8 and set(par["batch"]) == {0, 1} and set(ser["batch"]) == {-1}
    key = ["sweep", "value", "vza"]
    np.testing.assert_allclose(par.set_index(key)["Rrs"].sort_index(), ser.set_index(key)["Rrs"].sort_index(),
                               rtol=1e-9)
    # (the fit's slope is noise on these tiny cases: only its presence is checked here)
    assert meta["n_parallel_tasks"] == 8 and np.isfinite(meta["cost_model_cpu_s"]["c0"])
    assert rta.read_products(tmp_path)["groups"]["n_tasks"].tolist() == [2, 2, 2, 2]
