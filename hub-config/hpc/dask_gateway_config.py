"""Dask Gateway on an HPC cluster (Slurm; PBS below): the HPC rendering of hub-config/settings.yaml.

Runs on a login node as a standalone gateway (root, as dask-gateway's job-queue backends require,
so jobs are submitted as each user) behind an existing JupyterHub: set JUPYTERHUB_API_URL and
JUPYTERHUB_API_TOKEN (a hub service token) in its environment. Cluster options, per-user limits and
the idle timeout are the same settings as the local hub's (satco2.hub.gateway).

Site-specific values come from the environment, never from copies of the settings (settings
hpc-* of satco2.config, merged over gateway.slurm by settings.load): SATCO2_HPC_PARTITION,
SATCO2_HPC_ACCOUNT, SATCO2_HPC_QOS, SATCO2_HPC_PYTHON (a python with the project environment on the
compute nodes), SATCO2_HPC_SCHEDULER=slurm|pbs.
Checked by tests/hub/test_configs.py (the traitlets config loads and every key is a real trait).
"""
import os

from satco2 import config
from satco2.hub import gateway, settings, slurm

S = settings.load()
G = S["gateway"]
c = get_config()  # noqa: F821 (provided by traitlets)

python = S["gateway"]["slurm"].get("python") or "python3"
scheduler = config.get("hpc-scheduler")

# --- authentication through the site's JupyterHub (service scopes, as in the local hub) ----------
c.DaskGateway.authenticator_class = "dask_gateway_server.auth.JupyterHubAuthenticator"
c.Proxy.prefix = "/services/dask-gateway"

# --- backend: one batch job per scheduler and per worker, submitted as the requesting user -------
# (sudo -nHu <user> dask-gateway-jobqueue-launcher; a non-root gateway needs the one rule from
# satco2.hub.slurm.sudoers_rule). Usage is recorded and quotas enforced as in the local hub.
state = str(config.state_dir()) if config.lookup("state-dir")[1] != "default" else os.getcwd()
if scheduler == "pbs":
    c.DaskGateway.backend_class = gateway.with_usage(
        __import__("dask_gateway_server.backends.jobqueue.pbs", fromlist=["PBSBackend"]).PBSBackend)
    c.PBSClusterConfig.queue = S["gateway"]["slurm"].get("partition", "")
    c.PBSClusterConfig.account = S["gateway"]["slurm"].get("account", "")
    c.JobQueueClusterConfig.scheduler_cmd = [python, "-m", "dask", "scheduler"]
    c.JobQueueClusterConfig.worker_cmd = [python, "-m", "dask", "worker"]
else:
    c.DaskGateway.backend_class = gateway.with_usage(slurm.backend_class())
    slurm.configure(c, S, python=python)
c.Backend.satco2_usage = {"ledger": f"{state}/usage.jsonl", "settings": S}
c.JobQueueBackend.cluster_options = gateway.cluster_options(S)
c.JobQueueClusterConfig.idle_timeout = float(G["idle_timeout"])
c.JobQueueClusterConfig.cluster_max_workers = G["limits"]["default"]["cluster_max_workers"]
c.JobQueueClusterConfig.cluster_max_cores = G["limits"]["default"]["cluster_max_cores"]
c.JobQueueClusterConfig.cluster_max_memory = int(G["limits"]["default"]["cluster_max_memory_gib"] * gateway.GiB)
c.JobQueueClusterConfig.scheduler_memory = int(G.get("scheduler_memory_gib", 1.0) * gateway.GiB)
