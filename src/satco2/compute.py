"""The one call notebooks use to get a Dask client: :func:`get_client`.

Inside the hub (``JUPYTERHUB_API_TOKEN`` and ``DASK_GATEWAY__ADDRESS`` set by the spawner) it
returns a client of the user's own Dask Gateway cluster, reusing a running one or creating one
(a scheduled run, which the scheduler starts with a token of its owner and
``SATCO2_NEW_CLUSTER=1``, always creates its own); outside the hub a ``distributed.LocalCluster``
in this process. Options and their bounds are the
gateway's cluster options (``gateway.cluster_options`` in ``hub-config/settings.yaml``):

- ``worker_cores`` (int): cores per worker
- ``worker_memory`` (float): memory per worker, GiB
- ``n_workers`` (int): number of workers to scale to

A value outside its bounds raises :class:`satco2.SatCO2Error` before anything starts. The
dashboard link is printed and kept on the client (``client.dashboard_link``).
"""
from __future__ import annotations


from . import SatCO2Error, config
from .hub import settings as hub_settings

OPTIONS = ("worker_cores", "worker_memory", "n_workers")


def in_hub() -> bool:
    """True inside a hub user's server (or a process with its environment)."""
    return bool(config.env("JUPYTERHUB_API_TOKEN") and config.env("DASK_GATEWAY__ADDRESS"))


def _local_bounds() -> dict:
    """Option bounds from the hub settings (the same numbers the gateway enforces)."""
    return hub_settings.load()["gateway"]["cluster_options"]


def check_options(options: dict, bounds: dict) -> dict:
    """Validate ``options`` against ``{name: {min, max, default}}``; return them with defaults."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise SatCO2Error(
            f"unknown cluster option {unknown[0]!r}; the options are {', '.join(OPTIONS)}."
        )
    out = {}
    for name in OPTIONS:
        b = bounds[name]
        value = options.get(name)
        if value is None:
            value = b["default"]
        kind = float if name == "worker_memory" else int
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            kind is int and not float(value).is_integer()
        ):
            raise SatCO2Error(f"cluster option {name} must be a number, got {value!r}.")
        value = kind(value)
        if not b["min"] <= value <= b["max"]:
            raise SatCO2Error(
                f"cluster option {name}={value} is outside the allowed range "
                f"{b['min']}..{b['max']} on this hub."
            )
        out[name] = value
    return out


def _announce(client, link: str):
    """Keep the dashboard link on the client; print it, except in a ``satco2 run``, whose log and
    executed notebook other hub users can read (the link is a capability to the cluster's
    dashboard: docs/hub.md)."""
    client.satco2_dashboard_link = link
    if config.env("SATCO2_RUN_DIR"):
        print("Dask cluster ready (its dashboard link is not written into the shared report; "
              "client.satco2_dashboard_link has it).")
    else:
        print(f"Dask dashboard: {link}")
    return client


SIZE_OPTIONS = ("worker_cores", "worker_memory")  # fixed when a cluster starts; n_workers only rescales


def size_mismatch(requested: dict, running: dict) -> dict:
    """``{name: (running, requested)}`` of the worker-size options given explicitly in ``requested``
    that a running cluster's ``running`` options do not match."""
    out = {}
    for name in SIZE_OPTIONS:
        if name in requested and name in running and float(running[name]) != float(requested[name]):
            out[name] = (running[name], requested[name])
    return out


def _gateway_client(options: dict, new: bool):
    from dask_gateway import Gateway
    from dask_gateway.client import ClusterStatus

    gateway = Gateway()
    spec = gateway.cluster_options()
    bounds = {
        name: {"min": spec._fields[name].min, "max": spec._fields[name].max,
               "default": spec._fields[name].value}
        for name in OPTIONS if name in spec._fields
    }
    if set(bounds) != set(OPTIONS):
        raise SatCO2Error("this hub's Dask Gateway does not offer worker_cores, worker_memory and n_workers.")
    opts = check_options(options, bounds)
    running = [] if new else [c for c in gateway.list_clusters() if c.status == ClusterStatus.RUNNING]
    diff = size_mismatch(options, running[0].options or {}) if running else {}
    if diff:  # reusing it would silently ignore the worker size asked for: start one of that size
        print(f"Your running Dask cluster {running[0].name} has "
              + ", ".join(f"{k}={a}" for k, (a, _) in diff.items()) + "; starting a new cluster with "
              + ", ".join(f"{k}={b}" for k, (_, b) in diff.items())
              + " (the old one keeps running until you shut it down or it is culled).")
        running = []
    if running:
        cluster = gateway.connect(running[0].name)
    else:
        cluster = gateway.new_cluster(**opts)
    cluster.scale(opts["n_workers"])
    client = cluster.get_client()
    link = cluster.dashboard_link
    if link.startswith("/"):
        link = config.env("SATCO2_HUB_URL", "").rstrip("/") + link
    return _announce(client, link)


def _local_client(options: dict):
    from distributed import Client, LocalCluster

    opts = check_options(options, _local_bounds())
    # In-process workers share this process's memory: a per-worker limit would be compared with
    # the whole process's RSS (a kernel holding a few GB of data) and pause every worker, so the
    # computation would wait forever. worker_memory is enforced on gateway clusters only.
    cluster = LocalCluster(
        n_workers=max(opts["n_workers"], 1),
        threads_per_worker=opts["worker_cores"],
        memory_limit=0,
        processes=False,
        dashboard_address="127.0.0.1:0",
    )
    client = Client(cluster)
    port = cluster.scheduler.http_server.port  # the dashboard listens on loopback only
    return _announce(client, f"http://127.0.0.1:{port}/status")


def get_client(worker_cores: int | None = None, worker_memory: float | None = None,
               n_workers: int | None = None, *, new: bool = False, **unknown):
    """A ``distributed.Client`` on the user's gateway cluster (in the hub) or a LocalCluster.

    Parameters
    ----------
    worker_cores : int, optional
        Cores per worker (gateway default when omitted).
    worker_memory : float, optional
        Memory per worker in GiB.
    n_workers : int, optional
        Workers to scale the cluster to.
    new : bool
        In the hub, start a new cluster even when one is running (default: reuse it and rescale
        it to ``n_workers``; when ``worker_cores`` or ``worker_memory`` are given and differ from
        the running cluster's, a new cluster of that size is started and a line says so).

    Raises
    ------
    SatCO2Error
        An unknown option or a value outside the hub's bounds.
    """
    options = {k: v for k, v in
               {"worker_cores": worker_cores, "worker_memory": worker_memory, "n_workers": n_workers}.items()
               if v is not None}
    options.update(unknown)
    if in_hub():
        # a scheduled run (SATCO2_NEW_CLUSTER=1) gets a cluster of its own, shut down when it ends,
        # rather than rescaling the owner's interactive one
        return _gateway_client(options, new or config.env("SATCO2_NEW_CLUSTER") == "1")
    return _local_client(options)
