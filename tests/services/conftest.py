"""Fixtures of the services area: isolated state/reports folders, one example run per session, and
a real hub (``satco2.testing.hub.temp_hub``) that can be restarted on the same state."""
from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path

import pytest
import requests

from satco2.testing import env_vars


@pytest.fixture(scope="session")
def services_env(tmp_path_factory):
    """SATCO2_REPORTS_DIR / SATCO2_STATE_DIR in a temporary folder for this process (and the hub's
    services, which inherit SATCO2_* variables); restored afterwards."""
    base = tmp_path_factory.mktemp("services")
    with env_vars(SATCO2_REPORTS_DIR=base / "reports", SATCO2_STATE_DIR=base / "satco2-state",
                  SATCO2_SCHEDULER_TICK="1", SATCO2_NOTEBOOKS_DIR=None):
        yield base


@pytest.fixture(scope="session")
def example_report(services_env):
    """One successful run of notebooks/example.ipynb (2 months), shared by the services tests."""
    from satco2.runs.execute import run

    return run("example", {"n_months": "2"}, user="alice")


class RestartableHub:
    """A temp_hub that :meth:`restart` stops and starts again on the same state folder."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        # the hub gives its services SATCO2_STATE_DIR = its own state folder: share it
        self.state = Path(os.environ["SATCO2_STATE_DIR"])
        self._stack = None
        self.hub = None
        self.starts = 0

    def start(self):
        from satco2.testing.hub import temp_hub

        self.starts += 1
        self._stack = contextlib.ExitStack()
        self.hub = self._stack.enter_context(
            temp_hub(self.tmp_path / f"run{self.starts}", root_mode=False, state_dir=self.state))
        self.wait_ready()
        return self.hub

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Wait until the dashboards service has loaded Panel (it answers 503 while starting; the
        hub's supervisor answers 404 before that, the proxy 503 when nothing listens)."""
        url = self.hub.url + "services/dashboards/"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(url, allow_redirects=False, timeout=10).status_code == 302:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise AssertionError(f"the dashboards service did not become ready at {url}")

    def stop(self):
        if self._stack is not None:
            self._stack.close()
            self._stack = None

    def restart(self):
        self.stop()
        return self.start()


@pytest.fixture(scope="module")
def hub(services_env, tmp_path_factory):
    box = RestartableHub(tmp_path_factory.mktemp("hub"))
    try:
        box.start()
        yield box
    finally:
        box.stop()
        shutil.rmtree(box.state / "users", ignore_errors=True)
