"""Settings, state, and every rendering of them: local traitlets configs, Kubernetes values, HPC.

No processes are started here (fast)."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from traitlets.config.loader import PyFileConfigLoader

from satco2 import SatCO2Error
from satco2.hub import gateway, render, settings, state
from satco2.hub.launcher import Hub, free_port
from satco2.hub.runtime import ENV as RUNTIME_ENV

HUB_CONFIG = settings.HUB_CONFIG_DIR


def _bad(tmp_path, mutate):
    data = yaml.safe_load(settings.SETTINGS_FILE.read_text())
    mutate(data)
    p = tmp_path / "settings.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


# --- settings ---------------------------------------------------------------------------------
def test_committed_settings_are_valid_and_loopback_only():
    s = settings.load(settings.SETTINGS_FILE)
    assert s["hub"]["ip"] in ("127.0.0.1", "localhost")


@pytest.mark.parametrize("mutate, where", [
    (lambda d: d["hub"].update(port="eighty"), "hub.port"),
    (lambda d: d["hub"].update(ip="0.0.0.0"), "hub.ip"),
    (lambda d: d["gateway"]["cluster_options"]["worker_cores"].update(min=3, max=2, default=2),
     "gateway.cluster_options.worker_cores"),
    (lambda d: d["gateway"].update(idle_timeout=-5), "gateway.idle_timeout"),
    (lambda d: d["culling"]["servers"].update(timout=10), "culling.servers"),
    (lambda d: d["services"].update({"dask-gateway": {"module": "x"}}), "services"),
    (lambda d: d["gateway"]["limits"]["default"].update(cluster_max_workers=1), "n_workers.default"),
])
def test_bad_settings_give_one_clear_sentence(tmp_path, monkeypatch, mutate, where):
    for name in ("SATCO2_HUB_PORT", "SATCO2_HUB_IP", "SATCO2_HUB_ROOT_MODE"):
        monkeypatch.delenv(name, raising=False)  # env overrides would hide the file's bad value
    with pytest.raises(SatCO2Error) as e:
        settings.load(_bad(tmp_path, mutate))
    msg = str(e.value)
    assert where in msg and msg.endswith(".") and "\n" not in msg


def test_env_overrides_port_and_mode(monkeypatch):
    monkeypatch.setenv("SATCO2_HUB_PORT", "8123")
    monkeypatch.setenv("SATCO2_HUB_ROOT_MODE", "0")
    s = settings.load()
    assert s["hub"]["port"] == 8123 and s["hub"]["isolation"] == "single-account"
    monkeypatch.setenv("SATCO2_HUB_PORT", "x")
    with pytest.raises(SatCO2Error, match="SATCO2_HUB_PORT"):
        settings.load()


# --- state -------------------------------------------------------------------------------------
def test_state_dir_and_secrets_are_private_and_kept(tmp_path):
    d = tmp_path / "state"
    first = state.prepare(d)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    for name in state.SECRET_FILES:
        assert stat.S_IMODE((d / name).stat().st_mode) == 0o600
    assert state.prepare(d) == first  # a restart keeps them
    os.chmod(d / "proxy_auth_token", 0o644)
    with pytest.raises(SatCO2Error, match="must be 0600"):
        state.prepare(d)
    # files the hub's processes write with their umask are made private once the hub is up
    (d / "proxy.pid").write_text("1")
    os.chmod(d / "proxy.pid", 0o644)
    assert state.tighten(d) == ["proxy.pid"]
    assert stat.S_IMODE((d / "proxy.pid").stat().st_mode) == 0o600


# --- local traitlets configs -------------------------------------------------------------------
def _load(path, runtime_file, monkeypatch):
    monkeypatch.setenv(RUNTIME_ENV, str(runtime_file))
    loader = PyFileConfigLoader(path.name, path=str(path.parent))
    return loader.load_config()


def _assert_real_traits(cfg, classes):
    by_name = {c.__name__: c for c in classes}
    for section, values in cfg.items():
        assert section in by_name, f"config section {section} is not one of the expected classes"
        traits = by_name[section].class_trait_names(config=True)
        for key in values:
            assert key in traits, f"{section}.{key} is not a configurable trait"


@pytest.mark.parametrize("root_mode", [False, True])
def test_jupyterhub_and_gateway_configs_load(tmp_path, monkeypatch, root_mode):
    if root_mode and os.geteuid() != 0:
        pytest.skip("root mode needs root")
    from dask_gateway_server.app import DaskGateway
    from dask_gateway_server.backends.base import ClusterConfig
    from dask_gateway_server.backends.local import LocalBackend
    from dask_gateway_server.proxy import Proxy
    from jupyterhub.app import JupyterHub
    from jupyterhub.auth import Authenticator
    from jupyterhub.proxy import ConfigurableHTTPProxy
    from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner, Spawner
    from nativeauthenticator import NativeAuthenticator

    from satco2.hub.auth import SatCO2Authenticator

    hub = Hub(state_dir=tmp_path / "state", port=free_port(), root_mode=root_mode, free_ports=True)
    rt = hub.prepare()
    rt_file = tmp_path / "state" / "runtime.json"
    assert stat.S_IMODE(rt_file.stat().st_mode) == 0o600
    c = _load(HUB_CONFIG / "jupyterhub_config.py", rt_file, monkeypatch)
    _assert_real_traits(c, [JupyterHub, ConfigurableHTTPProxy, NativeAuthenticator, Authenticator,
                            SatCO2Authenticator, Spawner, LocalProcessSpawner, SimpleLocalProcessSpawner])
    assert c.JupyterHub.authenticator_class == "satco2.hub.auth.SatCO2Authenticator"
    assert {"examples", "dask-gateway", *rt.settings["services"]} <= c.SatCO2Authenticator.reserved_usernames
    assert (HUB_CONFIG / "templates" / "satco2-login.html").exists()
    assert c.JupyterHub.template_paths == [str(HUB_CONFIG / "templates")]
    assert c.JupyterHub.ip == "127.0.0.1" and c.JupyterHub.hub_ip == "127.0.0.1"
    assert c.ConfigurableHTTPProxy.command[0].endswith("node_modules/.bin/configurable-http-proxy")
    services = {s["name"]: s for s in c.JupyterHub.services}
    assert services["dask-gateway"]["url"].startswith("http://127.0.0.1:")
    assert services["dask-gateway"]["command"][1:3] == ["-m", "satco2.hub.supervise"]
    cull = rt.settings["culling"]["servers"]
    culler = services["idle-culler"]["command"]
    assert f"--timeout={cull['timeout']}" in culler and ("--cull-users" in culler) == cull["cull_users"]
    culler_role = next(r for r in c.JupyterHub.load_roles if r["name"] == "idle-culler")
    assert set(culler_role["scopes"]) == {"list:users", "read:users:activity", "read:servers", "delete:servers"}
    user_role = next(r for r in c.JupyterHub.load_roles if r["name"] == "user")
    assert "access:services!service=dask-gateway" in user_role["scopes"]
    assert "access:services!service=dask-gateway" in c.Spawner.server_token_scopes
    env = c.Spawner.environment
    assert env["DASK_GATEWAY__AUTH__TYPE"] == "jupyterhub"
    assert env["DASK_GATEWAY__ADDRESS"].endswith("/services/dask-gateway")
    for name, module in rt.services.items():  # the project services
        assert services[name]["command"][-1] == module and services[name]["oauth_no_confirm"]
        # they read files users write: never as root (root mode: the unprivileged service account)
        assert services[name].get("user") == ("satco2-svc" if root_mode else None)
        assert services[name]["environment"]["SATCO2_ISOLATION"] == ("root" if root_mode else "single")
    # JupyterHub's local spawners that return once the server answers (satco2.hub.spawner)
    from traitlets.utils.importstring import import_item

    spawner_class = import_item(c.JupyterHub.spawner_class)
    assert issubclass(spawner_class, SimpleLocalProcessSpawner if not root_mode else LocalProcessSpawner)
    assert spawner_class.__mro__[1].__name__ == "ReadyWhenUp"
    assert spawner_class().ready_poll_interval > 0  # a real trait of a real spawner
    if root_mode:
        assert not issubclass(spawner_class, SimpleLocalProcessSpawner) and callable(c.Spawner.pre_spawn_hook)
    else:
        assert "Single-account mode" in c.JupyterHub.template_vars["announcement"]

    g = _load(HUB_CONFIG / "dask_gateway_config.py", rt_file, monkeypatch)
    from dask_gateway_server.backends.base import Backend
    from dask_gateway_server.backends.db_base import DBBackendBase

    usage_backend = gateway.with_usage(LocalBackend)
    _assert_real_traits(g, [DaskGateway, Proxy, DBBackendBase, ClusterConfig,
                            type("Backend", (), {"class_trait_names": usage_backend.class_trait_names})])
    assert "cluster_options" in Backend.class_trait_names(config=True)
    assert g.Proxy.prefix == "/services/dask-gateway"
    assert g.ClusterConfig.scheduler_cmd[-2:] == ["dask", "scheduler"]
    assert g.ClusterConfig.worker_cmd[-2:] == ["dask", "worker"]
    assert g.ClusterConfig.idle_timeout == rt.settings["gateway"]["idle_timeout"]
    backend = g.DaskGateway.backend_class
    assert backend.__name__ == ("UsageThreadCappedIsolatedLocalBackend" if root_mode
                                else "UsageThreadCappedUnsafeLocalBackend")  # usage, worker threads capped


def test_hpc_slurm_config_loads():
    from dask_gateway_server.app import DaskGateway
    from dask_gateway_server.backends.jobqueue.base import JobQueueBackend, JobQueueClusterConfig
    from dask_gateway_server.backends.jobqueue.slurm import SlurmBackend, SlurmClusterConfig
    from dask_gateway_server.proxy import Proxy

    path = HUB_CONFIG / "hpc" / "dask_gateway_config.py"
    c = PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
    from dask_gateway_server.backends.base import Backend

    from satco2.hub import slurm as hub_slurm

    backend_cls = hub_slurm.backend_class()
    config_cls = backend_cls.class_traits()["cluster_config_class"].default_value
    usage_cls = gateway.with_usage(backend_cls)
    Backend = type("Backend", (), {"class_trait_names": staticmethod(lambda config: ["satco2_usage"])})  # noqa: N806
    _assert_real_traits(c, [DaskGateway, Proxy, SlurmClusterConfig, JobQueueBackend, JobQueueClusterConfig,
                            backend_cls, config_cls, Backend])
    assert "satco2_usage" in usage_cls.class_trait_names(config=True)
    backend_class = c.DaskGateway.backend_class
    assert issubclass(backend_class, SlurmBackend)
    backend = backend_class(config=c)  # the config is accepted by the real backend class
    assert backend.submit_command.endswith("/sbatch") and backend.bind_host == "0.0.0.0"
    opts = backend.cluster_options(gateway_user("alice"))
    assert _fields(opts)["n_workers"].max == settings.load()["gateway"]["cluster_options"]["n_workers"]["max"]


def _fields(options):
    return {f.field: f for f in options.fields}


# --- gateway options and limits ----------------------------------------------------------------
def gateway_user(name):
    from dask_gateway_server.models import User

    return User(name, groups=(), admin=False)


def test_cluster_options_bounds_and_per_user_limits():
    s = settings.load(settings.SETTINGS_FILE)
    s["gateway"]["limits"]["users"] = {"carol": {"cluster_max_workers": 2, "cluster_max_cores": 3,
                                                 "cluster_max_memory_gib": 4}}
    make = gateway.cluster_options(s)
    opts = make(gateway_user("alice"))
    with pytest.raises(ValueError, match="n_workers must be <= 4"):
        opts.parse_options({"n_workers": 5})
    parsed = opts.parse_options({"worker_memory": 1.5})
    config = opts.get_configuration(parsed, gateway_user("alice"))
    assert config["worker_memory"] == int(1.5 * 2**30)
    assert config["cluster_max_workers"] == 4
    carol = make(gateway_user("carol"))
    with pytest.raises(ValueError, match="n_workers must be <= 2"):
        carol.parse_options({"n_workers": 3})
    assert carol.get_configuration(carol.parse_options({}), gateway_user("carol"))["cluster_max_cores"] == 3


# --- Kubernetes values -------------------------------------------------------------------------
def test_k8s_values_are_generated_from_settings_and_match_the_schema():
    import jsonschema

    assert render.main(["--check"]) == 0, "run: python -m satco2.hub.render"
    values = yaml.safe_load(render.VALUES_FILE.read_text())
    schema = json.loads((HUB_CONFIG / "k8s" / "values.schema.json").read_text())
    jsonschema.validate(values, schema)
    s = settings.load(settings.SETTINGS_FILE)
    jh = values["jupyterhub"]
    assert jh["cull"]["timeout"] == s["culling"]["servers"]["timeout"]
    assert jh["hub"]["config"]["Authenticator"]["admin_users"] == [s["hub"]["admin_user"]]
    assert values["dask-gateway"]["gateway"]["prefix"] == "/services/dask-gateway"
    # the gateway snippet, executed as the chart would, yields the same bounds
    from traitlets.config import Config

    c = Config()
    exec(values["dask-gateway"]["gateway"]["extraConfig"]["satco2-options"], {"c": c})
    opts = c.Backend.cluster_options(gateway_user("alice"))
    for name, bound in s["gateway"]["cluster_options"].items():
        assert _fields(opts)[name].max == bound["max"]
    assert c.ClusterConfig.idle_timeout == s["gateway"]["idle_timeout"]
    broken = dict(values, jupyterhub=dict(jh, cul={"enabled": True}))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


#: the charts' own schemas and default values, vendored (tests/data/k8s_charts/PROVENANCE.md)
CHARTS = {"jupyterhub": "jupyterhub-4.4.0", "dask-gateway": "dask-gateway-2026.3.0"}
CHART_DATA = Path(__file__).resolve().parents[1] / "data" / "k8s_charts"


def _helm_coalesce(defaults: dict, values: dict) -> dict:
    """The chart's defaults with ``values`` over them as Helm merges them before it validates
    against ``values.schema.json``: maps merge key by key, anything else replaces, null removes."""
    out = dict(defaults)
    for key, value in values.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _helm_coalesce(out[key], value)
        else:
            out[key] = value
    return out


def _chart(name: str):
    import hashlib

    import jsonschema

    provenance = (CHART_DATA / "PROVENANCE.md").read_text()
    for suffix in ("values.schema.yaml", "values.yaml"):  # the files are the released ones, unchanged
        data = (CHART_DATA / f"{name}.{suffix}").read_bytes()
        assert f"`{name}.{suffix}`: sha256 `{hashlib.sha256(data).hexdigest()}`" in provenance, suffix
    schema = yaml.safe_load((CHART_DATA / f"{name}.values.schema.yaml").read_text())
    defaults = yaml.safe_load((CHART_DATA / f"{name}.values.yaml").read_text())
    return jsonschema.Draft7Validator(schema), defaults  # both charts declare draft-07


@pytest.mark.parametrize("key", list(CHARTS))
def test_k8s_values_validate_against_the_charts_own_schemas(key):
    """What `helm install` checks before rendering: our values over the chart's defaults against
    the chart's values.schema (zero-to-jupyterhub 4.4.0; dask-gateway 2026.3.0)."""
    validator, defaults = _chart(CHARTS[key])
    assert not list(validator.iter_errors(defaults))  # the released defaults are valid on their own
    ours = yaml.safe_load(render.VALUES_FILE.read_text())[key]
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator.iter_errors(_helm_coalesce(defaults, ours))]
    assert not errors, errors
    # the check can fail: a misspelt key and a wrong value of a key we set are both refused
    bad_key = {**ours, "singleuser" if key == "jupyterhub" else "gateway": {"defaultUrll": "/lab"}}
    assert any("defaultUrll" in e.message for e in validator.iter_errors(_helm_coalesce(defaults, bad_key)))
    if key == "jupyterhub":
        wrong = {**ours, "singleuser": {**ours["singleuser"], "cpu": {"guarantee": "one core"}}}
    else:
        wrong = {**ours, "gateway": {**ours["gateway"], "auth": {"type": "jupyterhb"}}}
    assert list(validator.iter_errors(_helm_coalesce(defaults, wrong)))


# --- service supervisor ------------------------------------------------------------------------
def test_supervisor_logs_and_restarts_a_crashing_service_then_stops():
    import requests

    port = free_port()
    p = subprocess.Popen(
        [sys.executable, "-m", "satco2.hub.supervise", "demo", "--port", str(port), "--",
         sys.executable, "-c", "import sys; print('started', flush=True); sys.exit(3)"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    # JupyterHub's start-up check is answered (non-5xx) before the service itself runs
    deadline = time.monotonic() + 20
    while True:
        try:
            r = requests.get(f"http://127.0.0.1:{port}/", timeout=2)
            break
        except requests.ConnectionError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert r.status_code == 404 and "demo is starting" in r.text
    time.sleep(4)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 0
    assert "service demo exited with status 3" in err
    assert out.count("started") >= 2  # restarted after the crash


# --- interpreter for hub users (root mode) -------------------------------------------------------
@pytest.mark.skipif(os.geteuid() != 0, reason="running as another user needs root")
def test_user_python_runs_for_other_users_with_the_project_packages():
    from satco2.hub.userpython import user_python

    py = user_python()
    code = "import satco2, dask_gateway, ipykernel, jupyterhub.singleuser; print(satco2.__name__)"
    out = subprocess.run(["runuser", "-u", "nobody", "--", py, "-c", code],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "satco2", out.stderr
    cli = os.path.join(os.path.dirname(py), "satco2")  # console scripts work in users' terminals
    out = subprocess.run(["runuser", "-u", "nobody", "--", cli, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "SatCO2 Hub" in out.stdout, out.stderr


def test_user_servers_render_offline_and_terminals_keep_the_venv_on_path(tmp_path, monkeypatch):
    """Kernels inline Bokeh/Panel resources (no CDN); a JupyterLab terminal's shell keeps the
    spawner's PATH, so `satco2` is found (a login shell would reset PATH from /etc/profile)."""
    import json
    import shutil
    import subprocess

    hub = Hub(state_dir=tmp_path / "state", port=free_port(), root_mode=False, free_ports=True)
    hub.prepare()
    c = _load(HUB_CONFIG / "jupyterhub_config.py", tmp_path / "state" / "runtime.json", monkeypatch)
    env = c.Spawner.environment
    assert env["PANEL_INLINE"] == "1" and env["BOKEH_RESOURCES"] == "inline"
    conf = json.loads((HUB_CONFIG / "singleuser" / "jupyter_server_config.d" / "satco2-terminal.json").read_text())
    shell = conf["ServerApp"]["terminado_settings"]["shell_command"]
    assert "-l" not in shell and "--login" not in shell
    if not shutil.which(shell[0]):
        pytest.skip(f"{shell[0]} is not installed")
    home = tmp_path / "home"
    home.mkdir()
    out = subprocess.run([*shell, "-c", "command -v satco2"], capture_output=True, text=True, timeout=30,
                         env={"HOME": str(home), "PATH": env["PATH"], "TERM": "dumb"}, stdin=subprocess.DEVNULL)
    assert out.stdout.strip().endswith("/satco2"), out.stderr[-300:]


def test_first_screen_shows_the_admin_password_only_on_a_terminal(tmp_path):
    hub = Hub(state_dir=tmp_path / "state", port=free_port(), root_mode=False, free_ports=True)
    hub.prepare()
    pw = (tmp_path / "state" / "admin_password").read_text().strip()
    assert hub.first_start and hub.admin_password == pw
    assert stat.S_IMODE((tmp_path / "state" / "admin_password").stat().st_mode) == 0o600
    assert f"admin password (shown once): {pw}" in hub.banner(show_password=True)
    quiet = hub.banner(show_password=False)
    assert pw not in quiet and "not shown" in quiet and str(hub.admin_password_file) in quiet
    # databases exist before the hub starts, 0600, and a second start keeps the password
    for name in state.DATABASES:
        assert stat.S_IMODE((tmp_path / "state" / name).stat().st_mode) == 0o600
    (tmp_path / "state" / "runtime.json").unlink()
    again = Hub(state_dir=tmp_path / "state", port=free_port(), root_mode=False, free_ports=True)
    again.prepare()
    assert again.admin_password == pw and not again.first_start
    assert pw not in again.banner(show_password=True)
