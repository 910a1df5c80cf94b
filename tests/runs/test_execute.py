"""A real papermill run of notebooks/example.ipynb: every artefact, failure handling, publishing."""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys

import nbformat
import pytest
import xarray as xr

from satco2.config import REPO_ROOT
from satco2 import SatCO2Error
from satco2.runs import publish, reports, schedule
from satco2.runs.execute import RunFailed, run
from satco2.runs.params import ParameterError
from satco2.testing import chromium_page, env_vars

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    with env_vars(SATCO2_REPORTS_DIR=base / "reports", SATCO2_STATE_DIR=base / "state",
                  SATCO2_NOTEBOOKS_DIR=None, JUPYTERHUB_USER="tester"):
        yield base


@pytest.fixture(scope="module")
def good(dirs):
    old = os.umask(0o002)  # a group-writable umask: the finished report must not stay so
    try:
        return run("example", {"n_months": "2", "amplitude": "3.5", "region": "changjiang_estuary"},
                   user="tester")
    finally:
        os.umask(old)


def test_run_produces_every_artefact(good):
    d = good.dir
    assert good.ok and d == reports.reports_dir() / "tester" / "example" / good.run_id
    assert d == reports.notebook_reports("example") / good.run_id  # the current user's (JUPYTERHUB_USER)
    assert reports.RUN_ID_RE.match(good.run_id)
    for f in ["notebook.ipynb", "parameters.json", "provenance.json", "status.json", "run.log", "report.html",
              "example.zarr"]:
        assert (d / f).exists(), f
    assert not list(d.parent.glob(".tmp-*"))
    # parameters: typed from the command-line strings
    p = json.loads((d / "parameters.json").read_text())
    assert p["n_months"] == 2 and p["amplitude"] == 3.5 and p["region"] == "changjiang_estuary"
    # executed notebook: papermill injected the parameters and every code cell ran
    nb = nbformat.read(d / "notebook.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "amplitude = 3.5" in injected[0].source
    assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code")
    # provenance: lock hash, version, git commit, inputs recorded by the notebook
    prov = json.loads((d / "provenance.json").read_text())
    lock = REPO_ROOT / "environment" / "requirements.lock"
    assert prov["environment"]["lock_sha256"] == hashlib.sha256(lock.read_bytes()).hexdigest()
    assert prov["environment"]["satco2_version"]
    git = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if git.returncode == 0:
        assert re.fullmatch(r"[0-9a-f]{40}", prov["environment"]["git_commit"])
    assert prov["inputs"] == [{"source": "synthetic", "id": "example-bloom-synthetic", "version": "1"}]
    assert prov["user"] == "tester"
    assert json.loads((d / "status.json").read_text())["status"] == "ok"
    assert "papermill" in (d / "run.log").read_text()
    assert "synthetic drifting bloom" in (d / "report.html").read_text()
    # the data product: the injected peak equals the amplitude up to the noise (sd 0.05*amplitude)
    ds = xr.open_zarr(d / "example.zarr")
    assert ds.attrs["synthetic"] == "yes" and ds.sizes["time"] == 2
    assert abs(float(ds.bloom.max()) - 3.5) < 0.35
    assert reports.latest("example") == d
    # sealed: nothing in the report is writable by the group or others (shared folder, root mode)
    writable = [p for p in [d, *d.rglob("*")] if not p.is_symlink() and p.stat().st_mode & 0o022]
    assert not writable, writable[:3]


def test_invalid_parameters_run_nothing(dirs, good):
    before = sorted(p.name for p in reports.notebook_reports("example").iterdir())
    with pytest.raises(ParameterError, match="unknown region 'atlantis'"):
        run("example", {"region": "atlantis"})
    with pytest.raises(ParameterError, match="has no parameter 'colour'"):
        run("example", {"colour": "red"})
    assert sorted(p.name for p in reports.notebook_reports("example").iterdir()) == before


def test_publish_and_offline_snapshot(good):
    with pytest.raises(SatCO2Error, match="no successful run by mallory"):
        publish.publish(follow_latest="example", slug="ex", author="mallory")  # follows the author's runs
    e = publish.publish(follow_latest="example", slug="ex", author="tester")
    assert e["run_id"] == good.run_id and e["follow_latest"] and e["author"] == "tester"
    assert not (good.dir / "dashboard.html").exists()  # never written into the user's folder
    snap = publish.snapshot_path(good.dir)
    assert snap.parent == publish.copies_dir() / "tester" / "example" / good.run_id
    html = snap.read_text()
    assert len(html) > 100_000
    assert not re.search(r"<script[^>]+src=\"https?://", html) and not re.search(r"<link[^>]+href=\"https?://", html)
    assert not re.search(r'"url":"https?://', html)  # Panel's stylesheets are inlined as data: URLs
    assert "synthetic drifting bloom" in html and "2010-02" in html  # both months embedded
    assert [x["slug"] for x in publish.published()] == ["ex"]
    # the name is the author's: another user can neither replace it nor aim a schedule at it
    before = publish.get("ex")
    with pytest.raises(SatCO2Error, match="was made by tester, not by mallory; you can publish only your own"):
        publish.publish(good.dir, author="mallory", make_snapshot=False)
    mallorys = run("example", {"n_months": "1"}, user="mallory")
    with pytest.raises(SatCO2Error, match=f"name 'ex' is taken by a dashboard of {e['author']}"):
        publish.publish(mallorys.dir, slug="ex", author="mallory", make_snapshot=False)
    with pytest.raises(SatCO2Error, match="taken by"):
        schedule.add("example", {}, "daily", owner="mallory", publish="ex")
    assert publish.get("ex") == before and schedule.list_schedules() == []
    # its author may re-publish under it (an update)
    again = publish.publish(follow_latest="example", slug="ex", author=e["author"], make_snapshot=False)
    assert again["author"] == e["author"] and [x["slug"] for x in publish.published()] == ["ex"]
    # without a name, a follow-latest dashboard is named after the notebook and its author
    mine = publish.publish(follow_latest="example", author="tester", make_snapshot=False)
    assert mine["slug"] == "example-tester"
    publish.unpublish("example-tester")


@pytest.mark.browser
def test_offline_snapshot_works_without_network(good, artifacts):
    """The snapshot opened from disk in Chromium requests nothing but itself (and data: URLs),
    renders, and its embedded month selector switches the content."""
    snap = publish.snapshot_path(good.dir)
    if not snap.exists():
        publish.snapshot(good.dir)
    requested = []
    with chromium_page(viewport={"width": 1000, "height": 800}) as page:
        page.on("request", lambda r: requested.append(r.url))
        page.goto(snap.as_uri(), timeout=60_000)
        page.get_by_text("Month 2010-01: maximum").wait_for(timeout=60_000)
        page.locator("select").first.select_option("2010-02")
        page.get_by_text("Month 2010-02: maximum").wait_for(timeout=30_000)
        page.screenshot(path=str(artifacts / "runs_example_offline_snapshot.png"))
    remote = [u for u in requested if not u.startswith(("file:", "data:", "blob:"))]
    assert remote == []


def test_failed_run_keeps_last_good_report_and_dashboard(good):
    snap = publish.snapshot_path(good.dir)
    before = snap.read_bytes()
    with pytest.raises(RunFailed, match="RuntimeError: failing on purpose") as e:
        run("example", {"fail": "true"})
    bad = e.value.report
    assert bad.dir.is_dir() and bad.status == "failed"
    st = json.loads((bad.dir / "status.json").read_text())
    assert st["status"] == "failed" and "failing on purpose" in st["error"]
    assert (bad.dir / "notebook.ipynb").exists() and (bad.dir / "run.log").exists()
    assert reports.latest("example") == good.dir  # latest unchanged
    assert publish.get("ex")["run_id"] == good.run_id  # the dashboard still shows the good run
    assert snap.read_bytes() == before
    with pytest.raises(Exception, match="did not succeed"):
        publish.publish(bad.dir)
    listed = {r["run_id"]: r["status"] for r in reports.list_reports("example")}
    assert listed[bad.run_id] == "failed" and listed[good.run_id] == "ok"


def test_cli_publish_builds_the_snapshot_in_the_background(good):
    """`satco2 publish` registers the dashboard once it builds, and returns; the offline snapshot
    follows from a background process, its state shown in the entry."""
    import time

    fresh = run("example", {"n_months": "1"})
    assert publish.snapshot_state(fresh.dir) is None
    r = subprocess.run([sys.executable, "-m", "satco2.cli", "publish", "--name", "bg", "--json", "--",
                        f"example/{fresh.run_id}"], capture_output=True, text=True, env=os.environ)
    assert r.returncode == 0, r.stderr
    e = json.loads(r.stdout.strip().splitlines()[-1])
    assert e["slug"] == "bg" and e["snapshot_state"] in ("building", "ready")
    deadline = time.monotonic() + 300
    while publish.get("bg")["snapshot_state"] == "building" and time.monotonic() < deadline:
        time.sleep(1)
    assert publish.get("bg")["snapshot_state"] == "ready" and publish.snapshot_path(fresh.dir).is_file()
    assert not (fresh.dir / "dashboard.html").exists()
    publish.unpublish("bg")


def test_cli_refuses_bad_parameter_with_one_sentence(dirs):
    r = subprocess.run([sys.executable, "-m", "satco2.cli", "run", "example", "-p", "n_months", "99"],
                       capture_output=True, text=True, env=os.environ)
    assert r.returncode == 2
    assert r.stderr.strip() == "error: parameter 'n_months' of notebook 'example' must be at most 24, not 99."


def test_publish_examples_skips_published_notebooks(good):
    msgs = []
    assert publish.get("ex")["author"] == "tester"  # a user's dashboard of the notebook is not an example
    out = publish.publish_examples(["example"], log=msgs.append)  # no run by "examples" yet: one now
    assert msgs[-2:] == ["example: running with its example parameters (the defaults) ...",
                         "example: published at /services/dashboards/d/example"]
    assert [e["slug"] for e in out] == ["example"] and out[0]["follow_latest"]
    ex = reports.latest("example", user="examples")
    assert out[0]["run_id"] == ex.name and out[0]["author"] == "examples"
    # a follow-latest dashboard follows its author's runs only: another user's newer run leaves it
    other = run("example", {"n_months": "1"}, user="someone")
    assert reports.latest("example", user="someone") == other.dir
    assert publish.get("example")["run_id"] == ex.name
    assert publish.publish_examples(["example"], log=msgs.append) == []  # already published
    assert msgs[-1] == "example: already published, skipped"


def test_report_html_is_offline_and_quiet(good):
    """report.html carries Bokeh/Panel inline (the kernel runs with PANEL_INLINE) and loads nothing
    from another host; status.json says it was written (the mimetype warning: test_report_html.py)."""
    from satco2.testing.offline import external_references

    html = (good.dir / "report.html").read_text()
    assert external_references(html) == []
    assert "cdn.bokeh.org/bokeh/release" not in html and "cdn.holoviz.org/panel" not in html
    assert "cdnjs.cloudflare.com" not in html
    assert "Bokeh" in html and len(html) > 1_000_000  # the library itself is embedded
    st = json.loads((good.dir / "status.json").read_text())
    assert st["report_html"] == "ok" and "export_error" not in st


@pytest.mark.browser
def test_report_html_renders_without_network(good, artifacts):
    """report.html opened from disk renders its Panel map (a Bokeh canvas) and requests nothing remote."""
    requested = []
    with chromium_page(viewport={"width": 1100, "height": 900}) as page:
        page.on("request", lambda r: requested.append(r.url))
        page.goto((good.dir / "report.html").as_uri(), timeout=60_000)
        page.locator("canvas").first.wait_for(state="attached", timeout=60_000)
        page.get_by_text("Month 2010-01: maximum").first.wait_for(timeout=30_000)
        page.locator("canvas").first.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "runs_example_report_html.png"))
    remote = [u for u in requested if not u.startswith(("file:", "data:", "blob:"))]
    assert remote == []
