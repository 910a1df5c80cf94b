"""Dask Gateway configuration of the local SatCO2 Hub (a hub-managed service started by `satco2 up`).

Declarative: values come from hub-config/settings.yaml through the runtime file of this start
(satco2.hub.runtime); the cluster options and per-user limits are built by satco2.hub.gateway.
"""
from satco2.hub import gateway, runtime, slurm

rt = runtime.load()  # $SATCO2_HUB_RUNTIME, passed by the hub to this service
S = rt.settings
G = S["gateway"]
bin_ = str(rt.venv_bin)
c = get_config()  # noqa: F821 (provided by traitlets)

# --- authentication through the hub: tokens need access:services!service=dask-gateway ------------
c.DaskGateway.authenticator_class = "dask_gateway_server.auth.JupyterHubAuthenticator"
c.DaskGateway.address = "127.0.0.1:0"  # private API, reached only through the gateway's own proxy

# --- proxy: HTTP (API + dashboards) behind the hub at /services/dask-gateway; TCP for schedulers ---
c.Proxy.address = f"127.0.0.1:{rt.ports['gateway_http']}"
c.Proxy.tcp_address = f"127.0.0.1:{rt.ports['gateway_tcp']}"
c.Proxy.prefix = "/services/dask-gateway"

# --- backend: real system users in root mode, one shared account otherwise; or the site's Slurm ----
# (gateway.backend). Every backend records usage and enforces the usage quotas (satco2.hub.gateway).
c.DaskGateway.backend_class = gateway.backend_class(S, rt.root_mode)
c.DBBackendBase.db_url = f"sqlite:///{rt.state_dir}/dask-gateway.sqlite"
c.DBBackendBase.db_encrypt_keys = [rt.secret("gateway_db_key")]
c.DBBackendBase.stop_clusters_on_shutdown = True
c.Backend.cluster_options = gateway.cluster_options(S)
c.Backend.satco2_usage = {"ledger": f"{rt.state_dir}/usage.jsonl", "settings": S}

# --- every cluster: distributed 2026 ships `dask scheduler` / `dask worker`, not dask-scheduler ----
py = rt.user_python  # runnable by every system user (satco2.hub.userpython)
c.ClusterConfig.scheduler_cmd = [py, "-m", "dask", "scheduler"]
c.ClusterConfig.worker_cmd = [py, "-m", "dask", "worker"]
c.ClusterConfig.scheduler_memory = int(G.get("scheduler_memory_gib", 1.0) * gateway.GiB)
c.ClusterConfig.idle_timeout = float(G["idle_timeout"])  # no client activity -> cluster shut down
c.ClusterConfig.cluster_max_workers = G["limits"]["default"]["cluster_max_workers"]
c.ClusterConfig.cluster_max_cores = G["limits"]["default"]["cluster_max_cores"]
c.ClusterConfig.cluster_max_memory = int(G["limits"]["default"]["cluster_max_memory_gib"] * gateway.GiB)
c.ClusterConfig.environment = {k: v for k, v in rt.env.items() if k.startswith("SATCO2_")}
if G.get("backend") == "slurm":  # sbatch as the user through sudo + the job-queue launcher
    slurm.configure(c, S, python=py)
