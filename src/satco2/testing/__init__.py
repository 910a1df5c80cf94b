"""Shared helpers for tests, benchmarks and notebooks: seeded synthetic data and assertions.

- :func:`shared_data` - the folder of real sample files (``$SATCO2_SHARED_DATA`` or ``../shared/data``)
- :func:`raise_if_dask_computes` - a context manager that fails when dask computes anything
- :func:`env_vars` - environment variables set (or removed) for a block, restored after
- :func:`serve_panel` - a Panel app served on a free loopback port for a block (browser tests)
- :func:`launch_chromium` - Debian's chromium through Playwright; :func:`chromium_page` - a page
  of it for a block
- :func:`gateway_process` - a standalone ``dask-gateway-server`` for a block (Slurm tests, benchmarks)
"""
from __future__ import annotations

import contextlib
from pathlib import Path

from .. import config


@contextlib.contextmanager
def gateway_process(conf: Path, http_port: int, env: dict, timeout: float = 60, what: str = "the test gateway"):
    """Run ``dask-gateway-server -f conf`` in a process group of its own (working folder and
    ``gateway.log``: ``conf``'s folder, environment exactly ``env``) and yield its HTTP address once
    ``/api/health`` answers; on leaving, SIGTERM (which stops its clusters when the config sets
    ``stop_clusters_on_shutdown``), and SIGKILL of the group after 30 s. A gateway that exits or
    does not answer within ``timeout`` seconds raises one sentence naming ``what``."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import requests

    from .. import SatCO2Error

    workdir = Path(conf).parent
    with open(workdir / "gateway.log", "wb") as log:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "dask-gateway-server"), "-f", str(conf)],
                                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir, start_new_session=True)
    address = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise SatCO2Error(f"{what} exited with status {proc.returncode}: "
                                  f"{(workdir / 'gateway.log').read_text(errors='replace')[-800:]}")
            try:
                if requests.get(f"{address}/api/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SatCO2Error(f"{what} did not answer within {timeout:.0f} s.")
            time.sleep(0.3)
        yield address
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def shared_data() -> Path:
    """Folder of the real public sample files (see its PROVENANCE.md)."""
    p = config.shared_data()
    if not p.is_dir():
        raise FileNotFoundError(
            f"the shared sample data folder {p} is missing; set SATCO2_SHARED_DATA to its path"
        )
    return p


class _CountingScheduler:
    def __init__(self, max_computes: int = 0):
        self.total = 0
        self.max_computes = max_computes

    def __call__(self, dsk, keys, **kwargs):
        import dask

        self.total += 1
        if self.total > self.max_computes:
            raise RuntimeError(f"Too many dask computations were triggered: {self.total}")
        return dask.get(dsk, keys, **kwargs)


@contextlib.contextmanager
def raise_if_dask_computes(max_computes: int = 0):
    """Fail if more than ``max_computes`` dask computations happen inside the block
    (after xarray's own tests)."""
    import dask

    sched = _CountingScheduler(max_computes)
    with dask.config.set(scheduler=sched):
        yield sched


#: Debian chromium flags for headless tests on a machine without network (see STACK-NOTES)
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]
CHROMIUM = "/usr/bin/chromium"


def launch_chromium(playwright):
    """Launch Debian's chromium through Playwright (no browser download) with :data:`CHROMIUM_ARGS`."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@contextlib.contextmanager
def chromium_page(**page_options):
    """A new page (``browser.new_page(**page_options)``) of Debian's chromium for the block; the
    browser and Playwright are closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            yield browser.new_page(**page_options)
        finally:
            browser.close()


@contextlib.contextmanager
def env_vars(**values):
    """Set the environment variables ``values`` (``None`` removes one) for the block; every one is
    restored (or removed) afterwards."""
    old = config.set_env(values)
    try:
        yield
    finally:
        config.set_env(old)


@contextlib.contextmanager
def serve_panel(factory, path: str = "/"):
    """Serve ``factory`` (a callable returning a Panel object) with ``panel.serve`` on a free
    127.0.0.1 port in a thread; yields the page's URL and stops the server afterwards."""
    import socket

    import panel as pn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = pn.serve({path: factory}, port=port, address="127.0.0.1", show=False, threaded=True,
                      start=True, websocket_origin=[f"127.0.0.1:{port}"])
    try:
        yield f"http://127.0.0.1:{port}{path}"
    finally:
        server.stop()
