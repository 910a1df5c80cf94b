"""JupyterHub configuration of the local SatCO2 Hub (started by `satco2 up`).

Declarative: every value comes from hub-config/settings.yaml through the runtime file that
`satco2 up` writes for each start (satco2.hub.runtime); Python appears only as small named snippets
from satco2.hub.hooks. Read hub-config/README.md for the why of each choice.
"""
import json
import os
from pathlib import Path

from satco2.hub import hooks, runtime

rt = runtime.load()  # $SATCO2_HUB_RUNTIME, written by `satco2 up`
S = rt.settings
state = rt.state_dir
bin_ = str(rt.venv_bin)
c = get_config()  # noqa: F821 (provided by traitlets when JupyterHub loads this file)

# --- network: the public proxy listens on loopback only; everything internal on 127.0.0.1 -------
c.JupyterHub.ip = rt.ip
c.JupyterHub.port = rt.port
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = rt.ports["hub_api"]
c.JupyterHub.proxy_class = "configurable-http-proxy"
c.ConfigurableHTTPProxy.command = [rt.chp]  # npm proxy: the PyPI port drops WebSocket subprotocols
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{rt.ports['proxy_api']}"
c.ConfigurableHTTPProxy.auth_token = rt.secret("proxy_auth_token")
c.ConfigurableHTTPProxy.should_start = True
c.ConfigurableHTTPProxy.pid_file = f"{state}/proxy.pid"

# --- state: one directory, secrets 0600 ----------------------------------------------------------
c.JupyterHub.db_url = f"sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{state}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = f"{state}/jupyterhub.pid"
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every single-user server
c.JupyterHub.cleanup_proxy = True

# --- authentication: NativeAuthenticator (sign-up + admin approval), pinned with JupyterHub 5.5, ----
# hardened by satco2.hub.auth (back-off, constant-cost checks, bcrypt off the event loop, reserved names)
login = S["hub"].get("login", {})
c.JupyterHub.authenticator_class = "satco2.hub.auth.SatCO2Authenticator"
c.NativeAuthenticator.enable_signup = S["hub"].get("open_signup", True)
c.NativeAuthenticator.open_signup = False  # every new account waits for an admin's approval
c.NativeAuthenticator.minimum_password_length = S["hub"].get("minimum_password_length", 10)
c.NativeAuthenticator.check_common_password = True
c.Authenticator.admin_users = {S["hub"]["admin_user"]}
c.Authenticator.allow_all = True  # NativeAuthenticator only lets approved accounts log in
c.SatCO2Authenticator.admin_password_file = f"{state}/admin_password"  # written by the launcher
c.SatCO2Authenticator.max_failures = login.get("max_failures", 5)
c.SatCO2Authenticator.backoff_seconds = login.get("backoff_seconds", 30)
c.SatCO2Authenticator.max_backoff_seconds = login.get("max_backoff_seconds", 3600)
c.SatCO2Authenticator.hash_threads = login.get("hash_threads", 2)
c.SatCO2Authenticator.reserve_system_accounts = login.get("reserve_system_accounts", True)
c.SatCO2Authenticator.reserved_usernames = {  # the project's author names and the services' names
    *login.get("reserved_usernames", []), "dask-gateway", "idle-culler", *S["services"]}

# --- pages: the hub's name and what it is on the login and sign-up pages (hub-config/templates) ---
c.JupyterHub.template_paths = [str(rt.hub_config_dir / "templates")]

# --- single-user servers --------------------------------------------------------------------------
# JupyterHub's local spawners, returning as soon as the server answers (satco2.hub.spawner).
# The hub records each server's start and stop in the usage ledger, beside the gateway's clusters
# (satco2.usage; hub admins see it at /services/dashboards/usage).
ledger = f"{state}/usage.jsonl"
if rt.root_mode:
    c.JupyterHub.spawner_class = "satco2.hub.spawner.LocalProcessSpawner"  # each hub user: own system user
    c.Spawner.pre_spawn_hook, c.Spawner.post_stop_hook = hooks.server_usage(ledger, S, hooks.pre_spawn_root)
    c.LocalProcessSpawner.notebook_dir = "~"
else:
    c.JupyterHub.spawner_class = "satco2.hub.spawner.SimpleLocalProcessSpawner"  # one OS account
    c.SimpleLocalProcessSpawner.home_dir_template = f"{state}/users/{{username}}"
    c.Spawner.pre_spawn_hook, c.Spawner.post_stop_hook = hooks.server_usage(ledger, S, hooks.pre_spawn_single)
    c.JupyterHub.template_vars = {"announcement": hooks.single_account_banner()}
    if os.geteuid() == 0:  # single-account mode started by root: servers run as root too
        c.Spawner.args = ["--allow-root"]
c.Spawner.cmd = [rt.user_python, "-m", "jupyterhub.singleuser"]  # runnable by every user
c.Spawner.default_url = S["hub"].get("default_url", "/lab")
c.Spawner.start_timeout = S["hub"].get("spawn_timeout", 60)
c.Spawner.http_timeout = S["hub"].get("spawn_timeout", 60)
gateway_url = f"http://127.0.0.1:{rt.port}/services/dask-gateway"
gateway_env = {  # how a user's kernel (and a scheduled run, with its owner's token) reaches the gateway
    "DASK_GATEWAY__ADDRESS": gateway_url,
    "DASK_GATEWAY__PROXY_ADDRESS": f"gateway://127.0.0.1:{rt.ports['gateway_tcp']}",
    "DASK_GATEWAY__PUBLIC_ADDRESS": "/services/dask-gateway",
    "DASK_GATEWAY__AUTH__TYPE": "jupyterhub",
}
c.Spawner.environment = {
    **rt.env,
    "PATH": f"{Path(rt.user_python).parent}:{bin_}:/usr/local/bin:/usr/bin:/bin",
    # busy kernels count as activity (hub-config/singleuser); the venv's own Jupyter config and data
    # (JupyterLab, dask-labextension, ipywidgets, panel), also when rt.user_python is a shim venv
    "JUPYTER_CONFIG_PATH": f"{rt.hub_config_dir / 'singleuser'}:{rt.venv_prefix}/etc/jupyter",
    "JUPYTER_PATH": f"{rt.venv_prefix}/share/jupyter",
    **gateway_env,
    "DASK_LABEXTENSION__FACTORY__MODULE": "dask_gateway",
    "DASK_LABEXTENSION__FACTORY__CLASS": "GatewayCluster",
    # offline-first plots: Panel/HoloViews/hvplot/Bokeh outputs carry their JavaScript and CSS
    # inline instead of loading them from a CDN (hubs often have no internet)
    "PANEL_INLINE": "1",
    "BOKEH_RESOURCES": "inline",
}
user_services = ["dask-gateway"] + [n for n in rt.services if S["services"][n].get("user_access")]
access = [f"access:services!service={n}" for n in user_services]
c.Spawner.server_token_scopes = ["users:activity!user", "access:servers!server", *access]

# --- roles: users reach their own server and the services; each service holds only what it uses --
c.JupyterHub.load_roles = [
    {"name": "user", "scopes": ["self", *access]},
    {"name": "idle-culler", "services": ["idle-culler"],
     "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]},
    *[{"name": f"service-{n}", "services": [n], "scopes": S["services"][n]["scopes"]}
      for n in rt.services if S["services"][n].get("scopes")],
]

# --- managed services: gateway, idle culler, and the project's services when installed ----------
supervise = [rt.python, "-m", "satco2.hub.supervise"]  # logs and restarts a crashed service
svc_env = {**rt.env, "SATCO2_HUB_RUNTIME": f"{state}/runtime.json", "SATCO2_STATE_DIR": state,
           "PATH": f"{bin_}:/usr/bin:/bin"}
services = [
    {
        "name": "dask-gateway",
        "url": f"http://127.0.0.1:{rt.ports['gateway_http']}",
        "command": [*supervise, "dask-gateway", "--port", str(rt.ports["gateway_http"]), "--",
                    f"{bin_}/dask-gateway-server",
                    "-f", str(rt.hub_config_dir / "dask_gateway_config.py")],
        "environment": svc_env,
        "cwd": state,
        "display": False,
    },
]
cull = S["culling"]["servers"]
if cull["enabled"]:
    services.append({
        "name": "idle-culler",
        "command": [rt.python, "-m", "jupyterhub_idle_culler", f"--timeout={cull['timeout']}",
                    f"--cull-every={cull.get('every', 0)}", f"--max-age={cull.get('max_age', 0)}",
                    *(["--cull-users"] if cull.get("cull_users") else [])],
    })
# The project's services read files users write (reports): in root mode they run as the unprivileged
# service account (satco2.hub.privileges), with an interpreter every account can run, in their own
# state folder; never as root.
svc_state = rt.env["SATCO2_SERVICE_STATE_DIR"]
svc_python = rt.user_python if rt.root_mode else rt.python
for name, module in rt.services.items():
    spec = S["services"][name]
    services.append({
        "name": name,
        "url": f"http://127.0.0.1:{rt.ports[name]}",
        "command": [svc_python, "-m", "satco2.hub.supervise", name, "--port", str(rt.ports[name]), "--",
                    svc_python, "-m", module],
        # numba (datashader) caches compiled kernels beside its sources, which the service account
        # cannot write: its own cache instead
        "environment": {**svc_env, "HOME": svc_state, "NUMBA_CACHE_DIR": f"{svc_state}/numba-cache",
                        # the scheduler hands it to each run, with a token of the run's owner
                        **(gateway_env if name == "scheduler" else {}),
                        **({"SATCO2_SCHEDULER_MAX_PER_USER": str(S["scheduler"]["max_schedules_per_user"]),
                            "SATCO2_SCHEDULER_MIN_INTERVAL": str(S["scheduler"]["min_interval_seconds"])}
                           if name == "scheduler" else {}),
                        **({"SATCO2_DASHBOARDS_MAX_LIVE": str(S["viewers"]["max_live_sessions"]),
                            "SATCO2_DASHBOARDS_IDLE_SECONDS": str(S["viewers"]["session_idle_seconds"]),
                            # the admins' usage page: the ledger and the quotas of this start
                            "SATCO2_USAGE_LEDGER": ledger,
                            "SATCO2_USAGE_SETTINGS": json.dumps(S.get("usage") or {})}
                           if name == "dashboards" else {})},
        "cwd": svc_state,
        **({"user": hooks.SERVICE_ACCOUNT} if rt.root_mode else {}),
        "oauth_no_confirm": spec.get("oauth_no_confirm", True),
    })
c.JupyterHub.services = services
