"""The services started standalone (hub-like environment, no hub): they answer at once, send
anonymous users to the hub login, and stop promptly on SIGINT/SIGTERM (no 30 s stall)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(module, name, tmp_path):
    port = _free_port()
    env = {**os.environ,
           "JUPYTERHUB_API_TOKEN": "not-a-real-token", "JUPYTERHUB_CLIENT_ID": f"service-{name}",
           "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}", "JUPYTERHUB_SERVICE_PREFIX": f"/services/{name}/",
           "JUPYTERHUB_API_URL": "http://127.0.0.1:9/hub/api", "JUPYTERHUB_BASE_URL": "/",
           "JUPYTERHUB_OAUTH_CALLBACK_URL": f"/services/{name}/oauth_callback",
           "SATCO2_STATE_DIR": str(tmp_path / "state"), "SATCO2_REPORTS_DIR": str(tmp_path / "reports"),
           "SATCO2_SCHEDULER_TICK": "1"}
    p = subprocess.Popen([sys.executable, "-m", module], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return p, f"http://127.0.0.1:{port}/services/{name}/"


@pytest.mark.parametrize("module, name, sig", [
    ("satco2.services.dashboards", "dashboards", signal.SIGINT),
    ("satco2.services.scheduler", "scheduler", signal.SIGTERM),
])
def test_service_answers_redirects_and_stops_on_signal(tmp_path, module, name, sig):
    p, url = _start(module, name, tmp_path)
    try:
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline and p.poll() is None:
            try:
                status = requests.get(url, allow_redirects=False, timeout=5).status_code
                if status == 302:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.3)
        assert status == 302, f"{name} did not redirect anonymous users to the hub login"
        r = requests.get(url, allow_redirects=False, timeout=5)
        assert r.headers["Location"].startswith(f"/hub/api/oauth2/authorize?client_id=service-{name}")
        p.send_signal(sig)
        p.wait(timeout=20)  # a stall (e.g. an ignored SIGINT) would exceed this
        assert p.returncode == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
