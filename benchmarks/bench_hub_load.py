"""Hub load (issue 16, item 4): a hubtraf-style simulation of N users on a real hub on loopback.

    python -m benchmarks.bench_hub_load [--users 10,25,50,100] [--max-errors 0.1] [--ramp 0]
                                        [--root-mode] [--small]

The hub is the project's own (``satco2.testing.hub.temp_hub``: the code of ``satco2 up`` on free
loopback ports). Users are signed up through the real sign-up form, approved by the admin and
given an API token through their own login before the clock runs (setup, not timed). Then, per
round of N users, every user at once (or spread over ``--ramp`` seconds), each in its own thread:

1. **login**: the real login form (GET for the XSRF token, POST name and password);
2. **spawn**: ``POST /hub/api/users/<name>/server`` with the login cookie, then JupyterHub's spawn
   progress stream until it says ready (what the spawn page waits for);
3. **kernel**: ``POST <server>/api/kernels`` (a Python kernel process started);
4. **cell**: one cell run over the kernel's websocket (``import numpy``, a sum, printed) until
   its reply and idle status (includes the kernel's own start-up);
5. **stop**: ``DELETE /hub/api/users/<name>/server`` until the hub lists no server.

The CPU seconds the hub's whole process tree (hub, proxy, gateway, services, servers, kernels:
every descendant of this process, reaped ones included) used in the round, per user, and its
resident memory idle and at the peak (sampled every second) are printed too: on a shared machine
the wall times say how much CPU the hub got, the CPU seconds what a user costs.

A failed step counts as an error of that step and the user skips to *stop*. Per round it prints,
per step, the successes, the errors and p50/p95/p99/max seconds (with 10 users p99 is the
maximum), the round's wall time, the load average before and after, and the distinct error
messages. Rounds escalate through ``--users``; escalation stops when the fraction of users with an
error exceeds ``--max-errors``, or when the free memory cannot hold the next round
(``--mem-per-user`` GB each: a JupyterLab server and a kernel). Between rounds every server is stopped.

Accounts: by default the hub runs in **single-account mode** (``root_mode=False``: no system
account per user; every server runs as the account running the benchmark), since root mode's
100 system accounts (``useradd`` at sign-up, homes, ``userdel`` at teardown) would measure account
management as much as the hub. ``--root-mode`` runs the same with a system account per user.
Not a test: nothing is asserted; docs/hub.md holds the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import requests

STEPS = ("login", "spawn", "kernel", "cell", "stop")
CELL = "import numpy as np\nprint(float(np.arange(1_000_000).sum()))"
EXPECTED = "499999500000.0"


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def _short(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}"
    return text.splitlines()[0][:160]


def _spawn(hub, s: requests.Session, user: str, timeout: float) -> str:
    """Start ``user``'s server with its login cookie and follow the progress stream until ready."""
    xsrf = s.cookies.get("_xsrf", "")
    r = s.post(f"{hub.url}hub/api/users/{user}/server", headers={"X-XSRFToken": xsrf}, timeout=timeout)
    if r.status_code not in (201, 202):
        raise RuntimeError(f"spawn request answered HTTP {r.status_code}: {r.text[:120]}")
    with s.get(f"{hub.url}hub/api/users/{user}/server/progress", headers={"X-XSRFToken": xsrf},
               stream=True, timeout=timeout) as prog:
        prog.raise_for_status()
        for line in prog.iter_lines(decode_unicode=True):
            if not line or not line.startswith("data:"):
                continue
            ev = json.loads(line[5:])
            if ev.get("failed"):
                raise RuntimeError(f"spawn failed: {ev.get('message', '')[:120]}")
            if ev.get("ready"):
                return f"{hub.url.rstrip('/')}{ev['url']}"
    raise RuntimeError("the spawn progress stream ended without 'ready'")


def _stop(hub, s: requests.Session, user: str, timeout: float) -> None:
    xsrf = s.cookies.get("_xsrf", "")
    r = s.delete(f"{hub.url}hub/api/users/{user}/server", headers={"X-XSRFToken": xsrf}, timeout=timeout)
    if r.status_code == 204:
        return
    if r.status_code not in (202, 400):  # 400: not running (a failed spawn)
        raise RuntimeError(f"stop request answered HTTP {r.status_code}: {r.text[:120]}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = s.get(f"{hub.url}hub/api/user", headers={"X-XSRFToken": xsrf}, timeout=timeout)
        if info.ok and not info.json().get("servers"):
            return
        time.sleep(0.5)
    raise RuntimeError(f"the server was not stopped within {timeout:.0f} s")


def simulate(hub, user: str, password: str, token: str, timeout: float) -> dict:
    """One user's session; returns {step: seconds | exception}."""
    from satco2.testing.hub import execute

    out: dict = {}
    s = None
    server = None
    try:
        t = time.perf_counter()
        s = hub.login_session(user, password)
        out["login"] = time.perf_counter() - t
        t = time.perf_counter()
        server = _spawn(hub, s, user, timeout)
        out["spawn"] = time.perf_counter() - t
        t = time.perf_counter()
        r = requests.post(f"{server.rstrip('/')}/api/kernels", json={"name": "python3"},
                          headers={"Authorization": f"token {token}"}, timeout=timeout)
        r.raise_for_status()
        out["kernel"] = time.perf_counter() - t
        t = time.perf_counter()
        got = execute(server, token, CELL, timeout=timeout, kernel_id=r.json()["id"])
        if got.strip() != EXPECTED:
            raise RuntimeError(f"the cell printed {got.strip()[:60]!r}")
        out["cell"] = time.perf_counter() - t
    except Exception as e:  # noqa: BLE001 - counted and reported, the user goes on to stop
        step = next(k for k in STEPS if k not in out)
        out[step] = e
    if s is not None and "spawn" in out:
        t = time.perf_counter()
        try:
            _stop(hub, s, user, timeout)
            out["stop"] = time.perf_counter() - t
        except Exception as e:  # noqa: BLE001
            out["stop"] = e
    return out


def report(n: int, results: list[dict], wall: float) -> float:
    """Print one round's table; return the fraction of users with an error."""
    print(f"\n{n} users: round took {wall:.1f} s")
    print(f"  {'step':<8}{'ok':>5}{'errors':>8}{'p50 s':>9}{'p95 s':>9}{'p99 s':>9}{'max s':>9}")
    messages = Counter()
    for step in STEPS:
        ok = [r[step] for r in results if isinstance(r.get(step), float)]
        bad = [r[step] for r in results if isinstance(r.get(step), BaseException)]
        messages.update(f"{step}: {_short(e)}" for e in bad)
        if ok:
            p50, p95, p99 = np.percentile(ok, [50, 95, 99])
            print(f"  {step:<8}{len(ok):>5}{len(bad):>8}{p50:>9.2f}{p95:>9.2f}{p99:>9.2f}{max(ok):>9.2f}")
        else:
            print(f"  {step:<8}{0:>5}{len(bad):>8}{'-':>9}{'-':>9}{'-':>9}{'-':>9}")
    failed = sum(any(isinstance(v, BaseException) for v in r.values()) for r in results)
    print(f"  users with an error: {failed} of {n}")
    for msg, k in messages.most_common(5):
        print(f"    {k} x {msg}")
    return failed / n


def tree_cpu() -> float:
    """CPU seconds of this process's descendants (the hub, proxy, gateway, services, servers,
    kernels): live ones' own time plus what their reaped children used."""
    import psutil

    total = 0.0
    for p in psutil.Process().children(recursive=True):
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


def tree_rss() -> float:
    """Resident memory (GB) of this process's descendants."""
    import psutil

    total = 0
    for p in psutil.Process().children(recursive=True):
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total / 1e9


def stop_all(hub, users: list[str]) -> None:
    for u in users:
        try:
            if hub.api("GET", f"users/{u}").json().get("servers"):
                hub.stop_server(u)
        except (requests.RequestException, ValueError):
            pass


def run_round(hub, users: list[str], tokens: dict, password: str, ramp: float, timeout: float):
    """All ``users`` at once (starts spread over ``ramp`` s), one thread each; returns (results,
    wall s, CPU s of the hub's process tree, its resident GB before, its peak resident GB)."""
    n = len(users)
    results: list[dict] = [{} for _ in range(n)]

    def go(i: int) -> None:
        if ramp:
            time.sleep(ramp * i / n)
        results[i] = simulate(hub, users[i], password, tokens[users[i]], timeout)

    idle_rss, peak = tree_rss(), [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(1.0):
            peak[0] = max(peak[0], tree_rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu0 = tree_cpu()
    t = time.perf_counter()
    threads = [threading.Thread(target=go, args=(i,), daemon=True) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    cpu = tree_cpu() - cpu0
    done.set()
    sampler.join()
    return results, wall, cpu, idle_rss, max(peak[0], idle_rss)


def main(argv=None) -> int:
    import psutil

    from satco2.testing.hub import temp_hub

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", default="10,25,50,100", help="comma-separated round sizes (escalating)")
    ap.add_argument("--max-errors", type=float, default=0.1,
                    help="stop escalating when more than this fraction of a round's users had an error")
    ap.add_argument("--ramp", type=float, default=0.0, help="spread a round's user starts over this many seconds")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds any one step may take")
    ap.add_argument("--mem-per-user", type=float, default=0.35,
                    help="GB a user's server + kernel need; a round that would not fit is not run")
    ap.add_argument("--root-mode", action="store_true", help="one system account per user (needs root)")
    ap.add_argument("--small", action="store_true", help="one round of 2 users (checks that it runs)")
    a = ap.parse_args(argv)
    # SIGTERM (a CI timeout, kill PID) ends the run through the cleanup below, not around it
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rounds = [2] if a.small else [int(v) for v in a.users.split(",")]
    print(f"start: {load()}; {psutil.virtual_memory().available / 1e9:.1f} GB available; "
          f"{'root mode (a system account per user)' if a.root_mode else 'single-account mode'}", flush=True)
    prefix = f"ld{secrets.token_hex(2)}u"
    password = "load-pw-" + secrets.token_hex(8)
    with tempfile.TemporaryDirectory(prefix="bench-hub-load-") as d:
        os.chmod(d, 0o755)
        t0 = time.perf_counter()
        with temp_hub(Path(d), root_mode=a.root_mode) as hub:
            print(f"hub up in {time.perf_counter() - t0:.1f} s at {hub.url}", flush=True)
            users: list[str] = []
            tokens: dict[str, str] = {}
            for n in rounds:
                avail = psutil.virtual_memory().available / 1e9
                if n * a.mem_per_user > avail:
                    print(f"\n{n} users: not run: {avail:.1f} GB available < {n} x {a.mem_per_user} GB")
                    break
                t = time.perf_counter()
                while len(users) < n:  # setup, not timed: sign-up form, approval, an API token
                    u = f"{prefix}{len(users) + 1:03d}"
                    hub.signup(u, password)
                    hub.approve(u)
                    # the user's own API token, made through its login session (as on the token page)
                    tokens[u] = hub._new_token(hub.login_session(u, password), u)
                    users.append(u)
                print(f"\n{n} users ready (sign-up + approval, {time.perf_counter() - t:.1f} s); {load()}", flush=True)
                results, wall, cpu, idle_rss, peak = run_round(hub, users[:n], tokens, password, a.ramp, a.timeout)
                rate = report(n, results, wall)
                print(f"  hub process tree: {cpu:.1f} CPU s in the round = {cpu / n:.2f} CPU s per user "
                      f"({cpu / wall:.2f} cores on average); resident memory {idle_rss:.2f} GB idle, peak "
                      f"{peak:.2f} GB = {(peak - idle_rss) / n * 1e3:.0f} MB per user above idle")
                print(f"  end of round: {load()}", flush=True)
                stop_all(hub, users[:n])
                if rate > a.max_errors:
                    print(f"\nstopped escalating: {rate:.0%} of {n} users had an error (> {a.max_errors:.0%})")
                    break
    print(f"end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
