"""catalog.open / coverage from demo, mirror (local, file://, memory://) and upstream (HTTP)."""
from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import socket
import threading

import numpy as np
import pandas as pd
import pytest

from satco2 import SatCO2Error, catalog
from satco2.catalog.ingest import ingest
from satco2.testing import raise_if_dask_computes

SEAWIFS_OCT = "S20092742009304.L3m_MO_CHL_chlor_a_9km.nc"


def test_every_entry_opens_from_demo_lazily_with_cf_attrs(demo_store):
    for p in catalog.products():
        with raise_if_dask_computes():
            ds = catalog.open(p.id, source="demo")
        assert ds.attrs["synthetic"] == "yes", p.id
        for name, meta in p.variables.items():
            assert name in ds, (p.id, name)
            da = ds[name]
            assert da.chunks is not None, (p.id, name)  # dask-backed
            assert da.attrs["units"] == meta["units"], (p.id, name)
            if "standard_name" in meta:
                assert da.attrs["standard_name"] == meta["standard_name"], (p.id, name)
        if "lat" in ds.dims:
            assert np.all(np.diff(ds["lat"].values) > 0), p.id
            assert ds["lat"].attrs["standard_name"] == "latitude"
            assert ds["lon"].attrs["standard_name"] == "longitude"
        if "time" in ds.dims:
            start, end = catalog.coverage(p.id)
            assert start == pd.Timestamp(ds.time.values[0]) and end == pd.Timestamp(ds.time.values[-1])


def test_demo_selection_is_lazy_and_exact(demo_store):
    pid = "global-sst-oisst-25km"
    with raise_if_dask_computes():
        ds = catalog.open(pid, bbox=(120, 25, 125, 30), time=("2010-03", "2010-05"))
    assert ds.lon.min() >= 120 and ds.lon.max() <= 125 and ds.lat.min() >= 25 and ds.lat.max() <= 30
    assert [str(t)[:7] for t in ds.time.values] == ["2010-03", "2010-04", "2010-05"]
    assert np.isfinite(ds.sst.values).any()


def test_demo_footprint_choice(demo_store):
    from satco2.catalog.store import products_in_store

    fps = products_in_store()["global-sst-oisst-25km"]
    ds = catalog.open("global-sst-oisst-25km", bbox=(120, 25, 125, 30))
    assert ds.attrs["demo_generator"] in ("ecs_surface", "sample", "eurasia")
    if "ecs" in fps:  # the finest footprint covering the box
        assert ds.attrs["demo_generator"] == "ecs_surface"
    with pytest.raises(SatCO2Error, match="does not hold"):
        catalog.open("global-sst-oisst-25km", footprint="nowhere")


def test_open_errors(demo_store, tmp_path):
    with pytest.raises(SatCO2Error, match="unknown product id"):
        catalog.open("global-sst-oisst")
    with pytest.raises(SatCO2Error, match="outside"):
        catalog.open("gob-ssc-goci-500m", bbox=(0, -60, 10, -50))
    with pytest.raises(SatCO2Error, match="time .* is outside"):
        catalog.open("global-sst-oisst-25km", time=("1950-01", "1950-12"))
    with pytest.raises(SatCO2Error, match="no mirror"):
        catalog.open("global-sst-oisst-25km", source="mirror", root=str(tmp_path))
    with pytest.raises(SatCO2Error, match="unknown source"):
        catalog.open("global-sst-oisst-25km", source="ftp")
    with pytest.raises(SatCO2Error, match="bbox"):
        catalog.open("global-sst-oisst-25km", bbox=(10, 0, 5, 1))
    with pytest.raises(SatCO2Error, match="not in the demo store"):
        catalog.open("global-sst-oisst-25km", root=tmp_path)


@pytest.mark.parametrize("kind", ["path", "file", "memory"])
def test_mirror_roots(kind, shared_data, tmp_path):
    root = {"path": str(tmp_path), "file": f"file://{tmp_path}", "memory": f"memory://mirror-{tmp_path.name}"}[kind]
    ingest("global-chl-seawifs-9km", [shared_data / "ocean_color" / SEAWIFS_OCT], root=root, progress=False)
    with raise_if_dask_computes():
        ds = catalog.open("global-chl-seawifs-9km", source="mirror", root=root, bbox=(-160, -40, -120, 0))
        start, end = catalog.coverage("global-chl-seawifs-9km", source="mirror", root=root)
    assert start == end == pd.Timestamp("2009-10-01")
    assert ds.chlor_a.chunks is not None
    assert ds.lat.min() >= -40 and ds.lon.max() <= -120
    assert int(np.isfinite(ds.chlor_a.values).sum()) == 27926


@contextlib.contextmanager
def _http_server(folder):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def test_upstream_over_http(shared_data, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    for f in ["S20080012008031.L3m_MO_CHL_chlor_a_9km.nc", SEAWIFS_OCT]:
        shutil.copy(shared_data / "ocean_color" / f, site / f)
    with _http_server(site) as base:
        tpl = {"monthly": base + "/S{start:%Y%j}{end:%Y%j}.L3m_MO_CHL_chlor_a_9km.nc"}
        ds = catalog.open("global-chl-seawifs-9km", source="upstream", time=("2009-10", "2009-10"),
                          urls=tpl, cache=tmp_path / "cache")
        assert ds.sizes["time"] == 1 and ds.chlor_a.chunks is not None
        assert int(np.isfinite(ds.chlor_a).sum()) == 179_561
        with pytest.raises(SatCO2Error, match="unreachable or lacks .*S20093052009334"):
            catalog.open("global-chl-seawifs-9km", source="upstream", time=("2009-11", "2009-11"),
                         urls=tpl, cache=tmp_path / "cache")


def test_upstream_unreachable_and_templates(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there
    tpl = {"monthly": f"http://127.0.0.1:{port}/AQUA_MODIS.{{start:%Y%m%d}}_{{end:%Y%m%d}}.L3m.MO.CHL.chlor_a.4km.nc"}
    with pytest.raises(SatCO2Error, match="unreachable"):
        catalog.open("global-chl-modis-aqua-4km", source="upstream", time=("2010-01", "2010-01"),
                     urls=tpl, cache=tmp_path)
    from satco2.catalog.sources import SOURCES

    urls = SOURCES["upstream"].urls(catalog.get("global-chl-modis-aqua-4km"), ("2010-01", "2010-02"))
    assert urls == [
        "https://oceandata.sci.gsfc.nasa.gov/getfile/AQUA_MODIS.20100101_20100131.L3m.MO.CHL.chlor_a.4km.nc",
        "https://oceandata.sci.gsfc.nasa.gov/getfile/AQUA_MODIS.20100201_20100228.L3m.MO.CHL.chlor_a.4km.nc",
    ]
    with pytest.raises(SatCO2Error, match="no upstream URL"):
        catalog.open("eio-wpo-scs-chl-modis-5km", source="upstream", time=("2005-01", "2005-01"))
    assert catalog.coverage("global-sst-oisst-25km", source="upstream")[0] == pd.Timestamp("1981-09-01")


def test_upstream_files_read_by_concurrent_dask_tasks(tmp_path):
    """Several upstream files computed by dask's threaded scheduler: equal to direct reads (the
    readers' netCDF4 calls must not run in two threads at once, which crashes HDF5)."""
    import dask

    from satco2.catalog import readers
    from satco2.testing.writers import write_l3m

    site = tmp_path / "site"
    site.mkdir()
    months = pd.date_range("2010-01-01", periods=6, freq="MS")
    files = [write_l3m(site / f"S{m:%Y%j}{m + pd.offsets.MonthEnd(0):%Y%j}.L3m_MO_CHL_chlor_a_9km.nc",
                       nlat=1080, seed=i) for i, m in enumerate(months)]
    with _http_server(site) as base:
        tpl = {"monthly": base + "/S{start:%Y%j}{end:%Y%j}.L3m_MO_CHL_chlor_a_9km.nc"}
        ds = catalog.open("global-chl-seawifs-9km", source="upstream", time=("2010-01", "2010-06"),
                          urls=tpl, cache=tmp_path / "cache")
        with dask.config.set(scheduler="threads", num_workers=4):
            got = ds.chlor_a.values
    rd, prod = readers.get("l3m"), catalog.get("global-chl-seawifs-9km")
    for i, f in enumerate(files):
        np.testing.assert_array_equal(got[i], rd.open_file(f, prod).chlor_a.values[0])


def test_upstream_cache_is_per_user_and_unwritable_cache_is_one_sentence(tmp_path, monkeypatch):
    from pathlib import Path

    from satco2.catalog.sources import upstream_cache
    from satco2.testing import env_vars

    with env_vars(SATCO2_UPSTREAM_CACHE=None, XDG_CACHE_HOME=None, HOME=str(tmp_path / "home")):
        assert upstream_cache() == tmp_path / "home" / ".cache" / "satco2" / "upstream"
    with env_vars(SATCO2_UPSTREAM_CACHE=None, XDG_CACHE_HOME=str(tmp_path / "xdg")):
        assert upstream_cache() == tmp_path / "xdg" / "satco2" / "upstream"
    with env_vars(SATCO2_UPSTREAM_CACHE=str(tmp_path / "mine")):
        assert upstream_cache() == tmp_path / "mine"

    def denied(self, *a, **k):  # a shared cache owned by another hub user (root ignores chmod)
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", denied)
    with env_vars(SATCO2_UPSTREAM_CACHE=str(tmp_path / "shared")):
        with pytest.raises(SatCO2Error, match=r"upstream cache .*shared/global-chl-modis-aqua-4km is not "
                                              r"writable by you; pass cache= .* SATCO2_UPSTREAM_CACHE\.$"):
            catalog.open("global-chl-modis-aqua-4km", source="upstream", time=("2010-01", "2010-01"),
                         urls={"monthly": "http://127.0.0.1:9/x.nc"})
