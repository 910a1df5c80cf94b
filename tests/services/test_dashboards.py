"""The dashboards and scheduler services behind a real hub: login, access, browser, schedule, restart.

One hub for the module (restarted once, on the same state, by the last test). The services are the
real ones the hub starts (``python -m satco2.services.dashboards`` / ``...scheduler``)."""
from __future__ import annotations

import re
import time

import numpy as np
import pytest
import requests

from satco2.runs import publish, reports, schedule
from satco2.testing import chromium_page

pytestmark = [pytest.mark.hub, pytest.mark.slow]

PASSWORD = {"alice": "alice-long-password-1", "bob": "bob-long-password-22"}


def wait_for(pred, timeout=120.0, every=0.5, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def users(hub):
    h = hub.hub
    for u, pw in PASSWORD.items():
        h.signup(u, pw)
        h.approve(u)
    return {u: h.login_session(u, pw) for u, pw in PASSWORD.items()}


@pytest.fixture(scope="module")
def bobs_report(services_env):
    from satco2.runs.execute import run

    return run("example", {"n_months": "1"}, user="bob")


@pytest.fixture(scope="module")
def published(example_report, bobs_report):
    publish.publish(follow_latest="example", slug="ex", author="alice")
    publish.publish(bobs_report.dir, slug="bob-private", author="bob", visibility="private",
                    make_snapshot=False)
    return example_report


def base(hub):
    return hub.hub.url + "services/dashboards/"


def test_anonymous_is_sent_to_the_hub_login(hub, published):
    rid = published.run_id
    for path in ["", "reports/", "app?id=ex", "api/published", f"reports/alice/example/{rid}/report.html", "d/ex"]:
        r = requests.get(base(hub) + path, allow_redirects=False, timeout=30)
        assert r.status_code == 302, path
        loc = r.headers["Location"]
        if loc.startswith("./login"):  # Panel app pages go through the service's own /login
            r = requests.get(base(hub) + loc[2:], allow_redirects=False, timeout=30)
            assert r.status_code == 302, path
            loc = r.headers["Location"]
        assert loc.startswith("/hub/api/oauth2/authorize?client_id=service-dashboards"), path


def test_logged_in_user_sees_list_reports_and_files(hub, users, published):
    s = users["alice"]
    r = s.get(base(hub), timeout=60)
    assert r.status_code == 200 and r.url == base(hub)
    assert "Example - a synthetic drifting bloom" in r.text
    assert "alice" in r.text and "n_months=2" in r.text and published.run_id[:8] in r.text.replace("-", "")
    r = s.get(base(hub) + "reports/", timeout=60)
    assert r.status_code == 200 and published.run_id in r.text and ">ok<" in r.text
    r = s.get(base(hub) + f"reports/alice/example/{published.run_id}/dashboard.html", timeout=60)
    assert r.status_code == 200 and "synthetic drifting bloom" in r.text
    assert r.headers["Content-Security-Policy"].startswith("sandbox allow-scripts")
    assert s.get(base(hub) + "reports/alice/example/../../etc/report.html", timeout=30).status_code == 404
    assert s.get(base(hub) + f"reports/alice/example/{published.run_id}/secret.txt", timeout=30).status_code == 404
    assert s.get(base(hub) + f"reports/bob/example/{published.run_id}/run.log", timeout=30).status_code == 404
    assert s.get(base(hub) + "app?id=ex", timeout=60).status_code == 200


def test_users_without_access_are_refused(hub, users, published):
    h = hub.hub
    # a token of alice without the service's access scope: authenticated, but refused
    r = h.api("POST", "users/alice/tokens", json={"note": "no access", "scopes": ["read:users:activity!user=alice"]})
    assert r.status_code in (200, 201), r.text
    narrow = r.json()["token"]
    r = requests.get(base(hub) + "api/published", headers={"Authorization": f"token {narrow}"}, timeout=30,
                     allow_redirects=False)
    assert r.status_code == 403
    full = h.api_token("alice")
    r = requests.get(base(hub) + "api/published", headers={"Authorization": f"token {full}"}, timeout=30)
    assert r.status_code == 200 and "ex" in [e["slug"] for e in r.json()]
    # bob's private dashboard: not listed for alice and refused, shown to bob
    assert "bob-private" not in [e["slug"] for e in r.json()]
    assert users["alice"].get(base(hub) + "app?id=bob-private", timeout=60).status_code == 403
    assert users["bob"].get(base(hub) + "app?id=bob-private", timeout=60).status_code == 200
    bob_list = users["bob"].get(base(hub) + "api/published", timeout=30).json()
    assert {"ex", "bob-private"} <= {e["slug"] for e in bob_list}


def test_publish_button_on_the_reports_index(hub, users, published, bobs_report):
    import re

    s = users["bob"]
    page = s.get(base(hub) + "reports/", timeout=60)
    # the button is on bob's own runs only; posting to alice's run is refused
    other = f"/services/dashboards/reports/alice/example/{published.run_id}/publish"
    assert other not in page.text
    action = f"/services/dashboards/reports/bob/example/{bobs_report.run_id}/publish"
    m = re.search(re.escape(action) + r'"[^>]*>\s*<input type="hidden" name="_xsrf" value="([^"]+)"', page.text)
    assert m, "no publish form with an XSRF token on the reports index"
    url = hub.hub.url.rstrip("/") + action
    assert s.post(url, data={"private": "1"}, allow_redirects=False, timeout=60).status_code == 403  # no XSRF
    r = s.post(hub.hub.url.rstrip("/") + other, data={"_xsrf": m.group(1)}, allow_redirects=False, timeout=60)
    assert r.status_code == 403
    r = s.post(url, data={"_xsrf": m.group(1), "private": "1"}, allow_redirects=False, timeout=300)
    assert r.status_code == 302, r.text[-500:]
    slug = f"example-{bobs_report.run_id}".lower()
    e = publish.get(slug)
    assert e["author"] == "bob" and e["visibility"] == "private" and e["run_id"] == bobs_report.run_id
    assert slug not in [x["slug"] for x in users["alice"].get(base(hub) + "api/published", timeout=30).json()]
    publish.unpublish(slug)


@pytest.mark.browser
def test_browser_login_open_dashboard_map_and_widget(hub, published, users, artifacts):
    from PIL import Image

    with chromium_page(viewport={"width": 1100, "height": 900}) as page:
        page.goto(hub.hub.url + "hub/login", timeout=60_000)
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", PASSWORD["alice"])
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_url("**/hub/**", timeout=60_000)
        page.goto(base(hub), timeout=60_000)
        page.get_by_text("Example - a synthetic drifting bloom").wait_for(timeout=60_000)
        page.click("text=open")
        page.get_by_text("Month 2010-01: maximum").wait_for(timeout=120_000)
        canvas = page.locator("canvas").first
        canvas.wait_for(timeout=60_000)
        time.sleep(2)  # let datashader's rasterized image arrive
        shot = artifacts / "dashboards_example_map.png"
        page.screenshot(path=str(shot), full_page=True)
        img = np.asarray(Image.open(shot).convert("RGB"))
        colours = len(np.unique(img.reshape(-1, 3), axis=0))
        assert colours > 50, f"screenshot looks blank ({colours} colours)"
        box = canvas.bounding_box()
        plot = img[int(box["y"]):int(box["y"] + box["height"]), int(box["x"]):int(box["x"] + box["width"])]
        assert plot.std() > 10, "the map area is blank"
        # change the widget: the statistics line and the map follow
        page.locator("select").first.select_option("2010-02")
        page.get_by_text("Month 2010-02: maximum").wait_for(timeout=60_000)
        time.sleep(2)
        page.screenshot(path=str(artifacts / "dashboards_example_map_feb.png"), full_page=True)
        img2 = np.asarray(Image.open(artifacts / "dashboards_example_map_feb.png").convert("RGB"))
        if img2.shape == img.shape:
            assert np.abs(img2.astype(int) - img.astype(int)).sum() > 0


def test_viewers_beyond_the_live_limit_get_the_offline_snapshot(hub, users, published):
    """More viewers at once than viewers.max_live_sessions (4): the first are sent to the live
    dashboard, the others get its offline snapshot at once, sandboxed and marked."""
    s = users["alice"]
    views = []
    for _ in range(8):
        r = s.get(base(hub) + "app?id=ex", allow_redirects=False, timeout=60)
        views.append("live" if r.status_code == 302 else r.headers.get("X-SatCO2-View"))
        if r.status_code == 200:
            assert "offline snapshot of ex" in r.text and "synthetic drifting bloom" in r.text
            assert r.headers["Content-Security-Policy"].startswith("sandbox")
    assert views.count("live") <= 1 and views[-1] == "snapshot", views  # one session built at a time


def test_scheduled_run_fires_and_publishes(hub, users, published):
    """A schedule of alice fires once, computes on a Dask Gateway cluster of alice's own (through a
    token the scheduler issues her and revokes after), lands as her report and publishes."""
    from dask_gateway import Gateway
    from dask_gateway.auth import JupyterHubAuth

    h = hub.hub
    before = {r["run_id"] for r in reports.list_reports("example")}
    gw = Gateway(address=h.url + "services/dask-gateway", auth=JupyterHubAuth(api_token=h.api_token("alice")))
    stopped = {c.name for c in gw.list_clusters(status="stopped")}
    s = schedule.add("example", {"n_months": "1", "amplitude": "2", "n_workers": "1"}, "3600s", owner="alice",
                     publish="ex-sched", start=schedule._now())
    try:
        wait_for(lambda: schedule.get(s["id"])["last_status"] == "ok", timeout=400, every=2,
                 what="the scheduled run")
        new = [r for r in reports.list_reports("example") if r["run_id"] not in before]
        assert len(new) == 1 and new[0]["parameters"]["amplitude"] == 2.0 and new[0]["user"] == "alice"
        executed = (reports.resolve(f"alice/example/{new[0]['run_id']}") / "notebook.ipynb").read_text()
        assert "peak computed on the cluster" in executed and "Dask cluster ready" in executed
        assert "/clusters/" not in executed  # the cluster's capability link stays out of the report
        # the cluster was alice's own, and it is gone with the run
        wait_for(lambda: {c.name for c in gw.list_clusters(status="stopped")} - stopped, timeout=120,
                 what="the run's cluster (alice's) to stop")
        # and the run's token is revoked
        wait_for(lambda: not [t for t in h.api("GET", "users/alice/tokens").json()["api_tokens"]
                              if t["note"].startswith("satco2 scheduled run")], timeout=60,
                 what="the run's token to be revoked")
        e = wait_for(lambda: {x["slug"]: x for x in publish.published()}.get("ex-sched"), timeout=120,
                     what="the scheduled dashboard")
        assert e["follow_latest"] and e["run_id"] == new[0]["run_id"] and e["author"] == "alice"
        r = users["alice"].get(base(hub), timeout=60)
        assert "ex-sched" in r.text
        # the hourly-or-slower schedule did not fire twice
        assert schedule.get(s["id"])["runs"] == 1
    finally:
        schedule.remove(s["id"])


def test_published_dashboards_survive_a_hub_restart(hub, published):
    listed = {e["slug"] for e in publish.published() if e.get("visibility") != "private"}
    h = hub.restart()
    s = h.login_session("alice", PASSWORD["alice"])
    r = s.get(h.url + "services/dashboards/api/published", timeout=60)
    assert r.status_code == 200
    assert listed <= {e["slug"] for e in r.json()} and "ex" in listed
    assert s.get(h.url + "services/dashboards/app?id=ex", timeout=60).status_code == 200
