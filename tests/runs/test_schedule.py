"""Schedules (frequencies, no replay of missed periods, validation), report resolution and the
locked registry writes - without running notebooks."""
from __future__ import annotations

import multiprocessing as mp
from datetime import datetime, timedelta, timezone

import pytest

from satco2 import SatCO2Error, io
from satco2.runs import publish, reports, schedule
from satco2.runs.params import ParameterError


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("SATCO2_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SATCO2_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.delenv("SATCO2_NOTEBOOKS_DIR", raising=False)
    return tmp_path


def test_frequencies():
    t = datetime(2026, 1, 31, 6, 0, tzinfo=timezone.utc)
    assert schedule.next_after("monthly", t) == datetime(2026, 2, 28, 6, 0, tzinfo=timezone.utc)
    assert schedule.next_after("monthly", datetime(2026, 12, 15, tzinfo=timezone.utc)).year == 2027
    assert schedule.next_after("daily", t) - t == timedelta(days=1)
    assert schedule.next_after("hourly", t) - t == timedelta(hours=1)
    assert schedule.next_after("90s", t) - t == timedelta(seconds=90)
    for bad in ["weekly", "0s", "-5s", "1.5s", ""]:
        with pytest.raises(SatCO2Error, match="must be one of hourly, daily, monthly"):
            schedule.check_every(bad)


def test_add_validates_and_claim_skips_missed_periods(state):
    with pytest.raises(ParameterError, match="unknown region 'atlantis'"):
        schedule.add("example", {"region": "atlantis"}, "daily", owner="alice")
    assert schedule.list_schedules() == []
    past = datetime.now(timezone.utc) - timedelta(hours=5, minutes=30)
    s = schedule.add("example", {"n_months": "4"}, "hourly", owner="alice", publish="ex", start=past)
    assert s["params"]["n_months"] == 4 and s["owner"] == "alice"
    due = schedule.claim_due()
    assert [d["id"] for d in due] == [s["id"]]  # fired once, not six times
    nxt = datetime.fromisoformat(schedule.get(s["id"])["next_run"])
    assert datetime.now(timezone.utc) < nxt <= datetime.now(timezone.utc) + timedelta(hours=1)
    assert schedule.claim_due() == []
    schedule.record_result(s["id"], None, "ok")
    assert schedule.get(s["id"])["runs"] == 1 and schedule.get(s["id"])["last_status"] == "ok"
    with pytest.raises(SatCO2Error, match="belongs to alice, not bob"):
        schedule.remove(s["id"], owner="bob")
    schedule.remove(s["id"], owner="alice")
    with pytest.raises(SatCO2Error, match="no schedule"):
        schedule.get(s["id"])


def _fake_report(nb, rid, status="ok"):
    d = reports.notebook_reports(nb) / rid
    d.mkdir(parents=True)
    io.write_json(d / "status.json", {"status": status})
    io.write_json(d / "parameters.json", {"x": 1})
    return d


def test_resolve_reports(state):
    b = _fake_report("nb", "20260102T000000Z-bbbbbb", "failed")
    with pytest.raises(SatCO2Error, match="notebook 'nb' has no successful run by"):
        reports.resolve("nb/latest")
    a = _fake_report("nb", "20260101T000000Z-aaaaaa")
    # latest: the newest run id whose status is ok (b is newer but failed)
    assert reports.resolve("nb/latest") == a == reports.resolve("nb") == reports.resolve(a.name)
    assert reports.resolve(f"nb/{b.name}") == b and reports.resolve(str(b)) == b.resolve()
    with pytest.raises(SatCO2Error, match="no report 'nb/nothing'"):
        reports.resolve("nb/nothing")
    assert [r["run_id"] for r in reports.list_reports()] == [b.name, a.name]
    assert [r["latest"] for r in reports.list_reports()] == [False, True]


def _record(schedule_id, n):
    for _ in range(n):
        schedule.record_result(schedule_id, None, "ok")


def test_concurrent_registry_writers_lose_no_update(state):
    """The scheduler and the CLI write schedules.json at once: every change lands (satco2.io lock)."""
    s = schedule.add("example", {}, "daily", owner="alice")
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_record, args=(s["id"], 10)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert schedule.get(s["id"])["runs"] == 40
    assert not [f for f in schedule.schedules_file().parent.iterdir() if io.is_temporary(f)]


def test_publish_refuses_bad_input(state):
    with pytest.raises(SatCO2Error, match="exactly one of a run or --follow-latest"):
        publish.publish()
    with pytest.raises(SatCO2Error, match="notebook 'example' has no successful run by alice to publish"):
        publish.publish(follow_latest="example", author="alice")
    d = _fake_report("example", "20260101T000000Z-cccccc", "failed")
    with pytest.raises(SatCO2Error, match="did not succeed"):
        publish.publish(d)
    ok = _fake_report("nothere", "20260101T000000Z-dddddd")
    with pytest.raises(SatCO2Error, match="has no dashboard module satco2.dashboards.nothere"):
        publish.publish(ok)
    assert publish.published() == []
    with pytest.raises(SatCO2Error, match="no published dashboard named 'zz'"):
        publish.unpublish("zz")


@pytest.mark.parametrize("claim", ["/etc", "/tmp/elsewhere/alice/example/r1", 42, "", "{reports}/bob/example/r1"])
def test_scheduler_records_error_when_job_names_a_report_it_cannot_own(state, claim):
    """A job's last log line is only a claim (the job runs as the owner): a report outside the reports
    tree, of another user or not a path is recorded as an error, not raised, and nothing is published."""
    import json as _json

    from satco2.services import scheduler

    s = schedule.add("example", {"n_months": "4"}, "hourly", owner="alice", publish="ex")
    if isinstance(claim, str):
        claim = claim.format(reports=reports.reports_dir())
    logs = scheduler.logs_dir()
    logs.mkdir(parents=True, exist_ok=True)
    (logs / f"{s['id']}.log").write_text("running\n" + _json.dumps({"report": claim}) + "\n")
    sched = scheduler.Scheduler()
    sched._finished(schedule.get(s["id"]), 0)
    got = schedule.get(s["id"])
    assert got["last_status"] == "error" and got["runs"] == 1
    assert sched.publishing == {}


def test_superseded_run_copies_are_pruned(state, tmp_path, monkeypatch):
    """The services copy every run they show (verified_copy); the copies a dashboard no longer shows
    (earlier runs of a follow-latest dashboard, unpublished dashboards) are removed once older than
    the grace period, and the one shown is kept."""
    import os
    import time

    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "prune_dash.py").write_text(
        "import panel as pn\n\ndef from_report(d):\n    return pn.pane.Markdown(str(d))\n")
    monkeypatch.syspath_prepend(str(mods))
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    (nbs / "nbp.params.yaml").write_text("title: nbp\ndashboard: prune_dash\nparameters: {}\n")
    monkeypatch.setenv("SATCO2_NOTEBOOKS_DIR", str(nbs))
    first = _fake_report("nbp", "20260101T000000Z-aaaaaa")
    e = publish.publish(follow_latest="nbp", make_snapshot=False)
    user = e["author"]
    copy1 = publish.copies_dir() / user / "nbp" / first.name
    assert copy1.is_dir()
    second = _fake_report("nbp", "20260102T000000Z-bbbbbb")
    publish.build(second)  # the service shows the new latest run: its copy is made
    copy2 = publish.copies_dir() / user / "nbp" / second.name
    assert copy2.is_dir()
    assert publish.prune_copies() == []  # the superseded copy is young: a viewer may still read it
    old = time.time() - publish.COPY_GRACE_SECONDS - 60
    os.utime(copy1, (old, old))
    os.utime(copy2, (old, old))
    assert publish.prune_copies() == [copy1]  # the shown one stays however old
    assert not copy1.exists() and copy2.is_dir() and first.is_dir()  # the user's own run is untouched
    assert not [f for f in copy1.parent.iterdir() if io.is_temporary(f)]
    publish.unpublish(e["slug"])  # nothing shows it any more: gone with the publication
    assert not copy2.exists() and not (publish.copies_dir() / user).exists()
