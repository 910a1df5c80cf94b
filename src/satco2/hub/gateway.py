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

from .. import usage as _usage
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


def with_usage(base):
    """``base`` (a dask-gateway ``DBBackendBase`` subclass) that records usage and enforces quotas.

    - records a ``start``/``stop`` event per scheduler and per worker (cores and GiB from the
      cluster's config) in the usage ledger, and a ``boot`` at every gateway start
      (:mod:`satco2.usage`): the gateway records, not the user's processes;
    - refuses to create a cluster, or to scale one, beyond the user's quota
      (``usage.quotas``: ``max_concurrent_cores``, ``monthly_core_hours``; both count the user's
      running server too, as the hub recorded it in the same ledger) with one sentence;
      adaptive scaling is capped at the quota instead (the scheduler asks, nobody to answer).

    Configured by one trait, ``satco2_usage = {"ledger": path, "settings": {...}}`` (the hub
    settings; only ``usage`` is read). Without a ledger nothing is recorded.
    """
    from dask_gateway_server.models import User  # noqa: F401 (import check: gateway process only)
    from dask_gateway_server.utils import FrozenAttrDict  # noqa: F401
    from traitlets import Dict

    def _public(msg):
        from dask_gateway_server.backends.base import PublicException

        return PublicException(msg)

    def _cores(config, workers):
        return float(config.get("scheduler_cores", 1)) + workers * float(config.get("worker_cores", 1))

    class UsageBackend(base):
        satco2_usage = Dict(help="{'ledger': path of the usage ledger, 'settings': hub settings}",
                            config=True)

        # --- records ------------------------------------------------------------------------
        def _record(self, ev, kind, user=None, id=None, cores=None, memory=None):
            ledger = self.satco2_usage.get("ledger")
            if not ledger:
                return
            try:
                _usage.record(ledger, ev, kind, user=user, id=id, cores=cores,
                              memory_gib=None if memory is None else float(memory) / GiB)
            except OSError as e:  # accounting must never take a cluster down
                self.log.warning("usage ledger %s: %s", ledger, e)

        async def setup(self, app):
            await super().setup(app)
            self._record("boot", "gateway")

        async def do_start_cluster(self, cluster):
            async for state in super().do_start_cluster(cluster):
                yield state
            self._record("start", "scheduler", cluster.username, cluster.name,
                         cluster.config.get("scheduler_cores", 1), cluster.config.get("scheduler_memory", 0))

        async def do_stop_cluster(self, cluster):
            try:
                await super().do_stop_cluster(cluster)
            finally:
                self._record("stop", "scheduler", cluster.username, cluster.name)

        async def do_start_worker(self, worker):
            async for state in super().do_start_worker(worker):
                yield state
            c = worker.cluster
            self._record("start", "worker", c.username, f"{c.name}/{worker.name}",
                         c.config.get("worker_cores", 1), c.config.get("worker_memory", 0))

        async def do_stop_worker(self, worker):
            try:
                await super().do_stop_worker(worker)
            finally:
                self._record("stop", "worker", worker.cluster.username, f"{worker.cluster.name}/{worker.name}")

        # --- quotas -------------------------------------------------------------------------
        def _events(self):
            ledger = self.satco2_usage.get("ledger")
            return _usage.read(ledger) if ledger else []

        def _user_cores(self, username, but=None, events=None):
            """Cores the user holds: the running server(s) the hub recorded in the ledger, and the
            active clusters (held or asked for; ``but`` one cluster)."""
            total = _usage.running_cores(self._events() if events is None else events, username)
            for cl in self.db.list_clusters(username=username):
                if cl.name != but:
                    total += _cores(cl.config, max(cl.count, len(cl.active_workers())))
            return total

        def _check(self, username, before, after, events):
            settings = self.satco2_usage.get("settings") or {}
            used = _usage.core_hours_this_month(events, username)
            try:
                _usage.check_quota(settings, username, after, before, used)
            except _usage.QuotaExceeded as e:
                self.log.info("quota: %s", e)
                raise _public(str(e)) from None

        async def start_cluster(self, user, cluster_options):
            _, config = await self.process_cluster_options(user, cluster_options)
            events = self._events()
            before = self._user_cores(user.name, events=events)
            self._check(user.name, before, before + _cores(config.to_dict(), 0), events)
            return await super().start_cluster(user, cluster_options)

        async def forward_message_to_scheduler(self, cluster, msg):
            db_cluster = self.db.get_cluster(cluster.name)  # ``cluster`` is the API model
            if msg.get("op") == "scale" and db_cluster is not None:
                count = int(msg.get("count", 0))
                limit = db_cluster.config.get("cluster_max_workers")
                if limit is not None:
                    count = min(count, limit)
                events = self._events()
                others = self._user_cores(cluster.username, but=cluster.name, events=events)
                held = max(db_cluster.count, len(db_cluster.active_workers()))
                self._check(cluster.username, others + _cores(db_cluster.config, held),
                            others + _cores(db_cluster.config, count), events)
            return await super().forward_message_to_scheduler(cluster, msg)

        async def on_cluster_heartbeat(self, cluster_name, msg):
            cluster = self.db.get_cluster(cluster_name)
            if cluster is not None and msg.get("count", 0) > cluster.count:
                q = _usage.user_quota(self.satco2_usage.get("settings") or {}, cluster.username)
                if q["max_concurrent_cores"] is not None:
                    room = q["max_concurrent_cores"] - self._user_cores(cluster.username, but=cluster_name) \
                        - _cores(cluster.config, 0)
                    allowed = max(cluster.count, int(room // float(cluster.config.get("worker_cores", 1))))
                    if msg["count"] > allowed:
                        self.log.info("quota: cluster %s asked for %d workers, capped at %d",
                                      cluster_name, msg["count"], allowed)
                        msg = {**msg, "count": allowed}
            return await super().on_cluster_heartbeat(cluster_name, msg)

    UsageBackend.__name__ = UsageBackend.__qualname__ = f"Usage{base.__name__}"
    return UsageBackend


#: thread pools a worker's libraries start with one thread per core of the *machine* unless told:
#: distributed caps the BLAS/OpenMP ones for its own workers' tasks but not numba's (the trend and
#: flux kernels), so a 1-core gateway worker on a many-core node would run them on every core
THREAD_VARIABLES = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def with_thread_caps(base):
    """``base`` (a dask-gateway backend) whose workers' thread pools are sized to the cores the
    cluster asked for (``worker_cores``; :data:`THREAD_VARIABLES`), not to the node."""

    class ThreadCappedBackend(base):
        def get_worker_env(self, cluster):
            env = super().get_worker_env(cluster)
            n = str(max(1, int(float(cluster.config.get("worker_cores", 1)))))
            for k in THREAD_VARIABLES:
                env.setdefault(k, n)
            return env

    ThreadCappedBackend.__name__ = ThreadCappedBackend.__qualname__ = f"ThreadCapped{base.__name__}"
    return ThreadCappedBackend


def backend_class(settings: dict, root_mode: bool):
    """The gateway backend class for ``gateway.backend`` (usage recording and quotas included,
    workers' threads capped at their cores)."""
    kind = settings["gateway"].get("backend", "local")
    if kind == "slurm":
        from .slurm import backend_class as slurm_backend

        return with_usage(with_thread_caps(slurm_backend()))
    if root_mode:
        return with_usage(with_thread_caps(_local_backend()))
    from dask_gateway_server.backends.local import UnsafeLocalBackend

    return with_usage(with_thread_caps(UnsafeLocalBackend))


def __getattr__(name):  # lazy: dask_gateway_server is imported only by the gateway process
    if name == "IsolatedLocalBackend":
        return _local_backend()
    raise AttributeError(name)
