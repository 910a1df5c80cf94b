"""N concurrent viewers of one published dashboard (issue 14): SatCO2 Hub's dashboards service
against `panel serve` of the same dashboard, side by side in one run, loopback only.

    python -m benchmarks.bench_viewers [--viewers 100] [--small]

What is measured, per viewer: the time from sending ``GET <dashboard URL>`` (redirects followed)
to the whole HTML page received ("first paint" as far as the server is concerned: a live Bokeh page
still opens its websocket afterwards; the offline snapshot is complete), and whether it failed
(an HTTP error or no answer within 30 s). Every viewer starts at once (a barrier), so this is the
worst case of N people opening a shared link together. Memory: the serving process's RSS before,
at its peak, and ``--settle`` seconds after the viewers left.

- **satco2**: a real hub (single-account mode) on loopback, one logged-in user, the example
  notebook run and published with its offline snapshot; the dashboards service admits at most
  ``viewers.max_live_sessions`` live sessions at once (hub-config/settings.yaml) and gives the
  other viewers the snapshot.
- **panel serve**: what a researcher would otherwise do - ``panel serve app.py`` where app.py builds
  the same dashboard from the same report folder with ``from_report(...).servable()``, default
  options, no login.

The last line prints the ratio of the 99th percentiles (``p99 panel serve / satco2 = X``).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import requests


def _viewers(url: str, n: int, cookies=None) -> tuple[list[float], int, dict]:
    barrier = threading.Barrier(n)
    kinds: dict[str, int] = {}

    def one(_):
        s = requests.Session()
        if cookies:
            s.cookies.update(cookies)
        barrier.wait()
        t0 = time.perf_counter()
        try:
            r = s.get(url, timeout=30)
            ok = r.status_code == 200 and len(r.content) > 0
            kind = r.headers.get("X-SatCO2-View", "live")
        except requests.RequestException:
            ok, kind = False, "error"
        return time.perf_counter() - t0, ok, kind

    with ThreadPoolExecutor(n) as ex:
        out = list(ex.map(one, range(n)))
    for _, _, k in out:
        kinds[k] = kinds.get(k, 0) + 1
    return [t for t, ok, _ in out if ok], sum(1 for _, ok, _ in out if not ok), kinds


class _Peak(threading.Thread):
    """Peak RSS (MB) of a process and its children while running."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.proc, self.peak, self.stop = psutil.Process(pid), 0.0, False

    def rss(self) -> float:
        try:
            procs = [self.proc, *self.proc.children(recursive=True)]
            return sum(p.memory_info().rss for p in procs) / 2**20
        except psutil.Error:
            return 0.0

    def run(self):
        while not self.stop:
            self.peak = max(self.peak, self.rss())
            time.sleep(0.1)


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def _report(name: str, times, errors, kinds, before, peak, after) -> None:
    print(f"{name:12s} viewers ok {len(times):4d}  errors {errors:3d}  p50 {_pct(times, 50):6.2f} s  "
          f"p95 {_pct(times, 95):6.2f} s  p99 {_pct(times, 99):6.2f} s  max {max(times or [float('nan')]):6.2f} s  "
          f"served {kinds}  RSS MB before {before:.0f} peak {peak:.0f} after {after:.0f}", flush=True)


def bench_satco2(n: int, settle: float, work: Path):
    from satco2.runs import publish
    from satco2.runs.execute import run
    from satco2.testing import env_vars
    from satco2.testing.hub import temp_hub

    with env_vars(SATCO2_REPORTS_DIR=work / "reports", SATCO2_STATE_DIR=work / "state",
                  SATCO2_NOTEBOOKS_DIR=None, JUPYTERHUB_USER="viewer"):
        rep = run("example", {"n_months": "3"})
        with temp_hub(work / "hub", root_mode=False, state_dir=work / "state") as hub:
            publish.publish(follow_latest="example", slug="bench", author="viewer")
            hub.signup("viewer", "viewer-password-1")
            hub.approve("viewer")
            s = hub.login_session("viewer", "viewer-password-1")
            url = hub.url + "services/dashboards/app?id=bench"
            deadline = time.monotonic() + 180
            while s.get(url, timeout=60).status_code != 200:  # the service has loaded Panel
                assert time.monotonic() < deadline, "the dashboards service did not start"
                time.sleep(1)
            svc = next(p for p in psutil.process_iter(["cmdline"])
                       if "satco2.services.dashboards" in " ".join(p.info["cmdline"] or [])
                       and "supervise" not in " ".join(p.info["cmdline"] or []))
            time.sleep(settle)  # the warm-up session expires
            peak = _Peak(svc.pid)
            before = peak.rss()
            peak.start()
            times, errors, kinds = _viewers(url, n, s.cookies)
            time.sleep(settle)
            peak.stop = True
            _report("satco2", times, errors, kinds, before, peak.peak, peak.rss())
            return times, rep


def bench_panel_serve(n: int, settle: float, report_dir: Path, work: Path):
    from satco2.hub.launcher import free_port

    app = work / "app.py"
    app.write_text(textwrap.dedent(f"""
        from satco2.runs.publish import dashboard_module
        from pathlib import Path
        d = Path({str(report_dir)!r})
        dashboard_module(d.parent.name).from_report(d).servable()
    """))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "panel", "serve", str(app), "--port", str(port),
                             "--address", "127.0.0.1", "--allow-websocket-origin", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/app"
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(url, timeout=30).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "panel serve did not start"
            time.sleep(0.5)
        time.sleep(settle)
        peak = _Peak(proc.pid)
        before = peak.rss()
        peak.start()
        times, errors, kinds = _viewers(url, n)
        time.sleep(settle)
        peak.stop = True
        _report("panel serve", times, errors, kinds, before, peak.peak, peak.rss())
        return times
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--viewers", type=int, default=100)
    ap.add_argument("--settle", type=float, default=75.0, help="seconds after the viewers left before RSS is read")
    ap.add_argument("--small", action="store_true", help="20 viewers, short settle")
    args = ap.parse_args()
    if args.small:
        args.viewers, args.settle = 20, 10.0
    print(f"load average at start: {os.getloadavg()}; {os.cpu_count()} cores; {args.viewers} viewers at once")
    with tempfile.TemporaryDirectory(prefix="satco2-bench-viewers-") as tmp:
        work = Path(tmp)
        ours, rep = bench_satco2(args.viewers, args.settle, work)
        ref = bench_panel_serve(args.viewers, args.settle, rep.dir, work)
    print(f"load average at end: {os.getloadavg()}")
    p_ours, p_ref = _pct(ours, 99), _pct(ref, 99)
    med = statistics.median(ours) if ours else float("nan")
    print(f"satco2 p50 {med:.2f} s; p99 panel serve / satco2 = {p_ref / p_ours:.1f}x "
          f"(satco2 p99 {p_ours:.2f} s, panel serve p99 {p_ref:.2f} s)")


if __name__ == "__main__":
    main()
