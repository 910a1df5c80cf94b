"""The radiative-transfer sweep of ``notebooks/radiative_transfer.ipynb``: the coupled
ocean-atmosphere case (:func:`satco2.science.radiative_transfer.coupled_case`) over
NUMMU x AZIORDER x geometry x wavelength, timed serially in the kernel and in parallel on the
user's cluster, where the cases are batched into tasks of about a second.

Two sweeps reproduce the seed platform's two curves:

- ``nummu``: run time against the quadrature angles per hemisphere, at the full azimuth order the
  solver resolves (``aziorder = 2 nummu - 1``; the seed used AZIORDER = 99, which a DISORT solver
  cannot resolve with fewer than 50 angles per hemisphere: see the science module);
- ``aziorder``: run time against the azimuth order at a fixed ``nummu``.

A *group* is one point of a curve: all geometries x wavelengths at that discretisation. Its
serial time is the wall time of running the group's cases one after another in this process; its
parallel time the wall time of ``client.map`` + ``gather`` of the same cases on the cluster,
batched into tasks (:func:`plan_batches`): one case costs 15-150 ms, about the round trip of one
Dask task, so a task per case spends as much time in scheduling as in the solver (the first
benchmark here measured 0.85x on 2 workers). The number of tasks of a point is a multiple of the
number of workers, sized from the point's measured serial cost to about ``task_seconds`` (1 s)
each; every case keeps its own timing inside its task. Speed-up = serial / parallel; parallel
efficiency = speed-up / workers.

Azimuth Fourier modes as separate tasks: PythonicDISORT solves the modes in one internal loop
and its public API returns only their sum, so the separable unit here is the whole case (a mode
split would need the solver's private functions). The cost model in ``docs/radiative-transfer.md``
shows the time per case is close to linear in the number of modes, which is what a mode split
would distribute.

Products in the report folder: ``rt_cases.csv`` (one row per case and mode of execution, with its
task ``batch``), ``rt_groups.csv`` (one row per curve point), ``rt_meta.json`` (cluster, solver,
machine load, cost model).
"""
from __future__ import annotations

import itertools
import json
import os
import platform
import time
from pathlib import Path

import pandas as pd

from .. import SatCO2Error, io
from ..science import radiative_transfer as rt

CASES_FILE = "rt_cases.csv"
#: wall time aimed at per parallel task (seconds): well above Dask's per-task round trip
TASK_SECONDS = 1.0
GROUPS_FILE = "rt_groups.csv"
META_FILE = "rt_meta.json"


def build_tasks(nummu_list, aziorder_list, nummu_fixed, sza_list, vza_list, raz_list,
                wavelengths, chl) -> list[dict]:
    """The list of task dicts of both sweeps (see the module docstring)."""
    for n in list(nummu_list) + [nummu_fixed]:
        rt.check_discretisation(n, 0)
    for m in aziorder_list:
        rt.check_discretisation(nummu_fixed, m)
    geoms = list(itertools.product(sza_list, vza_list, raz_list, wavelengths))
    if not geoms:
        raise SatCO2Error("the sweep has no geometry or wavelength; give at least one of each.")
    tasks = []
    for n in nummu_list:
        for sza, vza, raz, wl in geoms:
            tasks.append(dict(sweep="nummu", value=int(n), nummu=int(n), aziorder=2 * int(n) - 1,
                              sza=float(sza), vza=float(vza), raz=float(raz),
                              wavelength=float(wl), chl=float(chl)))
    for m in aziorder_list:
        for sza, vza, raz, wl in geoms:
            tasks.append(dict(sweep="aziorder", value=int(m), nummu=int(nummu_fixed), aziorder=int(m),
                              sza=float(sza), vza=float(vza), raz=float(raz),
                              wavelength=float(wl), chl=float(chl)))
    return tasks


def run_task(task: dict) -> dict:
    """One coupled case; returns the task with its results and timings (wall and thread CPU)."""
    import threading

    t0, c0 = time.perf_counter(), time.thread_time()
    out = rt.coupled_case(task["chl"], task["wavelength"], task["sza"], task["vza"], task["raz"],
                          nummu=task["nummu"], aziorder=task["aziorder"])
    wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
    keep = ("Rrs", "rho_w", "rho_toa", "rho_path", "water_fraction", "tau_rayleigh", "a", "bb")
    return {**task, **{k: out[k] for k in keep}, "task_seconds": wall, "task_cpu_seconds": cpu,
            "pid": os.getpid(), "thread": threading.get_ident()}


def run_batch(batch: list[dict]) -> list[dict]:
    """Several cases one after another in one Dask task; each keeps its own timing."""
    return [run_task(t) for t in batch]


def plan_batches(group: list[dict], seconds_per_case: float, workers: int,
                 task_seconds: float = TASK_SECONDS) -> list[list[dict]]:
    """Split one curve point's cases into tasks for ``workers`` workers.

    The number of tasks is a multiple of ``workers`` (every worker gets the same share), about
    ``len(group) * seconds_per_case / task_seconds`` and at most one task per case; cases are dealt
    out in turn, so each task holds every geometry and wavelength in the same proportion."""
    if seconds_per_case < 0 or task_seconds <= 0:
        raise SatCO2Error("a case cost must be >= 0 s and the task target > 0 s.")
    workers = max(int(workers), 1)
    total = seconds_per_case * len(group)
    k = min(len(group), workers * max(1, round(total / (task_seconds * workers))))
    return [group[i::k] for i in range(k)]


def fit_cost_model(cases: pd.DataFrame, column: str = "task_cpu_seconds") -> tuple[float, float]:
    """Least-squares ``(c0, c1)`` of ``t = c0 + c1 NUMMU^3 (AZIORDER + 1)`` seconds per case
    over the serial runs (an eigenproblem of size NUMMU per Fourier mode, Stamnes et al. 1988)."""
    import numpy as np

    s = cases[cases["mode"] == "serial"]
    x = s["nummu"].astype(float) ** 3 * (s["aziorder"].astype(float) + 1)
    c1, c0 = np.polyfit(x, s[column].astype(float), 1)
    return float(c0), float(c1)


def _warm_up() -> int:
    """Imports, caches and one BLAS thread in a worker before anything is timed."""
    _limit_blas()
    run_task(dict(nummu=2, aziorder=3, sza=30.0, vza=10.0, raz=90.0, wavelength=443.0, chl=0.3))
    return os.getpid()


def _groups(tasks):
    keys = []
    for t in tasks:
        k = (t["sweep"], t["value"])
        if k not in keys:
            keys.append(k)
    return [(k, [t for t in tasks if (t["sweep"], t["value"]) == k]) for k in keys]


def _limit_blas():
    """One BLAS thread in this process, as Dask's nanny gives its workers (a fair serial baseline
    on small matrices)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def run_sweep(tasks: list[dict], client=None, repeats: int = 1,
              task_seconds: float = TASK_SECONDS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every group serially in this process and, with ``client``, in parallel on the cluster
    (cases batched by :func:`plan_batches` from the group's measured serial time).

    Returns ``(cases, groups)`` DataFrames (see the module docstring). ``repeats`` > 1 keeps the
    fastest wall time of each group (the machine may be shared)."""
    rows, groups = [], []
    _warm_up()
    if client is not None:
        # a gateway cluster starts its workers after get_client returns: wait for one at least
        # (the notebook waits for all it asked for)
        client.wait_for_workers(1, timeout=600)
        client.run(_warm_up)  # on every worker: the first timed task pays no import
    workers = n_workers(client)
    for (sweep, value), group in _groups(tasks):
        serial = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            res = [run_task(t) for t in group]
            serial.append(time.perf_counter() - t0)
        rows += [{**r, "mode": "serial", "batch": -1} for r in res]
        g = {"sweep": sweep, "value": value, "nummu": group[0]["nummu"],
             "aziorder": group[0]["aziorder"], "n_cases": len(group), "serial_s": min(serial),
             "serial_cpu_s": sum(r["task_cpu_seconds"] for r in res)}
        if client is not None:
            batches = plan_batches(group, min(serial) / len(group), workers, task_seconds)
            par = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                out = client.gather(client.map(run_batch, batches, pure=False))
                par.append(time.perf_counter() - t0)
            rows += [{**r, "mode": "parallel", "batch": b} for b, res in enumerate(out) for r in res]
            g.update(parallel_s=min(par), n_tasks=len(batches),
                     task_s=max(sum(r["task_seconds"] for r in res) for res in out))
        groups.append(g)
    groups = pd.DataFrame(groups)
    if "parallel_s" in groups:
        workers = max(workers, n_workers(client))
        groups["workers"] = workers
        groups["speedup"] = groups["serial_s"] / groups["parallel_s"]
        groups["efficiency"] = groups["speedup"] / workers
    return pd.DataFrame(rows), groups


def n_workers(client) -> int:
    return len(client.scheduler_info(n_workers=-1)["workers"]) if client is not None else 0


def cluster_kind(client, cases: pd.DataFrame) -> str:
    """'threads in the kernel process' (a LocalCluster with processes=False: the GIL limits the
    speed-up) or 'separate processes' (gateway or process LocalCluster)."""
    if client is None:
        return "none"
    par = cases[cases["mode"] == "parallel"]
    if len(par) and set(par["pid"]) == {os.getpid()}:
        return "threads in the kernel process"
    return "separate processes"


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return []


def write_products(out_dir, cases: pd.DataFrame, groups: pd.DataFrame, meta: dict) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for table, name in ((cases, CASES_FILE), (groups, GROUPS_FILE)):
        with io.atomic_path(out / name) as tmp:
            table.to_csv(tmp, index=False)
    io.write_json(out / META_FILE, meta)
    return out


def run_analysis(out_dir, *, client=None, nummu_list=(4, 8, 12, 16, 24, 32), aziorder_list=(0, 7, 15, 23, 31),
                 nummu_fixed=16, sza_list=(30.0, 60.0), vza_list=(10.0, 40.0), raz_list=(60.0, 120.0),
                 wavelengths=(412.0, 443.0, 488.0, 547.0, 667.0), chl=0.3, repeats=1,
                 task_seconds=TASK_SECONDS) -> dict:
    """Build the cases, run the sweep (serially, and on ``client`` when given), write the
    products; returns ``{"cases", "groups", "meta"}``."""
    import PythonicDISORT

    tasks = build_tasks(nummu_list, aziorder_list, nummu_fixed, sza_list, vza_list, raz_list,
                        wavelengths, chl)
    load0 = load_average()
    t0 = time.perf_counter()
    cases, groups = run_sweep(tasks, client=client, repeats=repeats, task_seconds=task_seconds)
    c0, c1 = fit_cost_model(cases) if cases["nummu"].nunique() > 1 else (float("nan"), float("nan"))
    meta = {
        "solver": "PythonicDISORT", "solver_version": getattr(PythonicDISORT, "__version__", None)
        or _dist_version("pythonicdisort"),
        "n_cases": len(tasks), "n_parallel_tasks": int(groups["n_tasks"].sum()) if "n_tasks" in groups else 0,
        "task_seconds": task_seconds, "workers": n_workers(client), "cluster": cluster_kind(client, cases),
        "cost_model_cpu_s": {"c0": c0, "c1": c1, "formula": "c0 + c1 * NUMMU^3 * (AZIORDER + 1)"},
        "dashboard_link": getattr(client, "satco2_dashboard_link", None) if client is not None else None,
        "load_average_before": load0, "load_average_after": load_average(), "cpu_count": os.cpu_count(),
        "machine": platform.machine(), "python": platform.python_version(),
        "elapsed_s": time.perf_counter() - t0, "chl": chl,
        "note": "the machine may be shared: timings carry the load shown beside them",
    }
    write_products(out_dir, cases, groups, meta)
    return {"cases": cases, "groups": groups, "meta": meta}


def _dist_version(name):
    from importlib.metadata import version

    return version(name)


def read_products(report_dir) -> dict:
    d = Path(report_dir)
    if not (d / GROUPS_FILE).exists():
        raise SatCO2Error(f"the report folder {d} has no {GROUPS_FILE}; was it made by the radiative_transfer notebook?")
    return {"cases": pd.read_csv(d / CASES_FILE), "groups": pd.read_csv(d / GROUPS_FILE),
            "meta": json.loads((d / META_FILE).read_text())}
