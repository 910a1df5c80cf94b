"""Per-user usage behind a real hub: the hub records each user server in the usage ledger, the
gateway's quotas count that server, and the admins' page shows both (issue 16, item 5).

One hub (root mode when the tests run as root, as `satco2 up` would be; single-account otherwise)
with a small quota, one ordinary user with a running server, one gateway cluster."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import requests

from satco2 import usage

pytestmark = [pytest.mark.hub, pytest.mark.slow]

USER, PASSWORD = "usageuma", "uma-long-password-" + os.urandom(3).hex()
QUOTA = 2  # cores at once: the server (1) and a cluster's scheduler (1) fit, one worker more does not


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from satco2.testing import env_vars
    from satco2.testing.hub import temp_hub

    # a worktree's checkout (PYTHONPATH) reaches the hub's services and user servers too
    env = {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else None
    overrides = {"usage": {"server_cores": 1, "server_memory_gib": 2.0,
                           "quotas": {"default": {"max_concurrent_cores": QUOTA, "monthly_core_hours": None}}}}
    # reports reachable by the users' and the services' accounts in root mode (pytest's tmp is 0700),
    # and none of the SATCO2_* folders another module's session fixture may have set for this process
    shared = Path(tempfile.mkdtemp(prefix="satco2-usage-"))
    shared.chmod(0o755)
    try:
        with env_vars(SATCO2_REPORTS_DIR=shared / "reports", SATCO2_STATE_DIR=None, SATCO2_NOTEBOOKS_DIR=None,
                      SATCO2_SERVICE_STATE_DIR=None, SATCO2_ISOLATION=None, SATCO2_SCHEDULER_TICK=None), \
                temp_hub(tmp_path_factory.mktemp("usagehub"), overrides=overrides, env=env) as hub:
            hub.signup(USER, PASSWORD)
            hub.approve(USER)
            session = hub.login_session(USER, PASSWORD)
            page = hub.url + "services/dashboards/usage"
            deadline = time.monotonic() + 180  # the dashboards service answers 503 while Panel loads
            while requests.get(page, allow_redirects=False, timeout=10).status_code != 302:
                assert time.monotonic() < deadline, "the dashboards service did not start"
                time.sleep(1)
            yield {"hub": hub, "session": session, "page": page, "ledger": hub.state_dir / "usage.jsonl"}
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def _mine(ledger):
    return [e for e in usage.read(ledger) if e.get("user") == USER]


def test_the_hub_records_a_users_server_and_the_quota_counts_it(world):
    from dask_gateway import Gateway, JupyterHubAuth

    hub, ledger = world["hub"], world["ledger"]
    before = time.time()
    hub.start_server(world["session"])
    starts = [e for e in _mine(ledger) if e["kind"] == "server"]
    # recorded by the hub (the user's server never writes the ledger): the size from the settings
    assert [(e["ev"], e["id"], e["cores"], e["memory_gib"]) for e in starts] == [("start", USER, 1.0, 2.0)]
    assert starts[0]["t"] >= before
    assert usage.running_cores(usage.read(ledger), USER) == 1

    gw = Gateway(address=f"{hub.url}services/dask-gateway",
                 proxy_address=f"gateway://127.0.0.1:{hub.hub.runtime.ports['gateway_tcp']}",
                 auth=JupyterHubAuth(api_token=hub.api_token(USER)))
    cluster = gw.new_cluster()  # server 1 + scheduler 1 = the quota: allowed
    try:
        with pytest.raises(Exception) as refused:  # a worker more: 3 cores at once
            cluster.scale(1)
        msg = str(refused.value)
        assert f"refused: {USER}'s server and clusters would use 3 cores at once and the quota is {QUOTA}" in msg
        assert msg.rstrip().endswith("in use now).")
        # the page shows the cores held now against the quota (server + scheduler = 100 %)
        page = hub.admin_session.get(world["page"], timeout=60)
        assert page.status_code == 200
        row = page.text.split(f'data-user="{USER}"')[1].split("</tr>")[0]
        assert "<td>2</td>" in row and f'<td class="failed">{QUOTA} (100 %)</td>' in row  # at the limit
    finally:
        cluster.shutdown()
        del cluster, gw
        import gc

        gc.collect()  # dask-gateway's __del__ closes the clients: collect them within this test
    hub.stop_server(USER)
    assert [e["ev"] for e in _mine(ledger) if e["kind"] == "server"] == ["start", "stop"]
    summary = usage.summarize(usage.read(ledger))[USER]
    assert summary["servers"]["core_hours"] > 0 and summary["servers"]["memory_gib_hours"] > 0
    assert summary["clusters"]["core_hours"] > 0


def test_the_usage_page_is_for_hub_admins_only_and_escapes_text(world):
    hub, page = world["hub"], world["page"]
    # nobody logged in: the hub login; an ordinary user: 403, and no figure of anybody
    assert "/hub/" in requests.get(page, allow_redirects=False, timeout=30).headers["Location"]
    r = world["session"].get(page, timeout=60)
    assert r.status_code == 403 and "only hub admins may see the usage page" in r.text
    assert "core-hours this month" not in r.text
    # text in the ledger reaches the page escaped (the ledger is the hub's; written here as the hub would)
    evil = "<script>alert(1)</script>"
    usage.record(world["ledger"], "start", "worker", evil, "evil/w", cores=1, memory_gib=1)
    usage.record(world["ledger"], "stop", "worker", evil, "evil/w")
    r = hub.admin_session.get(page, timeout=60)
    assert r.status_code == 200 and "<script>alert" not in r.text and "&lt;script&gt;alert(1)" in r.text
    # the admin sees this user's row: server and cluster figures as the ledger sums them
    rows = {x["user"]: x for x in usage.overview(usage.read(world["ledger"]), usage_settings(hub))}
    row = r.text.split(f'data-user="{USER}"')[1].split("</tr>")[0]
    assert f"<td>{rows[USER]['all_time']['servers']['core_hours']:.2f}</td>" in row
    assert f"<td>{rows[USER]['all_time']['clusters']['core_hours']:.2f}</td>" in row


def usage_settings(hub):
    return {"usage": hub.hub.runtime.settings["usage"]}
