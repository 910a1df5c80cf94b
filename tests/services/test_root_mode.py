"""Root mode (one system account per hub user): a user's own ``satco2`` CLI runs a notebook into
the shared reports folder, publishes it and schedules it through the services' token API (the
hub's state folder is not theirs to write), and a refusal is one sentence."""
from __future__ import annotations

import json
import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest
import requests

from satco2 import SatCO2Error
from satco2.testing import env_vars
from satco2.testing.hub import execute, temp_hub

pytestmark = [pytest.mark.hub, pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="root mode needs root")]

USER, PW = "rootmodezed", "zed-pw-" + os.urandom(4).hex()
OTHER, OTHER_PW = "rootmodeyan", "yan-pw-" + os.urandom(4).hex()
SLUG = "zed-example"

KERNEL_CODE = """
import json, subprocess
def sh(*a):
    r = subprocess.run(["satco2", *a], capture_output=True, text=True)
    return [r.returncode, (r.stdout + r.stderr).strip().splitlines()[-1:], r.stdout]
import satco2.runs
mine = satco2.runs.output_dir()  # interactive use: a folder of the user's own
(mine / "mine.txt").write_text("zed")
print(json.dumps([
    str(mine),
    sh("run", "example", "-p", "n_months", "2"),
    sh("publish", "example/latest", "--no-snapshot", "--name", "%(slug)s", "--json"),
    sh("schedule", "add", "example", "--every", "3600s", "-p", "n_months", "2"),
    sh("publish", "--unpublish", "no-such-dashboard"),
    sh("schedule", "list", "--json"),
]))
"""

# another user: may add runs to the shared folder, may not remove or rename the first user's
OTHER_CODE = """
import json, os, shutil, subprocess
rep = %(report)r
out = {}
for what, act in (("rm", lambda: shutil.rmtree(rep)), ("mv", lambda: os.rename(rep, rep + "-moved")),
                  ("edit", lambda: open(os.path.join(rep, "status.json"), "a").close())):
    try:
        act()
        out[what] = "done"
    except OSError as e:
        out[what] = type(e).__name__
r = subprocess.run(["satco2", "run", "example", "-p", "n_months", "2"], capture_output=True, text=True)
out["run"] = [r.returncode, r.stderr[-300:]]
import satco2.runs
out["interactive"] = str(satco2.runs.output_dir())
open(os.path.join(out["interactive"], "mine.txt"), "w").write("yan")
print(json.dumps(out))
"""


def test_user_runs_publishes_and_schedules_through_the_services(tmp_path):
    from satco2.runs import publish, reports, schedule

    shared = Path(tempfile.mkdtemp(prefix="satco2-reports-"))  # reachable by the users' accounts
    shared.chmod(0o755)
    try:
        with env_vars(SATCO2_REPORTS_DIR=shared / "reports", SATCO2_STATE_DIR=tmp_path / "state",
                      SATCO2_NOTEBOOKS_DIR=None):
            with temp_hub(tmp_path / "hub", root_mode=True, state_dir=tmp_path / "state") as hub:
                assert (shared / "reports").stat().st_mode & 0o7777 == 0o3775  # setgid, sticky
                hub.signup(USER, PW)
                hub.approve(USER)
                server = hub.start_server(hub.login_session(USER, PW))
                token = hub.api_token(USER)
                interactive, ran, pub, sched, refused, listed = json.loads(
                    execute(server, token, KERNEL_CODE % {"slug": SLUG}, timeout=600).strip().splitlines()[-1])

                assert ran[0] == 0, ran
                assert pub[0] == 0, pub
                report = publish.get(SLUG)["report_dir"]
                uid = pwd.getpwnam(USER).pw_uid
                assert Path(report).stat().st_uid == uid  # written by the user's own account
                assert (shared / "reports" / "example").stat().st_mode & 0o2070 == 0o2070  # shared
                assert json.loads(pub[1][0])["author"] == USER == publish.get(SLUG)["author"]
                assert sched[0] == 0, sched
                mine = schedule.list_schedules(owner=USER)
                assert len(mine) == 1 and mine[0]["params"]["n_months"] == 2
                assert [s["id"] for s in json.loads(listed[2])] == [mine[0]["id"]]
                assert refused[0] == 2 and "dashboards service refused" in refused[1][0], refused

                # a second user adds a run (it becomes the latest) but cannot touch the first's
                files = sorted(str(p) for p in Path(report).rglob("*"))
                hub.signup(OTHER, OTHER_PW)
                hub.approve(OTHER)
                other = hub.start_server(hub.login_session(OTHER, OTHER_PW))
                out = json.loads(execute(other, hub.api_token(OTHER), OTHER_CODE % {"report": report},
                                         timeout=600).strip().splitlines()[-1])
                assert (out["rm"], out["mv"], out["edit"]) == ("PermissionError",) * 3, out
                assert out["run"][0] == 0, out
                assert sorted(str(p) for p in Path(report).rglob("*")) == files
                newest = reports.latest("example")
                assert newest != Path(report) and newest.stat().st_uid == pwd.getpwnam(OTHER).pw_uid
                assert publish.get(SLUG)["report_dir"] == report  # the frozen dashboard keeps its run
                # interactive outputs: one folder per user, side by side
                assert Path(interactive).name == USER and Path(out["interactive"]).name == OTHER
                assert Path(interactive).parent == Path(out["interactive"]).parent
                assert (Path(interactive) / "mine.txt").read_text() == "zed"
                assert (Path(out["interactive"]) / "mine.txt").read_text() == "yan"

                api = hub.url + "services/dashboards/api/"
                # no token header: refused even with a hub cookie (no cross-site forgery)
                r = requests.post(api + "publish", json={"run": "example/latest"}, timeout=30)
                assert r.status_code == 403 and "API token" in r.json()["error"]
                # a run value is never taken for an option of `satco2 publish`
                r = requests.post(api + "publish", json={"run": f"--unpublish={SLUG}"}, timeout=60,
                                  headers={"Authorization": f"token {token}"})
                assert r.status_code == 400 and publish.get(SLUG)
                # a hub admin may unpublish it (so may its author; nobody else)
                r = requests.delete(api + f"published/{SLUG}", timeout=30,
                                    headers={"Authorization": f"token {hub.admin_token}"})
                assert r.status_code == 200  # the admin may
                with pytest.raises(SatCO2Error):
                    publish.get(SLUG)
                r = requests.delete(hub.url + f"services/scheduler/api/schedules/{mine[0]['id']}",
                                    headers={"Authorization": f"token {token}"}, timeout=30)
                assert r.status_code == 200 and schedule.list_schedules(owner=USER) == []
    finally:
        shutil.rmtree(shared, ignore_errors=True)
