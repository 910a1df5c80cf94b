"""Smoke tests of the issue-16 benchmarks: each runs in its tiny ``--small`` mode so it cannot rot.

No timing is asserted (benchmarks are measured, never asserted): the tests check that each run
finishes, computes what it claims (a 2-user round without errors; a speed-up and the per-task
overhead printed) and leaves no process behind.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from satco2 import config

ROOT = Path(__file__).resolve().parents[1]


def _run(module: str, *args: str, timeout: float = 600) -> str:
    env = config.environ()
    env["PYTHONPATH"] = str(ROOT / "src") + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    p = subprocess.run([sys.executable, "-m", f"benchmarks.{module}", *args], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=timeout, check=False)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    return p.stdout


def _left_behind(name: str) -> list[str]:
    """Command lines of running processes that name a benchmark's temporary folder ``name...`` in
    their command line (the gateway: ``-f <folder>/dask_gateway_config.py``) or environment (the
    hub and everything it starts: ``SATCO2_HUB_RUNTIME=<folder>/state/...``)."""
    out = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
            if name in cmd or any(name in v for v in proc.environ().values()):
                out.append(cmd)
        except psutil.Error:
            pass
    return out


@pytest.mark.slow
def test_bench_scaleout_small_runs_on_gateway_workers():
    out = _run("bench_scaleout", "--small")
    assert re.search(r"^start: load average [\d.]+ [\d.]+ [\d.]+ on \d+ cores$", out, re.MULTILINE), out
    assert re.search(r"gateway cluster with 1 worker ready", out), out
    for n in (1, 2):
        for step in ("trend", "mean"):
            assert re.search(rf"round 1: {step}: {n} worker\(s\): [\d.]+ s, \d+ tasks", out), out
        # the tiny cube is 40 x 100 pixels, 2 of its 40 rows all-missing "land": 3800 slopes
        assert re.search(rf"^{n} worker\(s\): [\d,]+ pixels/s, [\d,]+ pixels per worker CPU second, 3800 finite slopes, \d+ tasks, .*overhead "
                         r"per task .* ms .*scheduler CPU [\d.]+ ms/task", out, re.MULTILINE), out
        assert re.search(rf"read \+ mean over time, {n} worker\(s\), best of 1: [\d.]+ s = [\d.]+ GB/s", out), out
    assert re.search(r"no-op burst on 2 workers: 200 tasks in [\d.]+ s", out), out
    assert re.search(r"^speed-up on 2 workers: [\d.]+$", out, re.MULTILINE), out
    assert not _left_behind("bench-scaleout-"), "the benchmark left its gateway or cluster running"


@pytest.mark.slow
@pytest.mark.hub
def test_bench_hub_load_small_round_without_errors():
    out = _run("bench_hub_load", "--small", timeout=900)
    assert "single-account mode" in out
    assert re.search(r"^2 users: round took [\d.]+ s$", out, re.MULTILINE), out
    for step in ("login", "spawn", "kernel", "cell", "stop"):
        assert re.search(rf"^  {step}\s+2\s+0(\s+[\d.]+){{4}}$", out, re.MULTILINE), (step, out)
    assert "users with an error: 0 of 2" in out, out
    assert re.search(r"hub process tree: [\d.]+ CPU s in the round = [\d.]+ CPU s per user", out), out
    assert not _left_behind("bench-hub-load-"), "the benchmark left a hub or server running"
