"""satco2.compute outside the hub (LocalCluster); the in-hub path runs in tests/hub/test_hub.py."""
from __future__ import annotations

import numpy as np
import pytest
import requests
import xarray as xr

from satco2 import SatCO2Error, compute


def test_local_client_computes_and_links_dashboard(monkeypatch, capsys):
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    client = compute.get_client(n_workers=2, worker_cores=1)
    try:
        assert len(client.scheduler_info()["workers"]) == 2
        # the kernel's own memory (here: this test process, RSS well above the 1 GiB worker_memory
        # default) must not pause the in-process workers
        ballast = np.ones(160 * 2**20)  # 1.25 GB held by the "kernel"
        data = np.random.default_rng(0).normal(size=(40, 30))
        x = xr.DataArray(data, dims=("lat", "lon")).chunk({"lat": 10})
        total = client.compute(x.mean("lon").sum()).result(timeout=120)  # paused workers: a timeout
        assert float(total) == pytest.approx(data.mean(1).sum())
        link = client.satco2_dashboard_link
        assert link in capsys.readouterr().out
        assert requests.get(link, timeout=30).status_code == 200
        del ballast
    finally:
        client.close()
        client.cluster.close()


@pytest.mark.parametrize("options, message", [
    ({"n_workers": 99}, "n_workers=99 is outside the allowed range"),
    ({"worker_memory": 0.01}, "worker_memory=0.01 is outside the allowed range"),
    ({"worker_cores": "two"}, "worker_cores must be a number"),
    ({"gpus": 1}, "unknown cluster option 'gpus'"),
])
def test_bad_options_raise_one_sentence_before_starting(monkeypatch, options, message):
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    with pytest.raises(SatCO2Error, match=message):
        compute.get_client(**options)


class _Field:
    def __init__(self, value, lo, hi):
        self.value, self.min, self.max = value, lo, hi


class _FakeGateway:
    """dask_gateway.Gateway's calls used by get_client, with one running 1-core cluster."""

    created: list = []

    def __init__(self):
        pass

    def cluster_options(self):
        spec = type("Spec", (), {})()
        spec._fields = {"worker_cores": _Field(1, 1, 4), "worker_memory": _Field(2.0, 1, 8),
                        "n_workers": _Field(1, 0, 8)}
        return spec

    def list_clusters(self):
        from dask_gateway.client import ClusterStatus

        return [type("Report", (), {"name": "old", "status": ClusterStatus.RUNNING,
                                    "options": {"worker_cores": 1, "worker_memory": 2.0}})()]

    def _cluster(self, name):
        return type("Cluster", (), {"name": name, "dashboard_link": f"/clusters/{name}/status",
                                    "scale": lambda self, n: None, "get_client": lambda self: object.__new__(
                                        type("C", (), {}))})()

    def connect(self, name):
        _FakeGateway.created.append(("connect", name))
        return self._cluster(name)

    def new_cluster(self, **opts):
        _FakeGateway.created.append(("new", opts))
        return self._cluster("new")


def test_size_mismatch_only_for_explicit_worker_size():
    assert compute.size_mismatch({"n_workers": 4}, {"worker_cores": 1, "worker_memory": 2}) == {}
    assert compute.size_mismatch({"worker_cores": 1}, {"worker_cores": 1, "worker_memory": 2}) == {}
    assert compute.size_mismatch({"worker_cores": 2, "worker_memory": 4}, {"worker_cores": 1, "worker_memory": 2.0}) \
        == {"worker_cores": (1, 2), "worker_memory": (2.0, 4)}


def test_gateway_reuse_respects_a_different_worker_size(monkeypatch, capsys):
    """get_client(worker_cores=2, ...) with a running 1-core cluster starts a new one and says so;
    without size options the running one is reused (rescaled)."""
    import dask_gateway

    monkeypatch.setattr(dask_gateway, "Gateway", _FakeGateway)
    _FakeGateway.created = []
    compute._gateway_client({"n_workers": 2}, new=False)
    assert _FakeGateway.created == [("connect", "old")]
    compute._gateway_client({"n_workers": 4, "worker_cores": 2, "worker_memory": 4}, new=False)
    assert _FakeGateway.created[1] == ("new", {"worker_cores": 2, "worker_memory": 4.0, "n_workers": 4})
    out = capsys.readouterr().out
    assert "Your running Dask cluster old has worker_cores=1, worker_memory=2.0; starting a new cluster with " \
           "worker_cores=2, worker_memory=4" in out
