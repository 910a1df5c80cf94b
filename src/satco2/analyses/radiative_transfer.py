"""The radiative-transfer sweep of ``notebooks/radiative_transfer.ipynb``: the coupled
ocean-atmosphere case (:func:`satco2.science.radiative_transfer.coupled_case`) over
NUMMU x AZIORDER x geometry x wavelength, each case one Dask task, timed serially in the kernel and
in parallel on the user's cluster.

Two sweeps reproduce the seed platform's two curves:

- ``nummu``: run time against the quadrature angles per hemisphere, at the full azimuth order the
  solver resolves (``aziorder = 2 nummu - 1``; the seed used AZIORDER = 99, which a DISORT solver
  cannot resolve with fewer than 50 angles per hemisphere: see the science module);
- ``aziorder``: run time against the azimuth order at a fixed ``nummu``.

A *group* is one point of a curve: all geometries x wavelengths at that discretisation. Its
serial time is the wall time of running the group's tasks one after another in this process; its
parallel time the wall time of ``client.map`` + ``gather`` of the same tasks on the cluster.
Speed-up = serial / parallel; parallel efficiency = speed-up / workers.

Azimuth Fourier modes as separate tasks: PythonicDISORT solves the modes in one internal loop
and its public API returns only their sum, so the separable unit here is the whole case (a mode
split would need the solver's private functions). The cost model in ``docs/radiative-transfer.md``
shows the time per case is close to linear in the number of modes, which is what a mode split
would distribute.

Products in the report folder: ``rt_cases.csv`` (one row per task and mode of execution),
``rt_groups.csv`` (one row per curve point), ``rt_meta.json`` (cluster, solver, machine load).
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


def run_sweep(tasks: list[dict], client=None, repeats: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every group serially in this process and, with ``client``, in parallel on the cluster.

    Returns ``(cases, groups)`` DataFrames (see the module docstring). ``repeats`` > 1 keeps the
    fastest wall time of each group (the machine may be shared)."""
    rows, groups = [], []
    _limit_blas()
    run_task(tasks[0])  # warm-up: imports and caches, not timed
    if client is not None:
        client.gather(client.map(run_task, tasks[:1], pure=False))
    for (sweep, value), group in _groups(tasks):
        serial = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            res = [run_task(t) for t in group]
            serial.append(time.perf_counter() - t0)
        rows += [{**r, "mode": "serial"} for r in res]
        g = {"sweep": sweep, "value": value, "nummu": group[0]["nummu"],
             "aziorder": group[0]["aziorder"], "n_tasks": len(group), "serial_s": min(serial),
             "serial_cpu_s": sum(r["task_cpu_seconds"] for r in res)}
        if client is not None:
            par = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                res = client.gather(client.map(run_task, group, pure=False))
                par.append(time.perf_counter() - t0)
            rows += [{**r, "mode": "parallel"} for r in res]
            g["parallel_s"] = min(par)
        groups.append(g)
    groups = pd.DataFrame(groups)
    if "parallel_s" in groups:
        n = n_workers(client)
        groups["workers"] = n
        groups["speedup"] = groups["serial_s"] / groups["parallel_s"]
        groups["efficiency"] = groups["speedup"] / n
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


def run_analysis(out_dir, *, client=None, nummu_list=(2, 4, 6, 8, 12, 16), aziorder_list=(0, 3, 7, 11, 15),
                 nummu_fixed=8, sza_list=(30.0, 60.0), vza_list=(10.0, 40.0), raz_list=(90.0,),
                 wavelengths=(443.0, 547.0), chl=0.3, repeats=1) -> dict:
    """Build the tasks, run the sweep (serially, and on ``client`` when given), write the
    products; returns ``{"cases", "groups", "meta"}``."""
    import PythonicDISORT

    tasks = build_tasks(nummu_list, aziorder_list, nummu_fixed, sza_list, vza_list, raz_list,
                        wavelengths, chl)
    load0 = load_average()
    t0 = time.perf_counter()
    cases, groups = run_sweep(tasks, client=client, repeats=repeats)
    meta = {
        "solver": "PythonicDISORT", "solver_version": getattr(PythonicDISORT, "__version__", None)
        or _dist_version("pythonicdisort"),
        "n_tasks": len(tasks), "workers": n_workers(client), "cluster": cluster_kind(client, cases),
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
