"""`satco2 publish --examples` (publish_examples): every notebook of the notebooks folder is run
(two at a time) and published as a follow-latest dashboard of `examples`; a failing one is reported
and the others still appear; the offline snapshots are built afterwards and waited for."""
from __future__ import annotations

import itertools
import shutil
from datetime import datetime

import pytest
import yaml

from satco2.config import REPO_ROOT
from satco2.runs import publish, reports
from satco2.testing import env_vars

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

NAMES = ["example", "example_b"]  # example_b: a copy with the example's dashboard


@pytest.fixture(scope="module")
def examples_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("examples")
    nbs = base / "notebooks"
    nbs.mkdir()
    src = REPO_ROOT / "notebooks"
    schema = yaml.safe_load((src / "example.params.yaml").read_text())
    for name in [*NAMES, "broken"]:
        shutil.copy(src / "example.ipynb", nbs / f"{name}.ipynb")
        s = {**schema, "dashboard": "satco2.dashboards.example"}
        if name == "example_b":  # its example runs with lighter values than its defaults
            s["example"] = {"n_months": 2}
        if name == "broken":  # raises mid-run with its defaults
            s["parameters"] = {**schema["parameters"], "fail": {**schema["parameters"]["fail"], "default": True}}
        (nbs / f"{name}.params.yaml").write_text(yaml.safe_dump(s, sort_keys=False))
    with env_vars(SATCO2_REPORTS_DIR=base / "reports", SATCO2_STATE_DIR=base / "state",
                  SATCO2_NOTEBOOKS_DIR=nbs, JUPYTERHUB_USER="tester"):
        yield nbs


def test_example_order_puts_the_flagship_first():
    names = sorted(p.name[: -len(".params.yaml")] for p in (REPO_ROOT / "notebooks").glob("*.params.yaml"))
    order = publish.example_order(names)
    assert sorted(order) == names and order[0] == "pco2_flux"
    assert publish.example_order(["b", "a"]) == ["a", "b"]


def test_publish_examples_publishes_each_notebook(examples_dir):
    msgs: list[str] = []
    out = publish.publish_examples(log=msgs.append, jobs=2)
    # every good notebook: run once by "examples", published under its own name, following that run
    assert sorted(e["slug"] for e in out) == NAMES
    for name in NAMES:
        e = publish.get(name)
        run = reports.latest(name, user=reports.EXAMPLES_AUTHOR)
        assert run is not None and e["author"] == "examples" and e["follow_latest"], e
        assert e["run_id"] == run.name and e["notebook"] == name
        assert f"{name}: published at /services/dashboards/d/{name}" in msgs
        # with its example parameters over the defaults
        assert reports.info(run)["parameters"]["n_months"] == (2 if name == "example_b" else 3)
        # the offline snapshot was built after the runs, and publish_examples waited for it
        assert publish.snapshot_state(run) == "ready", (name, publish.snapshot_state(run))
    # the failing notebook is reported in one line and published nothing
    assert any(m.startswith("broken: not published: run broken/") for m in msgs), msgs
    assert "broken" not in {e["slug"] for e in publish.published()}
    # two at a time: the runs overlapped
    spans = []
    for name in [*NAMES, "broken"]:
        for d in reports.notebook_reports(name, user=reports.EXAMPLES_AUTHOR).iterdir():
            st = reports.info(d)
            spans.append((datetime.fromisoformat(st["started"]), datetime.fromisoformat(st["finished"])))
    spans.sort()
    assert any(b[0] < a[1] for a, b in itertools.pairwise(spans)), spans
    # a second call finds them all published and runs nothing of them (the failed one is tried again)
    msgs.clear()
    assert publish.publish_examples(log=msgs.append, jobs=2) == []
    assert [m for m in msgs if not m.startswith("broken:")] == [f"{n}: already published, skipped" for n in NAMES]
