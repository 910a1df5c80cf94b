"""Root mode (one system account per hub user): the trust model of docs/hub.md, tested by attacking it.

One hub, two real system users: ``zed`` (the victim) runs, publishes and schedules through his own
``satco2`` CLI; ``yan`` (the attacker) works from her own kernel and tries each attack of issue 13:
reading root's files through links in a run folder, running code as root through the scheduler,
writing through a planted link when publishing, script in service pages, forged authorship, touching
another user's reports, cluster links in shared reports, malformed API requests. Each attack must
fail and change nothing."""
from __future__ import annotations

import json
import os
import pwd
import shutil
import tempfile
import time
from pathlib import Path

import psutil
import pytest
import requests

from satco2 import SatCO2Error
from satco2.testing import env_vars
from satco2.testing.hub import execute, temp_hub

pytestmark = [pytest.mark.hub, pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="root mode needs root")]

ZED, ZED_PW = "rootmodezed", "zed-pw-" + os.urandom(4).hex()
YAN, YAN_PW = "rootmodeyan", "yan-pw-" + os.urandom(4).hex()
SLUG = "zed-example"

ZED_CODE = """
import json, subprocess
def sh(*a):
    r = subprocess.run(["satco2", *a], capture_output=True, text=True)
    return [r.returncode, (r.stdout + r.stderr).strip().splitlines()[-1:], r.stdout]
import satco2.runs
mine = satco2.runs.output_dir()  # interactive use: a folder of the user's own
(mine / "mine.txt").write_text("zed")
print(json.dumps([
    str(mine),
    sh("run", "example", "-p", "n_months", "2", "-p", "n_workers", "1"),
    sh("publish", "--follow-latest", "example", "--name", "%(slug)s", "--json"),
    sh("schedule", "add", "example", "--every", "3600s", "-p", "n_months", "2"),
    sh("publish", "--unpublish", "no-such-dashboard"),
    sh("schedule", "list", "--json"),
]))
"""

# the attacker's kernel: everything it does is done by her own account
YAN_CODE = r"""
import json, os, pathlib
R = pathlib.Path(os.environ["SATCO2_REPORTS_DIR"])
me = os.environ["JUPYTERHUB_USER"]
out = {}
def attempt(name, f):
    try:
        f()
        out[name] = "done"
    except OSError as e:
        out[name] = type(e).__name__
victim_run = %(report)r
attempt("mkdir_in_victim", lambda: (R / %(victim)r / "example" / "20990101T000000Z-ffffff").mkdir())
attempt("mkdir_examples", lambda: (R / "examples" / "example").mkdir(parents=True))
attempt("mkdir_reports_root", lambda: (R / (%(victim)r + "2")).mkdir())
attempt("rename_victim_run", lambda: os.rename(victim_run, victim_run + "-x"))
attempt("remove_victim_run", lambda: os.unlink(os.path.join(victim_run, "status.json")))
attempt("edit_victim_run", lambda: open(os.path.join(victim_run, "status.json"), "a").close())
# a forged run in my own folder: a later run id, links to secrets, script in every text field,
# provenance naming the victim as its author
rid = "20990101T000000Z-abcdef"
d = R / me / "example" / rid
d.mkdir(parents=True)
(d / "status.json").write_text(json.dumps({"status": "ok", "error": "<script>alert(1)</script>",
                                           "finished": "2099-01-01"}))
(d / "provenance.json").write_text(json.dumps({"user": %(victim)r, "title": "<img src=x onerror=alert(2)>"}))
(d / "parameters.json").write_text(json.dumps({"n_months": "<script>alert(3)</script>"}))
for f, target in [("run.log", "/etc/shadow"), ("notebook.ipynb", %(admin_password)r),
                  ("report.html", %(cookie_secret)r), ("dashboard.html", "/root/satco2-pwned.html")]:
    os.symlink(target, d / f)
# a notebook folder that is a link to the victim's
os.symlink(R / %(victim)r / "example", R / me / "linked")
# a notebook of mine for the scheduler, printing who runs it and trying to write root's files
home = pathlib.Path.home()
nb = {"cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source":
      "import os\nprint('RUNNING-AS', os.getuid())\n"
      "try:\n    open('/root/satco2-pwned', 'w').write('x')\n    print('WROTE-ROOT')\nexcept OSError as e:\n    print('REFUSED', type(e).__name__)\n"}],
      "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
      "nbformat": 4, "nbformat_minor": 5}
(home / "evil.ipynb").write_text(json.dumps(nb))
(home / "evil.params.yaml").write_text("title: evil\nparameters: {}\n")
out["rid"] = rid
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rootmode")
    # reports and state reachable by the users' and the services' accounts (pytest's tmp is 0700)
    shared = Path(tempfile.mkdtemp(prefix="satco2-rootmode-"))
    shared.chmod(0o755)
    try:
        with env_vars(SATCO2_REPORTS_DIR=shared / "reports", SATCO2_STATE_DIR=shared / "state",
                      SATCO2_NOTEBOOKS_DIR=None, SATCO2_SERVICE_STATE_DIR=None, SATCO2_ISOLATION=None,
                      SATCO2_SCHEDULER_TICK="1"):
            overrides = {"scheduler": {"max_schedules_per_user": 3, "min_interval_seconds": 2}}
            with temp_hub(tmp / "hub", root_mode=True, state_dir=shared / "state", overrides=overrides) as hub:
                w = {"hub": hub, "reports": shared / "reports", "state": shared / "state"}
                for name, pw in ((ZED, ZED_PW), (YAN, YAN_PW)):
                    hub.signup(name, pw)
                    hub.approve(name)
                    w[name] = hub.start_server(hub.login_session(name, pw))
                    w[name + "-token"] = hub.api_token(name)
                yield w
    finally:
        shutil.rmtree(shared, ignore_errors=True)
        for p in ("/root/satco2-pwned", "/root/satco2-pwned.html"):
            Path(p).unlink(missing_ok=True)


def _get(w, user, path, **kw):
    return requests.get(w["hub"].url + path, headers={"Authorization": f"token {w[user + '-token']}"},
                        timeout=60, allow_redirects=False, **kw)


def test_services_run_as_the_service_account(world):
    names = {}
    for p in psutil.process_iter(["cmdline", "username"]):
        cmd = " ".join(p.info["cmdline"] or [])
        for mod in ("satco2.services.dashboards", "satco2.services.scheduler"):
            if f"-m {mod}" in cmd and "supervise" not in cmd:
                names[mod] = p.info["username"]
    assert names == {"satco2.services.dashboards": "satco2-svc", "satco2.services.scheduler": "satco2-svc"}
    state = os.stat(world["state"])  # only the services' account may pass through the hub's state
    assert state.st_mode & 0o777 == 0o710 and state.st_gid == pwd.getpwnam("satco2-svc").pw_gid
    st = os.stat(world["state"] / "services")
    assert pwd.getpwuid(st.st_uid).pw_name == "satco2-svc" and st.st_mode & 0o777 == 0o700
    root = os.stat(world["reports"])
    assert root.st_uid == 0 and root.st_mode & 0o7777 == 0o755  # users cannot add folders here
    mine = os.stat(world["reports"] / ZED)
    assert mine.st_uid == pwd.getpwnam(ZED).pw_uid and mine.st_mode & 0o777 == 0o755


def test_user_runs_publishes_and_schedules_through_the_services(world):
    from satco2.runs import publish, reports, schedule

    interactive, ran, pub, sched, refused, listed = json.loads(
        execute(world[ZED], world[ZED + "-token"], ZED_CODE % {"slug": SLUG}, timeout=600).strip().splitlines()[-1])
    assert ran[0] == 0, ran
    assert pub[0] == 0, pub
    report = Path(publish.get(SLUG)["report_dir"])
    assert report.parent.parent == world["reports"] / ZED
    assert report.stat().st_uid == pwd.getpwnam(ZED).pw_uid  # written by the user's own account
    assert json.loads(pub[1][0])["author"] == ZED == publish.get(SLUG)["author"]
    assert sched[0] == 0, sched
    mine = schedule.list_schedules(owner=ZED)
    assert len(mine) == 1 and mine[0]["params"]["n_months"] == 2
    assert [s["id"] for s in json.loads(listed[2])] == [mine[0]["id"]]
    assert refused[0] == 2 and "dashboards service refused" in refused[1][0], refused
    assert Path(interactive) == world["reports"] / ZED / "_interactive" / "interactive"
    # the run computed on zed's gateway cluster, and its capability link is in no shared file
    for f in ("notebook.ipynb", "run.log"):
        text = (report / f).read_text()
        assert "/clusters/" not in text and "dask-gateway/clusters" not in text, f
    assert "Dask cluster ready" in (report / "notebook.ipynb").read_text()
    requests.delete(world["hub"].url + f"services/scheduler/api/schedules/{mine[0]['id']}",
                    headers={"Authorization": f"token {world[ZED + '-token']}"}, timeout=30).raise_for_status()
    assert reports.latest("example", user=ZED) == report


@pytest.fixture(scope="module")
def attack(world):
    from satco2.runs import publish

    report = publish.get(SLUG)["report_dir"]
    files = sorted(str(p) for p in Path(report).rglob("*"))
    code = YAN_CODE % {"report": report, "victim": ZED, "admin_password": str(world["state"] / "admin_password"),
                       "cookie_secret": str(world["state"] / "jupyterhub_cookie_secret")}
    out = json.loads(execute(world[YAN], world[YAN + "-token"], code, timeout=300).strip().splitlines()[-1])
    return {"out": out, "victim_report": Path(report), "victim_files": files}


def test_another_users_reports_cannot_be_touched(world, attack):
    out = attack["out"]
    for k in ("mkdir_in_victim", "mkdir_examples", "mkdir_reports_root", "rename_victim_run",
              "remove_victim_run", "edit_victim_run"):
        assert out[k] == "PermissionError", (k, out[k])
    assert sorted(str(p) for p in attack["victim_report"].rglob("*")) == attack["victim_files"]


def test_links_in_a_run_folder_are_never_followed(world, attack):
    rid = attack["out"]["rid"]
    for f in ("run.log", "notebook.ipynb", "report.html", "dashboard.html"):
        r = _get(world, YAN, f"services/dashboards/reports/{YAN}/example/{rid}/{f}")
        assert r.status_code == 404, (f, r.status_code, r.text[:200])
        assert "root:" not in r.text
    # a notebook folder that links to the victim's folder leads nowhere
    vrid = attack["victim_report"].name
    r = _get(world, YAN, f"services/dashboards/reports/{YAN}/linked/{vrid}/run.log")
    assert r.status_code == 404
    # the victim's real file is served
    assert _get(world, YAN, f"services/dashboards/reports/{ZED}/example/{vrid}/run.log").status_code == 200
    r = _get(world, YAN, "services/dashboards/components/..%2f..%2f..%2fetc%2fpasswd")
    assert r.status_code < 500 and "root:" not in r.text


def test_publishing_a_run_with_links_is_refused_and_writes_nothing(world, attack):
    from satco2.runs import publish

    def publications():  # without the snapshot's state, which an earlier publication's build moves on
        return [{k: v for k, v in p.items() if k not in ("has_snapshot", "snapshot_state")}
                for p in publish.published()]

    before = publications()
    r = requests.post(world["hub"].url + "services/dashboards/api/publish", timeout=300,
                      json={"run": f"example/{attack['out']['rid']}"},
                      headers={"Authorization": f"token {world[YAN + '-token']}"})
    assert r.status_code == 400 and "symbolic link" in r.json()["error"], r.text
    assert not Path("/root/satco2-pwned.html").exists()
    assert publications() == before
    # nor can she publish the victim's run as hers
    r = requests.post(world["hub"].url + "services/dashboards/api/publish", timeout=300,
                      json={"run": f"{ZED}/example/{attack['victim_report'].name}"},
                      headers={"Authorization": f"token {world[YAN + '-token']}"})
    assert r.status_code == 400 and "only your own runs" in r.json()["error"], r.text


def test_forged_authorship_changes_nobody_elses_latest(world, attack):
    from satco2.runs import publish, reports

    assert reports.latest("example", user=ZED) == attack["victim_report"]
    assert publish.get(SLUG)["run_id"] == attack["victim_report"].name
    listed = {(r["user"], r["run_id"]) for r in reports.list_reports("example")}
    assert (YAN, attack["out"]["rid"]) in listed and (ZED, attack["out"]["rid"]) not in listed


def test_service_pages_escape_text_from_runs(world, attack):
    r = _get(world, ZED, "services/dashboards/reports/")
    assert r.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text and "<script>alert(" not in r.text
    assert "alert(3)" in r.text and "<script>alert(3)" not in r.text
    # the forged run's links are not offered as files
    assert f"reports/{YAN}/example/{attack['out']['rid']}/run.log" not in r.text


@pytest.mark.browser
def test_browser_forged_run_shows_nothing_and_runs_no_script(world, attack, artifacts):
    """The victim, logged in through the real form, opens the reports index (which lists the
    attacker's forged run with its script-laden fields) and the forged run's files: no script runs,
    no secret is shown."""
    from satco2.testing import chromium_page

    hub, rid = world["hub"], attack["out"]["rid"]
    dialogs, bodies = [], []
    with chromium_page(viewport={"width": 1200, "height": 900}) as page:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(hub.url + "hub/login", timeout=60_000)
        page.fill("input[name=username]", ZED)
        page.fill("input[name=password]", ZED_PW)
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_url(lambda url: "/hub/login" not in url, timeout=60_000)  # his running server
        page.goto(hub.url + "services/dashboards/reports/", timeout=60_000)
        page.get_by_text(rid).first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(artifacts / "rootmode_reports_with_forged_run.png"), full_page=True)
        bodies.append(page.content())
        for f in ("report.html", "run.log", "notebook.ipynb"):
            r = page.goto(hub.url + f"services/dashboards/reports/{YAN}/example/{rid}/{f}", timeout=60_000)
            assert r.status == 404, (f, r.status)
            page.wait_for_timeout(500)
            bodies.append(page.content())
    assert dialogs == []
    secret = (world["state"] / "jupyterhub_cookie_secret").read_text().strip()
    assert not any(secret in b or "root:" in b for b in bodies)


def test_scheduled_runs_run_as_their_owner_never_as_root(world, attack):
    hub, token = world["hub"], world[YAN + "-token"]
    api = hub.url + "services/scheduler/api/schedules"
    h = {"Authorization": f"token {token}"}
    bad = [
        ({"notebook": f"/home/{ZED}/private.ipynb"}, "by name"),
        ({"notebook": f"~/../{ZED}/private.ipynb"}, "by name"),
        ({"notebook": "example", "params": [1, 2]}, "JSON object"),
        ({"notebook": "example", "every": "1s"}, "shorter than this hub's minimum of 2 s"),
        ({"notebook": "example", "publish": 5}, "dashboard name"),
    ]
    for body, msg in bad:
        r = requests.post(api, json=body, headers=h, timeout=30)
        assert r.status_code == 400 and msg in r.json()["error"], (body, r.status_code, r.text)
    r = requests.post(api, json={"notebook": "~/evil.ipynb", "every": "2s"}, headers=h, timeout=30)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    runs = world["reports"] / YAN / "evil"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not [p for p in runs.glob("2*") if (p / "status.json").exists()]:
        time.sleep(2)
    requests.delete(f"{api}/{sid}", headers=h, timeout=30).raise_for_status()
    done = sorted(p for p in runs.glob("2*") if (p / "status.json").exists())
    assert done, "the scheduled run did not finish"
    text = (done[0] / "notebook.ipynb").read_text()
    assert f"RUNNING-AS {pwd.getpwnam(YAN).pw_uid}" in text and "REFUSED PermissionError" in text
    assert not Path("/root/satco2-pwned").exists()
    assert done[0].stat().st_uid == pwd.getpwnam(YAN).pw_uid
    # per-user cap: 3 in this hub
    ids = []
    for i in range(3):
        r = requests.post(api, json={"notebook": "example", "every": "3600s"}, headers=h, timeout=30)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    r = requests.post(api, json={"notebook": "example", "every": "3600s"}, headers=h, timeout=30)
    assert r.status_code == 400 and "maximum per user" in r.json()["error"]
    for i in ids:
        requests.delete(f"{api}/{i}", headers=h, timeout=30).raise_for_status()


def test_token_api_refusals(world):
    from satco2.runs import publish

    api = world["hub"].url + "services/dashboards/api/"
    # no token header: refused even with a hub cookie (no cross-site forgery)
    r = requests.post(api + "publish", json={"run": "example/latest"}, timeout=30)
    assert r.status_code == 403 and "API token" in r.json()["error"]
    # a run value is never taken for an option of `satco2 publish`
    r = requests.post(api + "publish", json={"run": f"--unpublish={SLUG}"}, timeout=60,
                      headers={"Authorization": f"token {world[ZED + '-token']}"})
    assert r.status_code == 400 and publish.get(SLUG)
    # another user may not unpublish it; a hub admin may
    r = requests.delete(api + f"published/{SLUG}", timeout=30, headers={"Authorization": f"token {world[YAN + '-token']}"})
    assert r.status_code == 403 and publish.get(SLUG)
    r = requests.delete(api + f"published/{SLUG}", timeout=30,
                        headers={"Authorization": f"token {world['hub'].admin_token}"})
    assert r.status_code == 200
    with pytest.raises(SatCO2Error):
        publish.get(SLUG)
