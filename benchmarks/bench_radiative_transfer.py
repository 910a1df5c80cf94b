"""Radiative-transfer sweep benchmark (issue 18): serial vs 2 Dask workers on this machine.

The coupled ocean-atmosphere case (``satco2.science.radiative_transfer.coupled_case``) over
NUMMU x AZIORDER x geometry x wavelength (``satco2.analyses.radiative_transfer``), timed serially
in this process and on a ``distributed.LocalCluster`` of 2 worker PROCESSES (1 thread each) -
not a Dask Gateway cluster (none is at hand outside the hub); process workers are what a gateway
gives, and sidestep the GIL that limits the in-process threaded LocalCluster of ``get_client``.
Prints the per-point table, the fitted cost model (seconds per case = c0 + c1 NUMMU^3 (AZIORDER+1)
style fit, see docs/radiative-transfer.md) and, last, ``speed-up ... X`` (total serial / total
parallel wall time). The machine may be shared: the load average is printed beside the timings.

Usage: ``python -m benchmarks.bench_radiative_transfer [--small]``.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np


def main(small: bool = False):
    from distributed import Client, LocalCluster

    from satco2.analyses import radiative_transfer as rta

    nummu = (4, 8, 16) if small else (4, 8, 12, 16, 24, 32)
    azi = (0, 15, 31) if small else (0, 7, 15, 23, 31)
    tasks = rta.build_tasks(nummu, azi, 16, (30.0, 60.0), (10.0, 40.0), (90.0,), (443.0, 547.0), 0.3)
    print(f"load average before: {os.getloadavg()} on {os.cpu_count()} cores", flush=True)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        t0 = time.perf_counter()
        cases, groups = rta.run_sweep(tasks, client=client, repeats=1 if small else 2)
        elapsed = time.perf_counter() - t0
    print(groups.round(3).to_string(index=False))
    # cost model per case from the serial runs: t = c0 + c1 * nummu^3 * (aziorder + 1)
    s = cases[cases["mode"] == "serial"]
    x = (s["nummu"].astype(float) ** 3) * (s["aziorder"] + 1)
    c1, c0 = np.polyfit(x, s["task_cpu_seconds"], 1)
    print(f"cost model (CPU s per case): {c0:.4f} + {c1:.3e} * NUMMU^3 * (AZIORDER+1)")
    print(f"load average after: {os.getloadavg()}; sweep took {elapsed:.1f} s")
    serial, parallel = groups["serial_s"].sum(), groups["parallel_s"].sum()
    print(f"serial {serial:.2f} s, 2 process workers {parallel:.2f} s")
    print(f"speed-up serial / 2 workers (LocalCluster processes): {serial / parallel:.2f} X")


if __name__ == "__main__":
    main(small="--small" in sys.argv)
