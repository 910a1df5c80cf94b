"""`satco2 up` / `satco2 down` as an ordinary user runs them (single-account mode): the first
screen, secrets, loopback only, the single-account banner, a crashing service that does not take
the hub down, and `down` stopping every process."""
from __future__ import annotations

import os
import pwd
import re
import stat
import subprocess
import sys
import threading
import time

import psutil
import pytest
import requests
import yaml

from satco2.hub import settings
from satco2.hub.launcher import free_port
from satco2.testing.hub import TempHub, execute

pytestmark = [pytest.mark.hub, pytest.mark.slow]


def _settings_with_crashing_service(tmp_path):
    data = yaml.safe_load(settings.SETTINGS_FILE.read_text())
    # `python -m satco2.hub.supervise` without arguments exits at once with status 2
    data["services"]["crashy"] = {"module": "satco2.hub.supervise", "user_access": False}
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_up_first_screen_single_account_and_down_stops_everything(tmp_path):
    state = tmp_path / "state"
    port = free_port()
    env = dict(os.environ, SATCO2_STATE_DIR=str(state), SATCO2_HUB_PORT=str(port),
               SATCO2_HUB_ROOT_MODE="0", SATCO2_REPORTS_DIR=str(tmp_path / "reports"),
               SATCO2_HUB_SETTINGS=str(_settings_with_crashing_service(tmp_path)))
    satco2 = [sys.executable, "-m", "satco2.cli"]
    up = subprocess.Popen([*satco2, "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    screen = []
    # keep reading stdout like a terminal does
    reader = threading.Thread(target=lambda: screen.extend(iter(up.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 180
        while not any("Stop:" in line for line in screen):
            assert up.poll() is None, "".join(screen)
            assert time.monotonic() < deadline
            time.sleep(0.2)
        text = "".join(screen)
        # the first screen: URL, admin, where the password is stored; not the password itself,
        # since this output is a pipe, not a terminal (it could be a log file others read)
        assert len(screen) < 20 and f"http://localhost:{port}/" in text
        pw_file = state / "admin_password"
        password = pw_file.read_text().strip()
        assert str(pw_file) in text and "not shown, since this output is not a terminal" in text
        assert password not in text and password not in (state / "hub.log").read_text()
        assert stat.S_IMODE((state / "hub.log").stat().st_mode) == 0o600
        for name in ["admin_password", "jupyterhub_cookie_secret", "proxy_auth_token", "gateway_db_key"]:
            assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        assert "SINGLE-ACCOUNT" in text
        # the example dashboards are published in the background (stopped with everything else)
        deadline = time.monotonic() + 30
        while not any("Publishing the example dashboards" in line for line in screen):
            assert time.monotonic() < deadline, "".join(screen)
            time.sleep(0.2)
        # only loopback: the public port is bound to 127.0.0.1
        conns = [c for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.laddr.port == port]
        assert conns and all(c.laddr.ip == "127.0.0.1" for c in conns)

        hub = TempHub.attach(f"http://127.0.0.1:{port}/", "admin", password, state)
        login = requests.get(f"{hub.url}hub/login", timeout=30).text
        assert "Single-account mode" in login and "same operating-system account" in login
        hub.signup("dana", "dana-password-1")
        hub.approve("dana")
        s = hub.login_session("dana", "dana-password-1")
        assert "Single-account mode" in s.get(f"{hub.url}hub/home", timeout=30).text
        server = hub.start_server(s)
        out = execute(server, hub.api_token("dana"),
                      "import os, pwd; print(pwd.getpwuid(os.getuid()).pw_name, os.getcwd())")
        user, cwd = out.split()
        assert user == pwd.getpwuid(os.getuid()).pw_name  # the hub's own account, as the banner says
        assert cwd == str(state / "users" / "dana")
        # a new user finds the analysis notebooks in ~/notebooks
        listed = execute(server, hub.api_token("dana"), "import os; print(sorted(os.listdir('notebooks')))")
        assert "pco2_flux.ipynb" in listed and "marginal_sea_trends.ipynb" in listed

        # the crashing service is logged and retried; the hub keeps serving
        log, deadline = state / "hub.log", time.monotonic() + 60
        while "service crashy exited with status 2" not in log.read_text():
            assert time.monotonic() < deadline, "the crash was not logged"
            time.sleep(0.5)
        assert requests.get(f"{hub.url}hub/api/", timeout=30).status_code == 200

        started = list(psutil.Process(up.pid).children(recursive=True))
        assert len(started) >= 5  # jupyterhub, proxy, gateway + supervisor, culler, dana's server
        # a second `up` on the same state refuses clearly, without disturbing the first
        again = subprocess.run([*satco2, "up"], env=env, capture_output=True, text=True, timeout=60)
        assert again.returncode == 2 and "already running" in again.stderr
        down = subprocess.run([*satco2, "down"], env=env, capture_output=True, text=True, timeout=200)
        assert down.returncode == 0 and "stopped" in down.stdout, down.stderr
        up.wait(timeout=30)
        time.sleep(1)
        alive = [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert not alive, alive
        assert not (state / "satco2-up.pid").exists()
        second = subprocess.run([*satco2, "down"], env=env, capture_output=True, text=True, timeout=60)
        assert "no SatCO2 Hub is running" in second.stdout
    finally:
        if up.poll() is None:
            up.terminate()
            up.wait(timeout=120)
