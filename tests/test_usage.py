"""Per-user usage ledger, totals and quotas (satco2.usage); fast, no processes."""
from __future__ import annotations

import json
import stat

import pytest

from satco2 import usage
from satco2.hub.slurm import sudoers_rule

H = 3600.0


def _settings(cores=4, monthly=None, users=None):
    return {"usage": {"quotas": {"default": {"max_concurrent_cores": cores, "monthly_core_hours": monthly},
                                 "users": users or {}}}}


def test_ledger_intervals_sum_core_and_memory_hours(tmp_path):
    led = tmp_path / "usage.jsonl"
    usage.record(led, "start", "scheduler", "alice", "c1", cores=1, memory_gib=1, t=0)
    usage.record(led, "start", "worker", "alice", "c1/w1", cores=2, memory_gib=4, t=0)
    usage.record(led, "stop", "worker", "alice", "c1/w1", t=2 * H)
    usage.record(led, "stop", "scheduler", "alice", "c1", t=3 * H)
    usage.record(led, "start", "server", "bob", "bob", cores=1, memory_gib=2, t=H)
    assert stat.S_IMODE(led.stat().st_mode) == 0o600
    s = usage.summarize(usage.read(led), now=5 * H)
    assert s["alice"]["clusters"]["core_hours"] == pytest.approx(1 * 3 + 2 * 2)
    assert s["alice"]["clusters"]["memory_gib_hours"] == pytest.approx(1 * 3 + 4 * 2)
    assert s["alice"]["cores_now"] == 0
    assert s["bob"]["servers"]["core_hours"] == pytest.approx(4)  # still running: charged until now
    assert s["bob"]["cores_now"] == 1  # the running server's cores are held now
    assert s["bob"]["total"]["memory_gib_hours"] == pytest.approx(8)


def test_a_gateway_restart_closes_intervals_left_open_but_a_hub_restart_does_not(tmp_path):
    led = tmp_path / "usage.jsonl"
    usage.record(led, "start", "worker", "alice", "c1/w1", cores=2, memory_gib=1, t=0)
    usage.record(led, "start", "server", "alice", "alice", cores=1, memory_gib=1, t=0)
    usage.record(led, "boot", "gateway", t=H)  # the gateway crashed: its worker ends here
    # a hub restart resumes a server still running; one that died is stopped (post_stop_hook)
    usage.record(led, "boot", "hub", t=2 * H)
    s = usage.summarize(usage.read(led), now=10 * H)["alice"]
    assert s["clusters"]["core_hours"] == pytest.approx(2)
    assert s["servers"]["core_hours"] == pytest.approx(10)
    assert usage.running_cores(usage.read(led), "alice", now=10 * H) == 1


def test_month_window_clips_intervals():
    start, end = usage.month_bounds("2026-02")
    events = [{"t": start - H, "ev": "start", "kind": "worker", "user": "a", "id": "w", "cores": 1},
              {"t": start + H, "ev": "stop", "kind": "worker", "user": "a", "id": "w"}]
    assert usage.summarize(events, start, end)["a"]["clusters"]["core_hours"] == pytest.approx(1)
    with pytest.raises(usage.SatCO2Error, match="month must look like"):
        usage.month_bounds("Feb")


def test_quotas_refuse_in_one_sentence_and_allow_scaling_down():
    s = _settings(cores=3, monthly=10, users={"carol": {"max_concurrent_cores": 8, "monthly_core_hours": None}})
    usage.check_quota(s, "alice", cores_after=3, cores_before=1)
    with pytest.raises(usage.QuotaExceeded, match=r"use 4 cores at once and the quota is 3") as e:
        usage.check_quota(s, "alice", cores_after=4, cores_before=2)
    assert str(e.value).count(". ") == 0 and str(e.value).endswith(".")
    usage.check_quota(s, "alice", cores_after=1, cores_before=5, month_core_hours=99)  # down: always
    with pytest.raises(usage.QuotaExceeded, match=r"used 10.00 of 10 core-hours this month \(servers and clusters"):
        usage.check_quota(s, "alice", cores_after=2, cores_before=1, month_core_hours=10)
    usage.check_quota(s, "carol", cores_after=8, month_core_hours=1e6)  # per-user override


def test_servers_count_in_the_quotas_and_the_overview_says_how_close_each_user_is(tmp_path):
    start, _ = usage.month_bounds("2026-03")
    now = start + 10 * H
    led = tmp_path / "usage.jsonl"
    # alice: a server since the month began (1 core, 2 GiB) and a cluster of 3 cores for 2 h last month
    usage.record(led, "start", "server", "alice", usage.server_id("alice"), cores=1, memory_gib=2, t=start)
    usage.record(led, "start", "worker", "alice", "c/w", cores=3, memory_gib=3, t=start - 5 * H)
    usage.record(led, "stop", "worker", "alice", "c/w", t=start - 3 * H)
    # bob: a named server, stopped, in this month
    usage.record(led, "start", "server", "bob", usage.server_id("bob", "gpu"), cores=2, memory_gib=1, t=start)
    usage.record(led, "stop", "server", "bob", "bob/gpu", t=start + H)
    events = usage.read(led)
    assert usage.running_cores(events, "alice", now=now) == 1
    assert usage.running_cores(events, "bob", now=now) == 0
    assert usage.core_hours_this_month(events, "alice", now=now) == pytest.approx(10)  # server only
    s = _settings(cores=4, monthly=20, users={"bob": {"max_concurrent_cores": 8}})
    # a cluster of 4 cores on top of alice's running server is one core too many
    with pytest.raises(usage.QuotaExceeded, match=r"server and clusters would use 5 cores at once and the quota is 4"):
        usage.check_quota(s, "alice", cores_after=1 + 4, cores_before=1, month_core_hours=10)
    rows = {r["user"]: r for r in usage.overview(events, s, now=now)}
    a, b = rows["alice"], rows["bob"]
    assert a["month"]["servers"]["core_hours"] == pytest.approx(10)
    assert a["month"]["clusters"]["core_hours"] == 0
    assert a["all_time"]["clusters"]["core_hours"] == pytest.approx(6)
    assert a["all_time"]["servers"]["memory_gib_hours"] == pytest.approx(20)
    assert a["cores_fraction"] == pytest.approx(1 / 4) and a["month_fraction"] == pytest.approx(10 / 20)
    assert b["quota"] == {"max_concurrent_cores": 8, "monthly_core_hours": None}
    assert b["month_core_hours"] == pytest.approx(2) and b["month_fraction"] is None and b["cores_now"] == 0
    assert usage.default_quota(s) == {"max_concurrent_cores": 4, "monthly_core_hours": 20}
    assert usage.default_quota({}) == {"max_concurrent_cores": None, "monthly_core_hours": None}


def test_the_services_get_the_quotas_of_the_running_hub(monkeypatch, tmp_path):
    from satco2 import config

    monkeypatch.setenv("SATCO2_USAGE_SETTINGS", '{"quotas": {"default": {"max_concurrent_cores": 3}}}')
    assert usage.default_quota(usage.usage_settings())["max_concurrent_cores"] == 3
    monkeypatch.setenv("SATCO2_USAGE_SETTINGS", "{not json")
    with pytest.raises(usage.SatCO2Error, match="SATCO2_USAGE_SETTINGS must be the JSON"):
        usage.usage_settings()
    monkeypatch.delenv("SATCO2_USAGE_SETTINGS")  # else: the hub settings file's usage section
    committed = config.load_yaml(config.hub_settings_file())["usage"]
    assert usage.usage_settings() == {"usage": committed}


def test_cli_prints_json(tmp_path, capsys):
    from typer.testing import CliRunner

    from satco2.cli import app

    led = tmp_path / "usage.jsonl"
    usage.record(led, "start", "worker", "alice", "c/w", cores=2, memory_gib=1, t=0)
    usage.record(led, "stop", "worker", "alice", "c/w", t=1800)
    r = CliRunner().invoke(app, ["usage", "--json", "--ledger", str(led)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["users"]["alice"]["clusters"]["core_hours"] == pytest.approx(1.0)
    r = CliRunner().invoke(app, ["usage", "--ledger", str(led)])
    assert "alice" in r.output and "1.000" in r.output


def test_sudoers_rule_is_narrow():
    rule = sudoers_rule("dask", "/opt/env/bin/dask-gateway-jobqueue-launcher")
    assert "dask ALL=(%satco2-users,!root) NOPASSWD: /opt/env/bin/dask-gateway-jobqueue-launcher" in rule
    with pytest.raises(ValueError):
        sudoers_rule("dask", "dask-gateway-jobqueue-launcher")
