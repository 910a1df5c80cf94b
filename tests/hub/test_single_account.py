"""Single-account mode (what an ordinary user gets from `satco2 up`), and a crashing service."""
from __future__ import annotations

import os
import pwd
import time

import pytest
import requests

from satco2.testing.hub import execute, temp_hub

pytestmark = [pytest.mark.hub, pytest.mark.slow]


def test_single_account_mode_says_so_and_survives_a_crashing_service(tmp_path):
    # a service whose command exits at once: `python -m satco2.hub.supervise` without arguments
    overrides = {"hub": {"isolation": "single-account"},
                 "services": {"crashy": {"module": "satco2.hub.supervise", "user_access": False}}}
    with temp_hub(tmp_path, root_mode=False, overrides=overrides) as hub:
        assert not hub.hub.root_mode
        login = requests.get(f"{hub.url}hub/login", timeout=30).text
        assert "Single-account mode" in login and "same operating-system account" in login
        hub.signup("dana", "dana-password-1")
        hub.approve("dana")
        s = hub.login_session("dana", "dana-password-1")
        home = s.get(f"{hub.url}hub/home", timeout=30).text
        assert "Single-account mode" in home
        server = hub.start_server(s)
        out = execute(server, hub.api_token("dana"), "import os, pwd; print(pwd.getpwuid(os.getuid()).pw_name, os.getcwd())")
        user, cwd = out.split()
        assert user == pwd.getpwuid(os.getuid()).pw_name  # the hub's own account, as the banner says
        assert cwd == str(hub.state_dir / "users" / "dana")
        # the crashing service is logged and retried; the hub keeps serving
        deadline = time.monotonic() + 30
        log = tmp_path / "hub.log"
        while "service crashy exited with status 2" not in log.read_text():
            assert time.monotonic() < deadline, "the crash was not logged"
            time.sleep(0.5)
        assert requests.get(f"{hub.url}hub/api/", timeout=30).status_code == 200
        assert hub.hub.proc.poll() is None
