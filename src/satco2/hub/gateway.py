"""Dask Gateway pieces built from the hub settings (used by ``hub-config/*dask_gateway_config.py``).

User-facing cluster options (bounded, ``gateway.cluster_options`` in settings):

- ``worker_cores`` (int, cores per worker)
- ``worker_memory`` (float, GiB per worker)
- ``n_workers`` (int, workers the client scales to at creation; the server caps scaling at the
  user's ``cluster_max_workers``)

Per-user limits (``gateway.limits``): ``cluster_max_workers``, ``cluster_max_cores``,
``cluster_max_memory_gib`` — dask-gateway's ``ClusterConfig.cluster_max_*``.
"""
from __future__ import annotations

from .settings import user_limits

GiB = 2**30


def cluster_options(settings: dict):
    """A callable ``user -> dask_gateway_server.options.Options`` for ``c.Backend.cluster_options``.

    Bounds come from the settings; the handler turns GiB into bytes and applies the user's limits.
    """
    from dask_gateway_server.options import Float, Integer, Options

    opts = settings["gateway"]["cluster_options"]

    def handler(options, user):
        lim = user_limits(settings, user.name)
        return {
            "worker_cores": options.worker_cores,
            "worker_memory": int(options.worker_memory * GiB),
            "cluster_max_workers": lim["cluster_max_workers"],
            "cluster_max_cores": lim["cluster_max_cores"],
            "cluster_max_memory": int(lim["cluster_max_memory_gib"] * GiB),
        }

    def for_user(user):
        lim = user_limits(settings, user.name)
        n = opts["n_workers"]
        return Options(
            Integer("worker_cores", default=opts["worker_cores"]["default"],
                    min=opts["worker_cores"]["min"], max=opts["worker_cores"]["max"],
                    label="Cores per worker"),
            Float("worker_memory", default=float(opts["worker_memory"]["default"]),
                  min=float(opts["worker_memory"]["min"]), max=float(opts["worker_memory"]["max"]),
                  label="Memory per worker (GiB)"),
            Integer("n_workers", default=min(n["default"], lim["cluster_max_workers"]),
                    min=n["min"], max=min(n["max"], lim["cluster_max_workers"]),
                    label="Number of workers"),
            handler=handler,
        )

    return for_user


def _local_backend():
    from dask_gateway_server.backends.local import LocalBackend

    class IsolatedLocalBackend(LocalBackend):
        """dask-gateway's ``LocalBackend`` (clusters run as the requesting system user) with its
        working-directory setup fixed: 2026.3.0 calls ``paths.extend(path)`` on the TLS file
        paths, so ``chown`` is attempted on single characters and every cluster fails to start
        (``FileNotFoundError: 't'``). Same behaviour otherwise: a 0700 working directory owned by
        the user holding the cluster's TLS certificate and key (0600) and its logs.
        """

        def setup_working_directory(self, cluster):  # mirrors the upstream method, fixed
            import os
            import tempfile

            if self.clusters_directory:
                workdir = os.path.join(self.clusters_directory, cluster.name)
            else:
                workdir = tempfile.mkdtemp(prefix="dask", suffix=cluster.name)
            certsdir = self.get_certs_directory(workdir)
            logsdir = self.get_logs_directory(workdir)
            paths = [workdir, certsdir, logsdir]
            for path in paths:
                os.makedirs(path, 0o700, exist_ok=True)
            cert_path, key_path = self._get_tls_paths(workdir)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
            for path, data in [(cert_path, cluster.tls_cert), (key_path, cluster.tls_key)]:
                with os.fdopen(os.open(path, flags, 0o600), "wb") as fil:
                    fil.write(data)
                paths.append(path)
            self.set_file_permissions(paths, cluster.username)
            self.log.debug("Working directory %s for cluster %s created", workdir, cluster.name)
            return workdir

    return IsolatedLocalBackend


def __getattr__(name):  # lazy: dask_gateway_server is imported only by the gateway process
    if name == "IsolatedLocalBackend":
        return _local_backend()
    raise AttributeError(name)
