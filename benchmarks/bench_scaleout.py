"""Measured scale-out on Dask Gateway workers (issue 16, item 3): one real analysis step on 1 and on
2 gateway workers, best of N, interleaved, and the scheduler's overhead per task.

    python -m benchmarks.bench_scaleout [--small] [--repeats 3] [--shape 144,500,600] [--lat-chunk 25]

What runs:

- **The gateway**: a real ``dask-gateway-server`` started by this benchmark on loopback, with the
  hub's own pieces: the backend of the hub's single-account mode (``satco2.hub.gateway.backend_class``:
  dask-gateway's ``UnsafeLocalBackend`` with usage recording and quotas; clusters run as the
  account running the benchmark), the cluster options and limits of ``hub-config/settings.yaml``
  (``satco2.hub.gateway.cluster_options``), ``dask scheduler`` / ``dask worker`` processes as in
  ``hub-config/dask_gateway_config.py``; authentication is dask-gateway's ``SimpleAuthenticator``
  (a password) instead of the hub's tokens, which is the only difference from a hub user's gateway.
- **The client**: ``satco2.compute``'s in-hub path (``_gateway_client``: the code ``get_client()``
  runs in a hub user's kernel) with ``worker_cores=1``, then ``cluster.scale(n)``.
- **The step**: per-pixel Theil-Sen slope + Mann-Kendall test with deseasonalization
  (``satco2.science.trends.trend(..., "theil_sen_mk")``, the numba kernel under
  ``xarray.apply_ufunc``) on a (time, lat, lon) float32 Zarr cube chunked in latitude bands, read
  by the workers from disk, the slope and p-value gathered. The cube is SYNTHETIC (noise + trend +
  seasonal cycle, 5 % all-missing "land" rows), written once with the demo store's layout; the demo
  cubes (<= 50 000 pixels) are too small to take tens of seconds.
- Each worker is one process with one thread and ``NUMBA_NUM_THREADS=1``: without that cap numba's
  parallel kernel uses every core of the node from one worker (see docs/scaling.md).

Timing: ``get_client`` scales the cluster to 2 workers once; a "1 worker" run restricts the
computation to one of them (``client.compute(..., workers=[a], allow_other_workers=False)``), so
both counts run on the same warm processes (rescaling would start a fresh worker, whose numba cache
load and imports would be timed). One untimed warm-up of each count, then ``--repeats`` rounds,
each timing 1 and 2 workers, the order alternating (interleaved, so a change of the machine's load
hits both). Printed: every run, the best of each, ``speed-up on 2 workers: X``
(best 1-worker time / best 2-worker time), and from the task stream and the scheduler process:

- tasks per run, worker busy seconds (sum of task compute times), overhead per task =
  (wall x workers - busy) / tasks (everything that is not computing: scheduling, transfers, idling);
- the scheduler's CPU seconds per task (``psutil`` on the scheduler process, before/after);
- worker CPU seconds of each run (``psutil`` in the workers): on a shared machine the wall time
  says how much CPU the workers got, the CPU seconds what the work costs (pixels and GB per
  worker CPU second are the rates docs/scaling.md plans with);
- the I/O side: every chunk read, decoded and averaged over time (``mean``), timed the same way
  (GB/s decoded and stored, per worker count);
- a no-op task burst (``--noop`` tasks of ``client.map``) on 2 workers: wall seconds per task and
  scheduler CPU per task, the floor of the per-task cost.

The load average is printed at the start and at the end. No assertion: docs/scaling.md uses the figures.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

GATEWAY_CONFIG = """\
# Written by benchmarks/bench_scaleout.py: the hub's gateway pieces, password authentication.
import os
from satco2.hub import gateway, settings
S = settings.load()
G = S["gateway"]
c = get_config()
c.DaskGateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"
c.SimpleAuthenticator.password = os.environ["BENCH_GATEWAY_PASSWORD"]
c.DaskGateway.address = "127.0.0.1:0"
c.Proxy.address = "127.0.0.1:{http_port}"
c.Proxy.tcp_address = "127.0.0.1:{tcp_port}"
c.DaskGateway.backend_class = gateway.backend_class(S, False)
c.DBBackendBase.stop_clusters_on_shutdown = True
c.Backend.cluster_options = gateway.cluster_options(S)
c.ClusterConfig.scheduler_cmd = [{python!r}, "-m", "dask", "scheduler"]
c.ClusterConfig.worker_cmd = [{python!r}, "-m", "dask", "worker"]
c.ClusterConfig.scheduler_memory = int(G.get("scheduler_memory_gib", 1.0) * gateway.GiB)
c.ClusterConfig.idle_timeout = 600.0
c.ClusterConfig.cluster_max_workers = G["limits"]["default"]["cluster_max_workers"]
c.ClusterConfig.cluster_max_cores = G["limits"]["default"]["cluster_max_cores"]
c.ClusterConfig.cluster_max_memory = int(G["limits"]["default"]["cluster_max_memory_gib"] * gateway.GiB)
c.ClusterConfig.environment = {env!r}
"""


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def make_cube(path: Path, nt: int, ny: int, nx: int, lat_chunk: int, seed: int = 0) -> float:
    """Write a SYNTHETIC (time, lat, lon) float32 Zarr cube chunked (all time, ``lat_chunk``, all
    lon), band by band (bounded memory); return its size in GB (uncompressed)."""
    import pandas as pd
    import xarray as xr

    from satco2 import io

    rng = np.random.default_rng(seed)
    time_ = pd.date_range("2003-01-01", periods=nt, freq="MS")
    lat = np.linspace(-60, 60, ny)
    lon = np.linspace(-180, 180, nx, endpoint=False)
    season = np.sin(2 * np.pi * np.arange(nt) / 12).astype(np.float32)[:, None, None]
    trend = np.arange(nt, dtype=np.float32)[:, None, None]
    data = np.empty((nt, ny, nx), np.float32)
    for j0 in range(0, ny, lat_chunk):
        j1 = min(ny, j0 + lat_chunk)
        slope = rng.normal(0, 0.01, size=(1, j1 - j0, nx)).astype(np.float32)
        data[:, j0:j1] = rng.standard_normal((nt, j1 - j0, nx), dtype=np.float32) + slope * trend + season
    data[:, : max(1, ny // 20), :] = np.nan  # "land"
    da = xr.DataArray(data, dims=("time", "lat", "lon"), name="x",
                      coords={"time": time_, "lat": lat, "lon": lon}, attrs={"units": "1"})
    ds = da.to_dataset().chunk({"time": -1, "lat": lat_chunk, "lon": -1})
    io.write_zarr(ds, path)
    return data.nbytes / 1e9


@contextlib.contextmanager
def gateway_server(workdir: Path, env: dict, timeout: float = 90):
    """A ``dask-gateway-server`` on loopback; yields (address, proxy_address, password)."""
    from satco2.hub.launcher import free_port
    from satco2.testing import gateway_process

    http_port, tcp_port = free_port(), free_port()
    password = secrets.token_hex(12)
    conf = workdir / "dask_gateway_config.py"
    conf.write_text(GATEWAY_CONFIG.format(http_port=http_port, tcp_port=tcp_port, python=sys.executable, env=env))
    env = {**os.environ, **env, "BENCH_GATEWAY_PASSWORD": password}
    with gateway_process(conf, http_port, env, timeout, what="dask-gateway-server") as address:
        yield address, f"gateway://127.0.0.1:{tcp_port}", password


def _scheduler_cpu() -> float:
    """CPU seconds (user + system) of the calling process (run on the scheduler or a worker)."""
    import psutil

    t = psutil.Process().cpu_times()
    return t.user + t.system


def _noop(x):
    return x


def wait_workers(client, n: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(client.scheduler_info()["workers"]) != n:
        if time.monotonic() > deadline:
            raise SystemExit(f"the cluster did not reach {n} workers within {timeout:.0f} s "
                             f"(it has {len(client.scheduler_info()['workers'])})")
        time.sleep(0.3)


def run_step(client, cube: Path, workers: list[str] | None = None, step: str = "trend") -> dict:
    """One timed step over the cube on the client's cluster (on ``workers`` only, when given):
    ``trend`` (Theil-Sen + Mann-Kendall, slope and p-value gathered) or ``mean`` (read and
    decode every chunk, mean over time: the I/O side of a pass over a mirror)."""
    import xarray as xr
    from distributed import get_task_stream

    from satco2.science import trends

    ds = xr.open_zarr(cube)
    if step == "trend":
        res = trends.trend(ds["x"], method="theil_sen_mk", deseason=True, dtype=np.float32)
        out = res[["slope", "p_value"]]
    else:
        out = ds["x"].mean("time").to_dataset(name="slope")
    cpu0 = client.run_on_scheduler(_scheduler_cpu)
    wcpu0 = client.run(_scheduler_cpu, workers=workers)  # CPU seconds of each worker process
    with get_task_stream(client) as ts:
        t0 = time.perf_counter()
        got = client.compute(out, workers=workers, allow_other_workers=False).result()
        wall = time.perf_counter() - t0
    cpu1 = client.run_on_scheduler(_scheduler_cpu)
    wcpu1 = client.run(_scheduler_cpu, workers=workers)
    busy = sum(ss["stop"] - ss["start"] for task in ts.data for ss in task["startstops"]
               if ss["action"] == "compute")
    return {"wall": wall, "tasks": len(ts.data), "busy": busy, "sched_cpu": cpu1 - cpu0,
            # at least one clock tick (10 ms: psutil's resolution), so a tiny run never divides by 0
            "worker_cpu": max(0.01, sum(wcpu1[w] - wcpu0[w] for w in wcpu1)),
            "finite": int(np.isfinite(got["slope"].values).sum())}


def noop_burst(client, n: int) -> dict:
    cpu0 = client.run_on_scheduler(_scheduler_cpu)
    t0 = time.perf_counter()
    futs = client.map(_noop, range(n), pure=False)
    client.gather(futs)
    wall = time.perf_counter() - t0
    cpu1 = client.run_on_scheduler(_scheduler_cpu)
    del futs
    return {"wall": wall, "tasks": n, "sched_cpu": cpu1 - cpu0}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="a tiny cube, 1 round (checks that it runs)")
    ap.add_argument("--repeats", type=int, default=3, help="timed rounds (each: 1 worker, then 2)")
    ap.add_argument("--shape", default="144,500,600", help="time,lat,lon of the cube")
    ap.add_argument("--lat-chunk", type=int, default=25, help="latitude rows per chunk (one task each)")
    ap.add_argument("--noop", type=int, default=2000, help="no-op tasks in the overhead burst")
    ap.add_argument("--keep", help="folder for the cube and logs (default: a temporary folder)")
    a = ap.parse_args(argv)
    # SIGTERM (a CI timeout, kill PID) ends the run through the cleanup below, not around it
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    nt, ny, nx = (48, 40, 100) if a.small else (int(v) for v in a.shape.split(","))
    lat_chunk = 10 if a.small else a.lat_chunk
    repeats = 1 if a.small else a.repeats
    n_noop = 200 if a.small else a.noop

    import dask

    from satco2 import compute

    print(f"start: {load()}", flush=True)
    tmp = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="bench-scaleout-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        cube = tmp / "cube.zarr"
        gb = make_cube(cube, nt, ny, nx, lat_chunk)
        print(f"cube: {nt} x {ny} x {nx} float32 SYNTHETIC Zarr, {gb:.3f} GB, chunks (all time, {lat_chunk} lat, "
              f"all lon): {-(-ny // lat_chunk)} chunks of {lat_chunk * nx * nt * 4 / 1e6:.1f} MB", flush=True)
        worker_env = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                      "PYTHONPATH": os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(ROOT)) if p)}
        with gateway_server(tmp, worker_env) as (address, proxy, password), \
                dask.config.set({"gateway.address": address, "gateway.proxy-address": proxy,
                                 "gateway.public-address": address, "gateway.auth.type": "basic",
                                 "gateway.auth.kwargs": {"password": password}}):
            t0 = time.perf_counter()
            client = compute._gateway_client({"worker_cores": 1, "n_workers": 1}, new=True)
            wait_workers(client, 1)
            print(f"gateway cluster with 1 worker ready in {time.perf_counter() - t0:.1f} s", flush=True)
            cluster = client.cluster  # the GatewayCluster get_client() made
            try:
                client_scale(client, 2)
                two = sorted(client.scheduler_info()["workers"])
                runs: dict[int, list[dict]] = {1: [], 2: []}
                reads: dict[int, list[dict]] = {1: [], 2: []}
                for rnd in range(repeats + 1):
                    for n in ((1, 2) if rnd % 2 else (2, 1)):
                        label = "warm-up" if rnd == 0 else f"round {rnd}"
                        for step, store in (("trend", runs), ("mean", reads)):
                            r = run_step(client, cube, two[:n], step)
                            print(f"  {label}: {step}: {n} worker(s): {r['wall']:.2f} s, {r['tasks']} tasks, "
                                  f"busy {r['busy']:.2f} s, worker CPU {r['worker_cpu']:.2f} s, "
                                  f"scheduler CPU {r['sched_cpu']:.2f} s "
                                  f"({load()})", flush=True)
                            if rnd:
                                store[n].append(r)
                noop = noop_burst(client, n_noop)
            finally:
                client.close()
                cluster.shutdown()
        best = {n: min(rs, key=lambda r: r["wall"]) for n, rs in runs.items()}
        print(f"\nbest of {repeats}: 1 worker {best[1]['wall']:.2f} s (median "
              f"{statistics.median(r['wall'] for r in runs[1]):.2f} s), 2 workers {best[2]['wall']:.2f} s "
              f"(median {statistics.median(r['wall'] for r in runs[2]):.2f} s)")
        npix = ny * nx
        for n in (1, 2):
            r = best[n]
            print(f"{n} worker(s): {npix / r['wall']:,.0f} pixels/s, {npix / r['worker_cpu']:,.0f} pixels per worker "
                  f"CPU second, {r['finite']} finite slopes, {r['tasks']} tasks, "
                  f"compute {r['busy'] / r['tasks'] * 1e3:.1f} ms/task, overhead per task "
                  f"(wall x workers - busy) / tasks = {(r['wall'] * n - r['busy']) / r['tasks'] * 1e3:.1f} ms "
                  f"({(r['wall'] * n - r['busy']) / (r['wall'] * n) * 100:.1f} % of worker time), "
                  f"scheduler CPU {r['sched_cpu'] / r['tasks'] * 1e3:.2f} ms/task "
                  f"({r['sched_cpu'] / r['wall'] * 100:.1f} % of wall)")
        disk = sum(f.stat().st_size for f in cube.rglob("*") if f.is_file()) / 1e9
        for n in (1, 2):
            r = min(reads[n], key=lambda r: r["wall"])
            print(f"read + mean over time, {n} worker(s), best of {repeats}: {r['wall']:.2f} s = "
                  f"{gb / r['wall']:.2f} GB/s decoded ({disk / r['wall']:.2f} GB/s of the {disk:.3f} GB stored), "
                  f"{gb / r['worker_cpu']:.2f} GB decoded per worker CPU second, "
                  f"{r['tasks']} tasks, scheduler CPU {r['sched_cpu'] / r['tasks'] * 1e3:.2f} ms/task")
        print(f"no-op burst on 2 workers: {noop['tasks']} tasks in {noop['wall']:.2f} s = "
              f"{noop['wall'] / noop['tasks'] * 1e3:.2f} ms/task wall, scheduler CPU "
              f"{noop['sched_cpu'] / noop['tasks'] * 1e3:.2f} ms/task")
        print(f"end: {load()}")
        print(f"speed-up on 2 workers: {best[1]['wall'] / best[2]['wall']:.2f}")
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def client_scale(client, n: int) -> None:
    """Scale the client's gateway cluster to ``n`` workers and wait until it has exactly ``n``."""
    client.cluster.scale(n)
    wait_workers(client, n)


if __name__ == "__main__":
    sys.exit(main())
