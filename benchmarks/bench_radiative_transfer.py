"""Radiative-transfer sweep benchmark (issue 18): serial vs 2 Dask Gateway workers on this machine.

    flock /tmp/satco2-hub.lock python -m benchmarks.bench_radiative_transfer [--small] [--local]

The coupled ocean-atmosphere case (``satco2.science.radiative_transfer.coupled_case``) over
NUMMU x AZIORDER x geometry x wavelength, run by the notebook's own workflow
(``satco2.analyses.radiative_transfer.run_sweep``): every curve point serially in one process, then
on the cluster with its cases batched into tasks of about a second (``plan_batches``).

- default (**gateway**): a real hub started as ``satco2 up`` does (root mode when run as root), one
  user signed up and approved through the forms, its server spawned; the sweep runs in a kernel of
  that server, and ``satco2.compute.get_client(n_workers=2, worker_cores=1)`` gives it a Dask
  Gateway cluster of 2 one-core worker processes - what a user of the hub gets. The kernel and
  the workers import the ``satco2`` sources this benchmark was started from.
- ``--local``: a ``distributed.LocalCluster`` of 2 worker processes in this process (no hub).

Prints the per-point table, the fitted cost model (CPU seconds per case = c0 + c1 NUMMU^3
(AZIORDER+1), see docs/radiative-transfer.md), the load average before and after and, last,
``speed-up ... X`` (total serial / total parallel wall time). The machine may be shared: the load
average is printed beside the timings. No assertion: the numbers go into docs/radiative-transfer.md.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import tempfile
from pathlib import Path

import pandas as pd

SWEEP = dict(nummu_list=(4, 8, 12, 16, 24, 32), aziorder_list=(0, 7, 15, 23, 31), nummu_fixed=16,
             sza_list=(30.0, 60.0), vza_list=(10.0, 40.0), raz_list=(60.0, 120.0),
             wavelengths=(412.0, 443.0, 488.0, 547.0, 667.0), chl=0.3)
SMALL = dict(SWEEP, nummu_list=(4, 16, 32), aziorder_list=(0, 31), wavelengths=(443.0, 547.0))

#: runs in the user's kernel; prints one line "RESULT <json>"
KERNEL_CODE = """
import json, os, sys
sys.path.insert(0, {src!r})
from satco2.compute import get_client
from satco2.analyses import radiative_transfer as rta

def _src():
    sys.path.insert(0, {src!r})

client = get_client(n_workers=2, worker_cores=1)
client.wait_for_workers(2, timeout=300)
client.run(_src)
load0 = os.getloadavg()
tasks = rta.build_tasks(**{sweep!r})
cases, groups = rta.run_sweep(tasks, client=client, repeats={repeats})
print("RESULT " + json.dumps({{"groups": groups.to_dict("list"), "cases": cases.to_dict("list"),
                               "workers": rta.n_workers(client), "cluster": rta.cluster_kind(client, cases),
                               "load": [load0, os.getloadavg()]}}))
client.close()
"""


def run_gateway(sweep: dict, repeats: int, tmp: Path) -> dict:
    import re

    import satco2
    from satco2.testing.hub import execute, temp_hub

    src = str(Path(satco2.__file__).resolve().parents[1])
    user, pw = f"rtbench{secrets.token_hex(2)}", secrets.token_urlsafe(12)
    with temp_hub(tmp / "hub") as hub:
        hub.signup(user, pw)
        hub.approve(user)
        server = hub.start_server(hub.login_session(user, pw))
        print(f"hub up, {user}'s server at {server}; sweep running in its kernel", flush=True)
        out = execute(server, hub.api_token(user),
                      KERNEL_CODE.format(src=src, sweep=sweep, repeats=repeats), timeout=3600)
    m = re.search(r"^RESULT (.*)$", out, re.M)
    return json.loads(m.group(1))


def run_local(sweep: dict, repeats: int) -> dict:
    from distributed import Client, LocalCluster

    from satco2.analyses import radiative_transfer as rta

    load0 = os.getloadavg()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        cases, groups = rta.run_sweep(rta.build_tasks(**sweep), client=client, repeats=repeats)
        kind = rta.cluster_kind(client, cases)
    return {"groups": groups.to_dict("list"), "cases": cases.to_dict("list"), "workers": 2,
            "cluster": kind, "load": [load0, os.getloadavg()]}


def main(argv=None) -> int:
    from satco2.analyses import radiative_transfer as rta

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="fewer curve points and wavelengths")
    ap.add_argument("--local", action="store_true", help="a LocalCluster of 2 processes instead of the hub's gateway")
    ap.add_argument("--repeats", type=int, default=1, help="timing repeats per point (the fastest is kept)")
    a = ap.parse_args(argv)
    sweep = SMALL if a.small else SWEEP
    print(f"load average before: {[round(x, 2) for x in os.getloadavg()]} on {os.cpu_count()} cores", flush=True)
    if a.local:
        res, kind = run_local(sweep, a.repeats), "LocalCluster processes"
    else:
        with tempfile.TemporaryDirectory(prefix="bench-rt-") as d:
            res, kind = run_gateway(sweep, a.repeats, Path(d)), "Dask Gateway workers"
    groups, cases = pd.DataFrame(res["groups"]), pd.DataFrame(res["cases"])
    cols = ["sweep", "value", "nummu", "aziorder", "n_cases", "n_tasks", "serial_s", "parallel_s",
            "task_s", "speedup", "efficiency"]
    print(groups[cols].round(3).to_string(index=False))
    c0, c1 = rta.fit_cost_model(cases)
    print(f"cost model (CPU s per case): {c0:.4f} + {c1:.3e} * NUMMU^3 * (AZIORDER+1)")
    print(f"cluster: {res['workers']} workers, {res['cluster']}; load average in the kernel before/after: "
          f"{[round(x, 2) for x in res['load'][0]]} / {[round(x, 2) for x in res['load'][1]]}")
    print(f"load average after: {[round(x, 2) for x in os.getloadavg()]}")
    serial, parallel = groups["serial_s"].sum(), groups["parallel_s"].sum()
    print(f"serial {serial:.2f} s, {res['workers']} workers {parallel:.2f} s "
          f"({len(cases[cases['mode'] == 'serial'])} cases, {int(groups['n_tasks'].sum())} parallel tasks)")
    print(f"speed-up serial / {res['workers']} workers ({kind}): {serial / parallel:.2f} X")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
