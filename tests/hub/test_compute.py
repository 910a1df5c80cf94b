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
