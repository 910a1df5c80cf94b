"""Dask Gateway on a real Slurm: a hub user's clusters are batch jobs submitted as that user.

Starts a single-node Slurm (munged, slurmctld, slurmd from Debian; satco2.testing.slurm) and the
real hub with ``gateway.backend: slurm`` (the same hub-config/dask_gateway_config.py a site uses),
then drives a user's kernel through the hub. Needs root (slurmd starts jobs as users).
"""
from __future__ import annotations

import json
import os
import time

import pytest
import requests

from satco2 import usage
from satco2.testing import slurm as tslurm

pytestmark = [pytest.mark.slurm, pytest.mark.hub, pytest.mark.slow]

_MISSING = tslurm.available()  # None here (root, Debian packages from make's debian step)
if _MISSING:
    pytest.skip(_MISSING, allow_module_level=True)


def _overrides(slurm, quota=3):
    return {
        "gateway": {
            "backend": "slurm",
            "slurm": {"partition": slurm.partition, "walltime": "00:20:00", "commands_dir": str(slurm.bin_dir),
                      "bind_host": "127.0.0.1"},
            "cluster_options": {"worker_cores": {"default": 1, "min": 1, "max": 2},
                                "worker_memory": {"default": 0.5, "min": 0.5, "max": 2.0},
                                "n_workers": {"default": 1, "min": 0, "max": 4}},
            "scheduler_memory_gib": 0.5,
        },
        # scheduler (1 core) + 2 workers (1 core each) fit, a third worker does not; behind the hub
        # the user's server (1 core, recorded by the hub) counts too: quota=4
        "usage": {"server_cores": 1,
                  "quotas": {"default": {"max_concurrent_cores": quota, "monthly_core_hours": None}}},
    }


def _wait(what, ok, timeout=120, every=1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = ok()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def system_user():
    """A throwaway system account in the hub users' group (removed after)."""
    import pwd
    import subprocess

    from satco2.hub.privileges import ensure_group

    name = "satco2-slurmtest"
    gid = ensure_group()
    subprocess.run(["useradd", "--create-home", "--gid", str(gid), "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)  # by account, only this one
        subprocess.run(["userdel", "--remove", name], capture_output=True)


def test_gateway_on_slurm_runs_a_users_cluster_as_that_user(tmp_path, system_user):
    """Without JupyterHub: the settings' Slurm backend behind a standalone gateway (basic auth)."""
    from dask_gateway import BasicAuth, Gateway

    from satco2 import catalog
    from satco2.hub.userpython import user_python

    user = system_user.pw_name
    with tslurm.temp_slurm(cpus=8, memory_mib=8192) as slurm:
        with tslurm.temp_gateway(slurm, tmp_path / "gw", _overrides(slurm), python=user_python(),
                                 password="pw-1234567") as (address, proxy, ledger):
            gw = Gateway(address, proxy_address=proxy, auth=BasicAuth(user, "pw-1234567"))
            cluster = gw.new_cluster(worker_memory=0.5)
            client = None
            try:
                cluster.scale(1)
                client = cluster.get_client()
                client.wait_for_workers(1, timeout=150)
                ds = catalog.open("global-sst-oisst-25km", source="demo", bbox=(121, 28, 124, 32))
                red = ds.sst.mean()
                assert float(client.compute(red).result(timeout=120)) == pytest.approx(float(red.compute()), rel=1e-6)
                assert set(client.run(os.getuid).values()) == {system_user.pw_uid}
                jobs = slurm.jobs()
                assert len(jobs) == 2 and {j["user"] for j in jobs} == {user}, jobs
                detail = slurm.run("scontrol", "show", "job", jobs[0]["id"]).stdout
                assert "TimeLimit=00:20:00" in detail and f"Partition={slurm.partition}" in detail
                cluster.scale(2)
                client.wait_for_workers(2, timeout=150)
                assert len(slurm.jobs()) == 3
                with pytest.raises(Exception, match="quota is 3"):
                    cluster.scale(3)
                time.sleep(2)
                assert len(slurm.jobs()) == 3
                client.close()
            finally:
                cluster.shutdown()
                cluster.close()
                gw.close()
                del cluster, gw, client
                import gc

                gc.collect()  # dask-gateway's __del__ needs its loop: collect while it runs
            _wait("the user's jobs to leave the queue", lambda: not slurm.jobs(), timeout=90)
            assert len([j for j in _wait("completed jobs", slurm.completed) if j["user"] == user]) >= 3
            # the gateway records a stop after its own reconciliation stopped the job, which can
            # come after the job left the queue (the workers exit when their scheduler retires them)
            def user_events():
                return [e for e in usage.read(ledger) if e.get("user") == user]

            def stopped():
                return sum(e["ev"] == "stop" for e in user_events()) >= 3

            _wait("the gateway to record the scheduler's and both workers' stops", stopped, timeout=90)
            events = user_events()
            assert sum(e["ev"] == "start" and e["kind"] == "worker" for e in events) == 2
            assert sum(e["ev"] == "stop" for e in events) == 3
            assert usage.summarize(usage.read(ledger))[user]["clusters"]["core_hours"] > 0


@pytest.fixture(scope="module")
def slurm_hub(tmp_path_factory):
    from satco2.testing.hub import temp_hub

    with tslurm.temp_slurm(cpus=8, memory_mib=8192) as slurm:
        # a worktree's checkout (PYTHONPATH) reaches the hub's services and user servers too
        env = {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else None
        with temp_hub(tmp_path_factory.mktemp("slurmhub"), overrides=_overrides(slurm, quota=4), env=env) as hub:
            yield slurm, hub


def test_hub_users_cluster_runs_as_slurm_jobs_of_that_user(slurm_hub):
    from satco2 import catalog
    from satco2.testing.hub import execute

    slurm, hub = slurm_hub
    user, password = "slurmuser", "a-long-password-1"
    hub.signup(user, password)
    hub.approve(user)
    s = hub.login_session(user, password)
    server = hub.start_server(s)
    token = hub.api_token(user)
    base = server.rstrip("/") + "/"
    kernel = requests.post(f"{base}api/kernels", json={"name": "python3"},
                           headers={"Authorization": f"token {token}"}, timeout=60).json()["id"]
    try:
        out = execute(server, token, """
import json, os, satco2.compute, satco2.catalog
client = satco2.compute.get_client(n_workers=1)
client.wait_for_workers(1, timeout=150)
ds = satco2.catalog.open("global-sst-oisst-25km", source="demo", bbox=(121, 28, 124, 32))
mean = float(ds.sst.mean().compute())
uids = sorted(set(client.run(os.getuid).values()))
from dask_gateway import Gateway
names = [c.name for c in Gateway().list_clusters()]
print(json.dumps({"mean": mean, "uids": uids, "me": os.getuid(), "clusters": names}))
""", kernel_id=kernel, timeout=240)
        got = json.loads(out.strip().splitlines()[-1])
        # the reduction equals the same reduction computed here, outside the cluster
        ds = catalog.open("global-sst-oisst-25km", source="demo", bbox=(121, 28, 124, 32))
        assert got["mean"] == pytest.approx(float(ds.sst.mean().compute()), rel=1e-6)
        # the workers run as the user (not root, not the gateway's account)
        assert got["uids"] == [got["me"]] and got["me"] != 0
        jobs = slurm.jobs()
        assert len(jobs) == 2 and {j["user"] for j in jobs} == {user}, jobs  # scheduler + 1 worker
        assert all(j["state"] == "R" for j in jobs) and {j["name"] for j in jobs} == {"dask-gateway"}

        # scale to 2: a second Slurm job of the same user
        execute(server, token, "client.cluster.scale(2); client.wait_for_workers(2, timeout=150)",
                kernel_id=kernel, timeout=200)
        assert len(slurm.jobs()) == 3 and {j["user"] for j in slurm.jobs()} == {user}
        # walltime and memory come from the settings: scontrol shows the job's limits
        detail = slurm.run("scontrol", "show", "job", slurm.jobs()[0]["id"]).stdout
        assert "TimeLimit=00:20:00" in detail and f"Partition={slurm.partition}" in detail

        # scaling past the quota (server 1 + scheduler 1 + 3 workers > 4) is refused with one
        # sentence; nothing is submitted
        with pytest.raises(Exception, match="would use 5 cores at once and the quota is 4"):
            execute(server, token, "client.cluster.scale(3)", kernel_id=kernel, timeout=60)
        time.sleep(3)
        assert len(slurm.jobs()) == 3

        # shutdown: every job of the user leaves the queue and is logged as completed/cancelled
        execute(server, token, "client.cluster.shutdown(); client.close()", kernel_id=kernel, timeout=120)
        _wait("the user's jobs to leave the queue", lambda: not slurm.jobs(), timeout=90)
        done = _wait("the job completion log", lambda: [j for j in slurm.completed() if j["user"] == user])
        assert len(done) >= 3
    finally:
        requests.delete(f"{base}api/kernels/{kernel}", headers={"Authorization": f"token {token}"}, timeout=30)
        hub.stop_server(user)
        slurm.cancel_all()

    # the gateway (not the user) recorded the usage: scheduler + 2 workers, cores from the settings
    # (its stops come from its own reconciliation, possibly after the jobs left the queue)
    ledger = hub.state_dir / "usage.jsonl"
    _wait("the gateway to record the cluster's stops",
          lambda: sum(e["ev"] == "stop" and e["kind"] != "server" and e.get("user") == user
                      for e in usage.read(ledger)) >= 3, timeout=90)
    events = usage.read(ledger)
    mine = [e for e in events if e.get("user") == user]
    assert sum(e["ev"] == "start" and e["kind"] == "worker" for e in mine) == 2
    assert sum(e["ev"] == "start" and e["kind"] == "scheduler" for e in mine) == 1
    assert sum(e["ev"] == "stop" and e["kind"] != "server" for e in mine) == 3
    # and the hub recorded the user's server, started and stopped
    assert [e["ev"] for e in mine if e["kind"] == "server"] == ["start", "stop"]
    summary = usage.summarize(events)[user]
    assert summary["clusters"]["core_hours"] > 0 and summary["cores_now"] == 0
