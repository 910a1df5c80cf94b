"""Dask Gateway on Slurm: dask-gateway's ``SlurmBackend`` driven by ``gateway.slurm`` in the settings.

Used by ``hub-config/dask_gateway_config.py`` (``gateway.backend: slurm``) and by the standalone HPC
gateway ``hub-config/hpc/dask_gateway_config.py``; both call :func:`configure`.

Every scheduler and every worker is one batch job submitted **as the user**: the gateway runs
``sudo -nHu <user> <launcher>`` (dask-gateway's ``dask-gateway-jobqueue-launcher``), which runs
``sbatch`` in the user's account, so Slurm's own accounting, limits and fair share apply to that
user. A gateway that is not root needs exactly one sudo rule (:func:`sudoers_rule`).

What :class:`SatCO2SlurmBackend` adds to upstream's ``SlurmBackend``:

- ``walltime`` (``sbatch --time``), which upstream has no option for: a site's partitions usually
  require one, and a job without it gets the partition's maximum;
- ``bind_host``: where schedulers and workers listen inside jobs (upstream hard-codes 0.0.0.0; a
  one-node test binds to loopback).
"""
from __future__ import annotations

import os
from pathlib import Path

SUDOERS_TEMPLATE = """\
# SatCO2 Hub: the Dask Gateway's account may run the job-queue launcher (sbatch/scancel through it)
# as a member of {group}, nothing else and never as root.
Defaults:{gateway_user} !requiretty
{gateway_user} ALL=({group_spec},!root) NOPASSWD: {launcher}
"""


def sudoers_rule(gateway_user: str, launcher: str, group: str = "satco2-users") -> str:
    """The one sudo rule a non-root gateway needs (a file for ``/etc/sudoers.d/``)."""
    if not os.path.isabs(launcher):
        raise ValueError("the launcher in a sudo rule must be an absolute path")
    return SUDOERS_TEMPLATE.format(gateway_user=gateway_user, launcher=launcher, group=group,
                                   group_spec=f"%{group}")


def launcher_for(python: str) -> str:
    """``dask-gateway-jobqueue-launcher`` beside ``python`` (the one users can run)."""
    return str(Path(python).parent / "dask-gateway-jobqueue-launcher")


def _classes():
    from dask_gateway_server.backends.jobqueue.slurm import SlurmBackend, SlurmClusterConfig
    from dask_gateway_server.traitlets import Type
    from traitlets import Unicode

    class SatCO2SlurmClusterConfig(SlurmClusterConfig):
        """``SlurmClusterConfig`` plus ``walltime``."""

        walltime = Unicode("", help="sbatch --time of every scheduler and worker job ('' = the "
                                    "partition's default), [D-]HH[:MM[:SS]].", config=True)

    class SatCO2SlurmBackend(SlurmBackend):
        """``SlurmBackend`` with ``walltime`` and a configurable listening address (module docstring)."""

        cluster_config_class = Type(
            SatCO2SlurmClusterConfig, klass="dask_gateway_server.backends.base.ClusterConfig",
            help="The cluster config class to use", config=True)

        bind_host = Unicode("0.0.0.0", help="Address schedulers and workers listen on inside jobs.",
                            config=True)

        @property
        def default_host(self):  # upstream: a class attribute "0.0.0.0"
            return self.bind_host

        def get_submit_cmd_env_stdin(self, cluster, worker=None):
            cmd, env, script = super().get_submit_cmd_env_stdin(cluster, worker)
            walltime = cluster.config.get("walltime")
            if walltime:
                cmd.insert(2, f"--time={walltime}")
            return cmd, env, script

    return SatCO2SlurmBackend


_CACHE = {}


def backend_class():
    """:class:`SatCO2SlurmBackend` (built lazily: dask_gateway_server lives in the gateway only)."""
    if "backend" not in _CACHE:
        _CACHE["backend"] = _classes()
    return _CACHE["backend"]


def __getattr__(name):
    if name == "SatCO2SlurmBackend":
        return backend_class()
    raise AttributeError(name)


def configure(c, settings: dict, python: str, launcher: str | None = None) -> None:
    """Set the Slurm part of a gateway's traitlets config ``c`` from ``gateway.slurm``.

    ``python`` runs schedulers and workers (``gateway.slurm.python`` wins when set); ``launcher``
    defaults to the one beside the hub's user python. Options, limits and the idle timeout are
    set by the caller (the same as for the local backend).
    """
    s = dict(settings["gateway"].get("slurm") or {})
    job_python = s.get("python") or python
    commands = s.get("commands_dir") or "/usr/bin"
    B = "SatCO2SlurmBackend"
    c[B].submit_command = f"{commands}/sbatch"
    c[B].cancel_command = f"{commands}/scancel"
    c[B].status_command = f"{commands}/squeue"
    c[B].dask_gateway_jobqueue_launcher = launcher or launcher_for(python)
    c[B].bind_host = s.get("bind_host") or "0.0.0.0"
    C = "SatCO2SlurmClusterConfig"
    c[C].partition = s.get("partition", "")
    c[C].account = s.get("account", "")
    c[C].qos = s.get("qos", "")
    c[C].walltime = s.get("walltime", "")
    c[C].staging_directory = s.get("staging_directory") or "{home}/.dask-gateway/"
    c[C].scheduler_setup = s.get("setup", "")
    c[C].worker_setup = s.get("setup", "")
    c[C].scheduler_cmd = [job_python, "-m", "dask", "scheduler"]
    c[C].worker_cmd = [job_python, "-m", "dask", "worker"]
