"""Login to a usable JupyterLab file list (issue 14): SatCO2 Hub against a plain ``jupyterhub`` +
``jupyter-lab``, side by side in one run, loopback only, Debian chromium through Playwright.

    python -m benchmarks.bench_login [--logins 5] [--small] [--no-plain] [--trace]

What is measured, per login: one browser (its cache kept, its cookies cleared: a user who logged
out, or whose cookie expired) opens ``/hub/login``, types the
name and password; the clock starts at the click on *Sign in* and stops when JupyterLab's file
browser shows its first entry (``.jp-DirListing-item`` visible: the user can open a notebook).

- **cold**: the user's server is stopped before each login, so the login includes the spawn
  (what a user sees after the idle culler stopped the server, or on the first login of the day).
- **warm**: the server is left running between logins (a user logging in again).

- **satco2**: a real hub started exactly as ``satco2 up`` does (root mode when run as root: the
  user is an ordinary system account made at sign-up), one user signed up and approved through the
  forms; its JupyterLab has the project's extensions and settings.
- **plain**: ``jupyterhub`` with its dummy authenticator and ``SimpleLocalProcessSpawner`` starting
  ``jupyter-lab`` from the same environment (no project configuration), the same proxy.

Prints, per hub and kind, every time, the median and the 90th percentile. No assertion: the
numbers go into docs/hub.md.
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import requests

FILE_LIST = ".jp-DirListing-content .jp-DirListing-item"
LOADS: list[float] = []  # the 1-minute load average after each login (the machine is shared)


TRACE = False  # --trace: when each step of a login ended, in seconds after the click on Sign in

#: (name, first request whose URL path matches, "req" when it starts or "done" when it ends)
_STEPS = [
    ("login POST", r"/hub/login$", "done"),
    ("spawn page", r"/hub/spawn-pending/", "done"),
    ("server ready", r"/hub/api/users/[^/]+/server/progress$", "done"),
    ("lab HTML", r"/user/[^/]+/lab$", "done"),
    ("JS started (first API call)", r"/user/[^/]+/api/", "req"),
    ("lab settings", r"/user/[^/]+/lab/api/settings$", "done"),
    ("workspace", r"/user/[^/]+/lab/api/workspaces/", "done"),
    ("file list request", r"/user/[^/]+/api/contents$", "done"),
]


def _trace(page, marks: dict, now) -> None:
    """Record in ``marks`` when each of :data:`_STEPS` happened (the first time it happens; the
    last time for the lab settings, whose full listing is the second request)."""
    from urllib.parse import urlsplit

    def seen(kind, request):
        path = urlsplit(request.url).path
        for name, pattern, when in _STEPS:
            if when == kind and re.search(pattern, path) and (name not in marks or name == "lab settings"):
                marks[name] = now()

    page.on("request", lambda r: seen("req", r))
    page.on("requestfinished", lambda r: seen("done", r))


def _p90(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(0.9 * (len(xs) - 1)))]


def _login_times(url: str, user: str, password: str, n: int, before=None, log_name="") -> list[float]:
    """``n`` browser logins of ``user`` at the hub ``url``; ``before()`` runs before each one."""
    from playwright.sync_api import sync_playwright

    from satco2.testing import launch_chromium

    out = []
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        ctx = browser.new_context(viewport={"width": 1300, "height": 900})
        try:
            for i in range(n):
                if before:
                    before()
                ctx.clear_cookies()
                page = ctx.new_page()
                page.goto(f"{url}hub/login", timeout=60000)
                page.fill("input[name=username]", user)
                page.fill("input[name=password]", password)
                marks: dict[str, float] = {}
                if TRACE:
                    _trace(page, marks, lambda: time.perf_counter() - t0)
                t0 = time.perf_counter()
                page.click("input[type=submit], button[type=submit]")
                page.wait_for_selector(FILE_LIST, state="visible", timeout=180000)
                dt = time.perf_counter() - t0
                out.append(dt)
                LOADS.append(os.getloadavg()[0])
                print(f"  {log_name} login {i + 1}: {dt:.2f} s (load average {LOADS[-1]:.1f})", flush=True)
                if TRACE:
                    print("    " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(marks.items(), key=lambda kv: kv[1])))
                page.close()
        finally:
            browser.close()
    return out


def _report(rows: dict[str, list[float]]) -> None:
    if LOADS:
        print(f"\n1-minute load average during the logins: {min(LOADS):.1f}-{max(LOADS):.1f} "
              f"(median {statistics.median(LOADS):.1f}) on {os.cpu_count()} cores")
    print(f"\n{'hub / kind':<16}{'median s':>10}{'p90 s':>10}   every login (s)")
    for k, xs in rows.items():
        if xs:
            print(f"{k:<16}{statistics.median(xs):>10.2f}{_p90(xs):>10.2f}   "
                  + " ".join(f"{x:.2f}" for x in xs))


def bench_satco2(n: int, tmp: Path) -> dict[str, list[float]]:
    from satco2.testing.hub import temp_hub

    user, pw = f"bench{secrets.token_hex(2)}", "bench-pw-" + secrets.token_hex(6)
    with temp_hub(tmp / "satco2") as hub:
        hub.signup(user, pw)
        hub.approve(user)

        def stop_server():
            if hub.api("GET", f"users/{user}").status_code == 200:  # known to JupyterHub after a first login
                hub.stop_server(user)

        cold = _login_times(hub.url, user, pw, n, before=stop_server, log_name="satco2 cold")
        warm = _login_times(hub.url, user, pw, n, log_name="satco2 warm")
        hub.stop_server(user)
    return {"satco2 cold": cold, "satco2 warm": warm}


PLAIN_CONFIG = """
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.Spawner.default_url = "/lab"
c.Spawner.cmd = [{python!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.args = ["--allow-root"]
c.Spawner.notebook_dir = {home!r}
c.JupyterHub.db_url = "sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{state}/cookie_secret"
"""


def bench_plain(n: int, tmp: Path) -> dict[str, list[float]]:
    """The same logins against a plain jupyterhub (dummy authenticator, SimpleLocalProcessSpawner)."""
    from satco2.config import REPO_ROOT
    from satco2.hub.launcher import free_port

    chp = shutil.which("configurable-http-proxy") or str(
        REPO_ROOT / "environment" / "npm" / "node_modules" / ".bin" / "configurable-http-proxy")
    state = tmp / "plain"
    home = state / "home"
    (home / "notebooks").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "notebooks" / "example.ipynb", home / "notebooks")
    port, user, pw = free_port(), "plainuser", "plain-pw-" + secrets.token_hex(6)
    cfg = state / "jupyterhub_config.py"
    cfg.write_text(textwrap.dedent(PLAIN_CONFIG.format(
        port=port, hub_port=free_port(), api_port=free_port(), chp=chp, password=pw,
        python=sys.executable, home=str(home), state=state)))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    with open(state / "hub.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(cfg)], cwd=state, stdout=log,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{url}hub/login", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"plain jupyterhub did not start; see {state / 'hub.log'}")
            time.sleep(0.5)

        def stop_server():
            # the dummy authenticator has no admin here: stop the user's server through its own login
            s = requests.Session()
            r = s.get(f"{url}hub/login", timeout=30)
            xsrf = s.cookies.get("_xsrf") or re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1)
            s.post(f"{url}hub/login", data={"username": user, "password": pw, "_xsrf": xsrf},
                   allow_redirects=False, timeout=30)
            s.delete(f"{url}hub/api/users/{user}/server", headers={"X-XSRFToken": s.cookies.get("_xsrf", xsrf)},
                     timeout=60)
            for _ in range(120):
                info = s.get(f"{url}hub/api/user", headers={"X-XSRFToken": s.cookies.get("_xsrf", xsrf)}, timeout=30)
                if info.ok and not info.json().get("servers"):
                    return
                time.sleep(0.5)

        cold = _login_times(url, user, pw, n, before=stop_server, log_name="plain cold")
        warm = _login_times(url, user, pw, n, log_name="plain warm")
        stop_server()
    finally:
        from satco2.hub.launcher import _stop_tree

        _stop_tree(proc.pid)
    return {"plain cold": cold, "plain warm": warm}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--logins", type=int, default=5, help="logins per kind (default 5)")
    ap.add_argument("--small", action="store_true", help="3 logins per kind")
    ap.add_argument("--no-plain", action="store_true", help="skip the plain jupyterhub comparison")
    ap.add_argument("--trace", action="store_true",
                    help="print when each step of every login ended (login, spawn page, server ready, lab page, ...)")
    a = ap.parse_args(argv)
    global TRACE
    TRACE = a.trace
    n = 3 if a.small else a.logins
    rows: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-login-") as d:
        os.chmod(d, 0o755)
        rows.update(bench_satco2(n, Path(d)))
        if not a.no_plain:
            rows.update(bench_plain(n, Path(d)))
    _report(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
