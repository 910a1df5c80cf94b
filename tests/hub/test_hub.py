"""The real hub end to end: sign-up, approval, login form, spawn, kernels, gateway clusters,
isolation, culling activity, browser, restart. One hub for the module (see conftest.py)."""
from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
from datetime import datetime

import pytest
import requests

from satco2 import SatCO2Error
from satco2.testing import chromium_page
from satco2.testing.hub import FAST_ACTIVITY_ENV, execute, temp_hub

ROOT = os.geteuid() == 0

pytestmark = [pytest.mark.hub, pytest.mark.slow]

TAG = secrets.token_hex(2)
ALICE, BOB = f"alice{TAG}", f"bob{TAG}"
PW = {ALICE: "alice-pw-" + secrets.token_hex(4), BOB: "bob-pw-" + secrets.token_hex(4)}
STATE = {}  # shared between the ordered tests of this module

CLUSTER_CODE = """
import xarray as xr, numpy as np, dask.array as da
from satco2.compute import get_client
client = get_client(worker_cores=1, worker_memory=0.5, n_workers=2)
client.wait_for_workers(2, timeout=120)
x = xr.DataArray(da.arange(400 * 300, chunks=20000).reshape(400, 300).rechunk((100, 100)),
                 dims=("lat", "lon"))
m = x.mean("lon").sum().compute()
print("RESULT", float(m), float(np.arange(400 * 300).reshape(400, 300).mean(1).sum()))
print("WORKERS", len(client.scheduler_info()["workers"]))
print("USERS", sorted(set(client.run(lambda: __import__("getpass").getuser()).values())))
print("NUMBA", sorted(set(client.run(lambda: __import__("numba").config.NUMBA_NUM_THREADS).values())))
from dask_gateway import Gateway
print("CLUSTERS", [c.name for c in Gateway().list_clusters()])
"""


def _ts(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def test_admin_login_and_wrong_password(hub):
    s = hub.login_session(hub.admin_user, hub.admin_password)
    assert hub.whoami(s) == hub.admin_user
    with pytest.raises(SatCO2Error, match="Invalid username or password"):
        hub.login_session(hub.admin_user, "not-the-password")


def test_signup_needs_approval_then_login_spawns_and_runs_code(hub):
    msg = hub.signup(ALICE, PW[ALICE])
    assert "sent to the admin" in msg
    with pytest.raises(SatCO2Error, match="has not been authorized"):
        hub.login_session(ALICE, PW[ALICE])
    hub.approve(ALICE)
    s = hub.login_session(ALICE, PW[ALICE])
    server = hub.start_server(s)
    assert server.endswith(f"/user/{ALICE}/")
    # the browser-like session reaches the server through the hub's OAuth (HTML page first)
    lab = s.get(server, timeout=60)
    assert lab.status_code == 200 and lab.url.startswith(f"{server}lab")
    # hub-config/singleuser: JupyterLab neither fetches news nor asks about it (no network here)
    page_config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>\s*(\{.*?\})\s*</script>', lab.text, re.S).group(1))
    assert page_config["news"] == {"disabled": True}
    r = s.get(f"{server}lab/api/settings/@jupyterlab/apputils-extension:notification", timeout=30)
    assert r.json()["schema"]["properties"]["fetchNews"]["default"] == "false"
    r = s.get(f"{server}api/status", timeout=30)
    assert r.status_code == 200 and "kernels" in r.json()
    token = hub.api_token(ALICE)
    out = execute(server, token, "import getpass, os; print(getpass.getuser(), os.environ['DASK_GATEWAY__AUTH__TYPE'])")
    expected_user = ALICE if ROOT else None
    user, auth = out.split()
    assert auth == "jupyterhub"
    if expected_user:
        assert user == expected_user  # root mode: the kernel runs as alice's own system user
    # the analysis notebooks wait in ~/notebooks, owned by the user (editable)
    out = execute(server, token, "import os; print(os.access('notebooks/pco2_flux.ipynb', os.W_OK),"
                  " sorted(os.listdir('notebooks')))")
    assert out.startswith("True") and "doc_transport.ipynb" in out and "chl_gapfill.ipynb" in out
    STATE.update(alice_server=server, alice_token=token, alice_session=s)


def test_user_server_starts_without_the_work_a_login_does_not_need(hub):
    """The measures behind a login under 5 s (docs/hub.md, "Time to a usable JupyterLab"), on the
    server the hub started for alice: undo one and this fails."""
    server, s, token = STATE["alice_server"], STATE["alice_session"], STATE["alice_token"]
    log = hub.hub.log_path.read_text(errors="replace")
    # the spawner returned when the server answered (satco2.hub.spawner), not at JupyterHub's next poll
    assert re.search(rf"{ALICE}\S* answered [0-9.]+ s after its start", log)
    # hub-config/singleuser/jupyter_server_config.d/satco2-startup.json: no LSP, no notebook shim;
    # dask-labextension's and Panel's extensions loaded after the server answers (satco2.hub.lazy_extensions)
    assert "satco2.hub.lazy_extensions | extension was successfully linked" in log
    for name in ("jupyter_lsp", "notebook_shim", "panel.io.jupyter_server_extension", "dask_labextension"):
        assert f"{name} | extension was successfully linked" not in log, name
    assert s.get(f"{server}lsp/status", timeout=30).status_code == 404
    r = s.get(f"{server}dask/clusters", timeout=120)  # the Dask pane's cluster list
    assert r.status_code == 200 and isinstance(r.json(), list)
    assert "server extension dask_labextension loaded after the server started" in hub.hub.log_path.read_text(errors="replace")
    r = s.get(f"{server}panel_dist/css/button.css", timeout=120)  # Preview with Panel still works
    assert r.status_code == 200 and [h.status_code for h in r.history] == [307] and "bk-btn" in r.text
    assert s.get(f"{server}panel-preview/static/no-such-file", timeout=30).status_code == 404
    # labconfig/page_config.json and jupyter_lab_config.py: no build check, read-only extension manager
    lab = s.get(f"{server}lab", timeout=60)
    page_config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>\s*(\{.*?\})\s*</script>', lab.text, re.S).group(1))
    assert page_config["buildCheck"] is False and page_config["buildAvailable"] is False
    assert "Extension Manager is 'readonly'" in log
    # the environment (Makefile UNWANTED): jsonschema's slow optional iri check is not installed
    out = execute(server, token, "import importlib.util as u; print(u.find_spec('rfc3987_syntax'), u.find_spec('jsonschema') is not None)")
    assert out.split() == ["None", "True"]


def _kernel(server: str, token: str) -> str:
    r = requests.post(f"{server}api/kernels", json={"name": "python3"},
                      headers={"Authorization": f"token {token}"}, timeout=60)
    r.raise_for_status()
    return r.json()["id"]


def test_gateway_cluster_from_user_kernel(hub):
    # a kernel that stays alive: a cluster made by get_client shuts down with its kernel
    STATE["alice_kernel"] = kid = _kernel(STATE["alice_server"], STATE["alice_token"])
    out = execute(STATE["alice_server"], STATE["alice_token"], CLUSTER_CODE, timeout=240, kernel_id=kid)
    got, want = re.search(r"RESULT (\S+) (\S+)", out).groups()
    assert float(got) == pytest.approx(float(want))
    assert "WORKERS 2" in out
    assert "NUMBA [1]" in out  # a 1-core worker's numba kernels run on one thread, not on every core
    if ROOT:
        assert f"USERS ['{ALICE}']" in out  # scheduler and workers run as alice
    names = re.search(r"CLUSTERS \['([0-9a-f]+)'\]", out).group(1)
    STATE["cluster"] = names
    assert "Dask dashboard: http://127.0.0.1:" in out and f"/clusters/{names}/status" in out


def test_cluster_dashboard_is_a_capability_url(hub):
    """Decision (hub-config/README.md): the cluster dashboard needs no token; its 128-bit random
    cluster name is the capability, and only the owner can list it."""
    name = STATE["cluster"]
    assert re.fullmatch(r"[0-9a-f]{32}", name)
    base = f"{hub.url}services/dask-gateway/clusters/"
    assert requests.get(f"{base}{name}/status", timeout=30).status_code == 200
    wrong = secrets.token_hex(16)
    assert requests.get(f"{base}{wrong}/status", timeout=30).status_code == 404


def test_over_limit_request_gets_a_clear_message(hub):
    code = (
        "from satco2.compute import get_client\n"
        "try:\n    get_client(n_workers=99)\nexcept Exception as e:\n    print(type(e).__name__, e)\n"
        "from dask_gateway import Gateway\n"
        "try:\n    Gateway().new_cluster(worker_memory=512)\nexcept Exception as e:\n    print(type(e).__name__, e)\n"
    )
    out = execute(STATE["alice_server"], STATE["alice_token"], code)
    assert "SatCO2Error cluster option n_workers=99 is outside the allowed range 0..4" in out
    assert "worker_memory must be <= 4" in out  # the gateway's own bound, as a ValueError message


def test_isolation_between_users_and_anonymous(hub):
    hub.signup(BOB, PW[BOB])
    hub.approve(BOB)
    bob = hub.login_session(BOB, PW[BOB])
    bob_server = hub.start_server(bob)
    bob_token = hub.api_token(BOB)
    alice_server, name = STATE["alice_server"], STATE["cluster"]
    # bob cannot use alice's server, with his token or his browser session
    assert requests.get(f"{alice_server}api/kernels", headers={"Authorization": f"token {bob_token}"},
                        timeout=30).status_code in (403, 404)
    r = bob.get(alice_server, timeout=60)
    assert r.status_code == 403 and not r.url.startswith(f"{alice_server}lab")
    # ... nor stop it through the hub API
    r = requests.delete(f"{hub.url}hub/api/users/{ALICE}/server",
                        headers={"Authorization": f"token {bob_token}"}, timeout=30)
    assert r.status_code in (403, 404)
    # bob cannot list, connect to or stop alice's cluster
    code = f"""
from dask_gateway import Gateway
g = Gateway()
print("LIST", [c.name for c in g.list_clusters()])
for what, f in [("CONNECT", lambda: g.connect("{name}")), ("STOP", lambda: g.stop_cluster("{name}"))]:
    try:
        f(); print(what, "ok")
    except Exception as e:
        print(what, "refused", type(e).__name__)
"""
    out = execute(bob_server, bob_token, code)
    assert "LIST []" in out
    assert "CONNECT refused" in out and "STOP refused" in out
    check = execute(alice_server, STATE["alice_token"],
                    "from dask_gateway import Gateway; print([c.name for c in Gateway().list_clusters()])")
    assert name in check  # alice's cluster survived bob's attempt
    # get_client in another kernel of alice reuses her running cluster instead of starting one
    out = execute(alice_server, STATE["alice_token"],
                  "from satco2.compute import get_client\nc = get_client(n_workers=2)\nprint('REUSED', c.cluster.name)")
    assert f"REUSED {name}" in out
    execute(alice_server, STATE["alice_token"], "client.cluster.shutdown(); print('down')",
            kernel_id=STATE["alice_kernel"])
    out = execute(alice_server, STATE["alice_token"],
                  "from dask_gateway import Gateway; print([c.name for c in Gateway().list_clusters()])")
    assert name not in out  # the cluster shut down on request
    # anonymous requests are refused everywhere
    assert requests.get(f"{hub.url}hub/api/users", timeout=30).status_code == 403
    r = requests.get(f"{alice_server}api/kernels", timeout=30, allow_redirects=False)
    assert r.status_code in (302, 403) and "token" not in r.headers.get("location", "")
    assert requests.get(f"{hub.url}services/dask-gateway/api/v1/clusters/", timeout=30).status_code == 401
    # the admin sees both users and both servers
    users = {u["name"]: u for u in hub.api("GET", "users").json()}
    assert users[ALICE]["servers"] and users[BOB]["servers"]
    STATE.update(bob_server=bob_server, bob_token=bob_token)


@pytest.mark.skipif(not ROOT, reason="root mode (per-user system accounts) needs root")
def test_root_mode_user_cannot_read_other_users_files(hub):
    execute(STATE["alice_server"], STATE["alice_token"],
            "open('secret.txt', 'w').write('alice only'); import os; print(os.path.abspath('secret.txt'))")
    code = f"""
import os
for path in [os.path.expanduser('~{ALICE}/secret.txt'), os.path.expanduser('~{ALICE}')]:
    try:
        open(path).read() if path.endswith('.txt') else os.listdir(path)
        print("READ", path)
    except PermissionError:
        print("DENIED", path)
"""
    out = execute(STATE["bob_server"], STATE["bob_token"], code)
    assert "READ" not in out and out.count("DENIED") == 2


def test_busy_kernel_keeps_server_active(hub):
    """The idle culler culls on the hub's last_activity; a kernel computing silently must keep it
    fresh (satco2.hub.busy_activity), or a long computation would be culled."""
    server, token = STATE["alice_server"], STATE["alice_token"]
    kid = _kernel(server, token)
    execute(server, token, "import time", kernel_id=kid)
    time.sleep(3)
    t0 = datetime.now().astimezone()
    worker = threading.Thread(target=execute, args=(server, token, "time.sleep(14)"),
                              kwargs={"kernel_id": kid, "timeout": 60})
    worker.start()
    time.sleep(11)
    last = _ts(hub.api("GET", f"users/{ALICE}").json()["servers"][""]["last_activity"])
    worker.join()
    requests.delete(f"{server}api/kernels/{kid}", headers={"Authorization": f"token {token}"}, timeout=30)
    assert (last - t0).total_seconds() > 5, (last, t0)
    # and the culler that acts on last_activity is configured from the settings
    rt = hub.hub.runtime
    assert rt.settings["culling"]["servers"]["timeout"] >= 60


USER_KERNEL_CODE = """
import os, sys, json, pathlib, nbformat, satco2
from satco2.runs.execute import _export_html
from satco2.testing.offline import external_references
import panel as pn, matplotlib
nb = nbformat.v4.new_notebook()
nb.cells = [nbformat.v4.new_markdown_cell("![x](data:image/png;base64,AA==) plot")]
d = pathlib.Path.home() / "satco2-export-check"
d.mkdir(exist_ok=True)
nbformat.write(nb, d / "n.ipynb")
_export_html(d / "n.ipynb", d / "report.html")
try:
    satco2.catalog.open("global-chl-modis-aqua-4km", source="upstream", time=("2010-01", "2010-01"),
                        urls={"monthly": "http://127.0.0.1:9/x.nc"})
except satco2.SatCO2Error as e:
    err = str(e)
print("CHECK", json.dumps({"html": external_references((d / "report.html").read_text()),
      "inline": pn.config.inline, "mpl": bool(matplotlib.__version__), "python": sys.version.split()[0],
      "cache": str(satco2.catalog.sources.upstream_cache()), "home": str(pathlib.Path.home()),
      "compute": satco2.compute.get_client.__name__, "err": err}))
"""


def test_user_kernel_exports_reports_plots_offline_and_caches_per_user(hub):
    """As a hub user: nbconvert's HTML export works in the user's interpreter (it failed on
    soupsieve's selectors under Debian's python), Panel inlines its resources, matplotlib is there,
    `satco2.compute` is a lazy attribute, and the upstream cache is the user's own."""
    out = execute(STATE["alice_server"], STATE["alice_token"], USER_KERNEL_CODE, timeout=120)
    line = next((x for x in out.splitlines() if x.startswith("CHECK ")), None)
    assert line, out[-1500:]
    res = json.loads(line[len("CHECK "):])
    assert res["html"] == [] and res["inline"] is True and res["mpl"] and res["compute"] == "get_client"
    assert res["cache"].startswith(res["home"]) and "unreachable" in res["err"], res


@pytest.mark.browser
def test_browser_login_reaches_jupyterlab(hub, artifacts):
    with chromium_page() as page:
        page.goto(f"{hub.url}hub/login", timeout=60000)
        page.fill("input[name=username]", BOB)
        page.fill("input[name=password]", PW[BOB])
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_url(re.compile(rf".*/user/{BOB}/lab.*"), timeout=90000)
        page.wait_for_selector("#jp-main-dock-panel, .jp-LabShell", timeout=90000)
        page.wait_for_selector(".jp-Launcher, .jp-LauncherCard", timeout=90000)
        time.sleep(5)  # JupyterLab asks about news a moment after the launcher shows
        assert page.get_by_text("official Jupyter news").count() == 0
        page.screenshot(path=str(artifacts / "hub-jupyterlab.png"))
    assert (artifacts / "hub-jupyterlab.png").stat().st_size > 10_000


def test_restart_keeps_users(hub, tmp_path):
    """Stop the module's hub and start a new one on the same state directory."""
    state_dir = hub.state_dir
    password = hub.admin_password
    hub.hub.stop()
    with temp_hub(tmp_path, state_dir=state_dir, env=FAST_ACTIVITY_ENV, remove_users=False) as again:
        assert again.admin_password == password and not again.hub.first_start
        s = again.login_session(ALICE, PW[ALICE])
        assert again.whoami(s) == ALICE
        with pytest.raises(SatCO2Error, match="Invalid username or password"):
            again.login_session(BOB, "wrong-" + PW[BOB])
