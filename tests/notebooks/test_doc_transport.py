"""notebooks/doc_transport.ipynb executed with papermill on the (synthetic) demo store, and its
dashboard rebuilt from the report folder."""
from __future__ import annotations

import json

import numpy as np
import pytest

from satco2 import SatCO2Error
from satco2.testing import chromium_page, serve_panel

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def report(notebook_demo):
    import satco2.runs

    return satco2.runs.run("doc_transport", {"start": "2010-01", "end": "2010-04"}, timeout=600)


@pytest.mark.slow
def test_notebook_runs_and_recovers_injected_fluxes(report, notebook_demo):
    import xarray as xr

    assert report.ok
    d = report.dir
    summary = xr.open_zarr(d / "doc_transport_summary.zarr").load()
    truth = json.loads((notebook_demo / "ecs" / "truth" / "doc_transport.json").read_text())
    k = truth["time"].index("2010-01")
    for name in ("taiwan_strait", "kuroshio_200m", "north_32n"):
        want = np.asarray(truth["sections"][name]["doc_tgc_per_year"][k:k + 4])
        got = summary["doc"].sel(section=name).values
        np.testing.assert_allclose(got, want, rtol=0.06, atol=0.02 * np.abs(want).mean())
    assert list(summary["published"].values) == [30.65, 18.75, -52.75]


@pytest.mark.slow
def test_dashboard_from_report(report):
    import holoviews as hv

    from satco2.dashboards import doc_transport as dash

    assert report.ok
    d = report.dir
    view = dash.from_report(d)
    assert view is not None
    board = dash.DocTransportDashboard(dash._open(d))
    bars = board.bars_vs_published()
    pub = bars.data[bars.data["source"] == "published"]["Tg C/a"].tolist()
    assert sorted(pub) == sorted([30.65, 18.75, -52.75])
    vec = board.vectors()
    assert isinstance(vec, hv.VectorField) and len(vec) > 50
    jan = board.doc_map()
    board.month = board.param.month.objects[-1]
    assert not np.allclose(board.vectors().data["Angle"], vec.data["Angle"])  # the current field changes
    assert board.depth_bands().data.shape[0] == 5
    with pytest.raises(SatCO2Error, match="no doc_transport_summary.zarr"):
        dash.from_report(d.parent)
    assert jan is not None


def test_invalid_parameters_are_one_sentence(notebook_demo):
    import satco2.runs

    with pytest.raises(SatCO2Error, match="doc_algorithm"):
        satco2.runs.params.validate("doc_transport", {"doc_algorithm": "magic"})
    with pytest.raises(SatCO2Error, match="sections_file"):
        satco2.runs.params.validate("doc_transport", {"sections_file": "/no/such/sections.yaml"})


@pytest.mark.slow
@pytest.mark.browser
def test_dashboard_in_browser(report, artifacts):
    """The dashboard served by Panel on loopback renders in chromium: map canvas not blank,
    section titles listed, and the month selector changes the map."""
    import time

    from PIL import Image

    from satco2.dashboards import doc_transport as dash

    with serve_panel(lambda: dash.from_report(report.dir)) as url, \
            chromium_page(viewport={"width": 1200, "height": 1400}) as page:
        page.goto(url, timeout=120_000)  # as browse(): the page loads vtk.js (2.5 MB) for the 3-D view
        page.get_by_text("East China Sea DOC transport").first.wait_for(timeout=60_000)
        page.get_by_text("Taiwan Strait (24.6N, Fujian coast to Taiwan)").first.wait_for(timeout=60_000)
        canvas = page.locator("canvas").first
        canvas.wait_for(timeout=60_000)
        shot = artifacts / "doc_transport_dashboard.png"

        box = canvas.bounding_box()

        def grab(path, b=box):
            page.screenshot(path=str(path), full_page=True)
            img = np.asarray(Image.open(path).convert("RGB"))
            return img[int(b["y"]):int(b["y"] + b["height"]), int(b["x"]):int(b["x"] + b["width"])].astype(int)

        deadline = time.time() + 90  # datashader's image arrives after the first render (busy CI)
        first = grab(shot)
        while first.std() <= 10 and time.time() < deadline:
            time.sleep(2)
            first = grab(shot)
        assert first.std() > 10, "the DOC map is blank"
        time.sleep(2)
        first = grab(shot)
        page.locator("select").first.select_option("2010-04")
        shot2 = artifacts / "doc_transport_dashboard_apr.png"
        deadline = time.time() + 90
        diff = 0.0
        while diff <= 1 and time.time() < deadline:
            time.sleep(2)
            diff = np.abs(grab(shot2) - first).mean()
        assert diff > 1, "the map did not follow the month"


@pytest.mark.slow
def test_dashboard_maps_show_the_analysis_region(report):
    """Every map of the dashboard built from the run: x/y ranges within the ECS model domain (read from the Bokeh
    model), a title that fits, a colourbar with its units."""
    from satco2.dashboards import doc_transport as dash
    from satco2.testing.dashboards import check_maps, region_bbox

    check_maps(dash.from_report(report.dir), region_bbox('ecs'))


@pytest.mark.slow
@pytest.mark.browser
def test_dashboard_offline_in_browser(report, artifacts):
    """Served on loopback and opened in chromium, the dashboard requests nothing from another host."""
    from satco2.dashboards import doc_transport as dash
    from satco2.testing.dashboards import browse

    assert browse(lambda: dash.from_report(report.dir), artifacts / "doc_transport_dashboard_offline.png") == []


def _small_products():
    """Synthetic products shaped like the notebook's: an eddy (solid-body rotation) of surface
    currents, a DOC gradient, two months; no notebook run needed."""
    import pandas as pd
    import xarray as xr

    lon = np.arange(121.0, 125.01, 0.2)
    lat = np.arange(26.0, 30.01, 0.2)
    time = pd.to_datetime(["2010-01-15", "2010-02-15"])
    X, Y = np.meshgrid(lon - 123.0, lat - 28.0)
    u = np.stack([-0.5 * Y, -0.8 * Y]).astype("float32")
    v = np.stack([0.5 * X, 0.8 * X]).astype("float32")
    doc = np.stack([60 + 5 * X + 0 * Y, 70 + 5 * X]).astype("float32")
    floor = np.where(X < -1.0, 60.0, 500.0).astype("float32")  # a shelf in the west
    floor[:3, :3] = np.nan  # land in the south-west corner
    maps = xr.Dataset({"doc_surface": (("time", "lat", "lon"), doc), "u": (("time", "lat", "lon"), u),
                       "v": (("time", "lat", "lon"), v),
                       "sea_floor_depth": (("lat", "lon"), floor)},
                      coords={"time": time, "lat": lat, "lon": lon})
    faces = xr.Dataset(coords={"depth": [2.5, 10.0, 30.0, 75.0, 150.0, 300.0]})
    summary = xr.Dataset(coords={"section": ["s1"], "time": time})
    return {"maps": maps, "faces": faces, "summary": summary}


def test_particle_views():
    """Particles move with the currents (an eddy: they keep their distance to its centre), carry
    the DOC of where they are, and animate over frames."""
    from satco2.dashboards import doc_transport as dash

    board = dash.DocTransportDashboard(_small_products())
    frames = board.particle_frames(n_particles=50, days=5.0, n_frames=6)
    days = sorted(frames)
    first, last = frames[days[0]], frames[days[-1]]
    # corner particles leave the eddy's square grid and stop; the inner ones circle on
    assert len(first) == 50 and 25 <= len(last) < 50
    inner = np.hypot(last.lon - 123.0, last.lat - 28.0) < 1.9
    assert inner.sum() >= 25
    assert not np.allclose(np.sort(first.lon.values)[:25], np.sort(last.lon.values)[:25])
    for df in (first, last):  # colour = the DOC field where the particle is
        np.testing.assert_allclose(df.doc, 60 + 5 * (df.lon - 123.0), rtol=1e-3)
    anim = board.particles()
    assert len(anim.keys()) == 21  # a HoloMap (overlaid with land): one frame per output day
    board.month = "2010-02"
    faster = board.particle_frames(n_particles=50, days=5.0, n_frames=6)[days[-1]]
    assert len(faster) != len(last) or not np.allclose(faster.lon.values, last.lon.values)


def test_doc_volume_3d():
    """DOC(lon, lat, z) for the 3-D view: the surface layer carries the month's surface DOC, the
    column is empty below the sea floor (a 60 m shelf in the west) and over land, one frame per
    month; a month the run does not have is one sentence."""
    from satco2.dashboards import doc_transport as dash

    products = _small_products()
    board = dash.DocTransportDashboard(products)
    vol, origin, spacing = board.doc_volume("2010-01", top=300.0, dz=10.0)
    lon, lat = products["maps"].lon.values, products["maps"].lat.values
    assert vol.shape == (lon.size, lat.size, 30)  # (lon, lat, z upward), 10 m cells over 300 m
    assert origin == pytest.approx((lon[0], lat[0], -300.0)) and spacing == pytest.approx((0.2, 0.2, 10.0))
    surface = products["maps"]["doc_surface"].isel(time=0).values.T  # (lon, lat)
    sea = np.isfinite(surface) & np.isfinite(products["maps"]["sea_floor_depth"].values.T)
    np.testing.assert_allclose(vol[..., -1][sea], surface[sea], rtol=1e-5)  # top cell = surface DOC
    shelf = (lon - 123.0 < -1.0)[:, None] & sea
    z_centres = -300.0 + 5.0 + 10.0 * np.arange(30)
    assert np.isnan(vol[shelf][:, z_centres < -60.0]).all()  # nothing below the 60 m floor
    assert np.isfinite(vol[~shelf & sea][:, z_centres > -60.0]).all()
    assert np.isnan(vol[:3, :3]).all()  # land
    feb = board.doc_volume("2010-02")[0]
    assert np.nanmean(feb[..., -1]) == pytest.approx(np.nanmean(vol[..., -1]) + 10.0, abs=0.5)
    with pytest.raises(SatCO2Error, match="has no month 2011-07"):
        board.doc_volume("2011-07")
    import panel as pn

    vtk = board.doc_3d().select(pn.pane.VTKVolume)
    assert len(vtk) == 1 and vtk[0].object.shape == vol.shape
    assert len(board.views_4d().select(pn.pane.VTKVolume)) == 1
    # the notebook inside JupyterLab leaves vtk.js out (inlined there it breaks the output)
    lab = dash.DocTransportDashboard(products, volume_3d=False).views_4d()
    assert lab.select(pn.pane.VTKVolume) == [] and "served dashboard" in str(lab.objects[-1].object)


def _crop(path, box):
    from PIL import Image

    img = np.asarray(Image.open(path).convert("RGB")).astype(int)
    return img[int(box["y"]):int(box["y"] + box["height"]), int(box["x"]):int(box["x"] + box["width"])]


def _wait_changed(grab, before, what, timeout=90.0):
    import time

    deadline = time.time() + timeout
    diff = 0.0
    while time.time() < deadline:
        time.sleep(1.5)
        diff = float(np.abs(grab() - before).mean())
        if diff > 1.0:
            return diff
    raise AssertionError(f"{what} did not change (mean pixel difference {diff:.2f})")


@pytest.mark.browser
def test_4d_views_play_in_browser(artifacts):
    """Served by Panel and opened in chromium: pressing play on the particles' day player moves
    the particles (the plot's pixels change and the day advances); the DOC volume is drawn in
    3-D by vtk.js (its WebGL canvas is not blank) and a step of its month player redraws it.
    Screenshots of each state are kept in tests/artifacts."""
    import time

    from satco2.dashboards import doc_transport as dash

    with serve_panel(lambda: dash.DocTransportDashboard(_small_products()).views_4d()) as url, \
            chromium_page(viewport={"width": 1250, "height": 800}) as page:
        page.goto(url, timeout=60_000)
        plot = page.locator(".bk-Canvas canvas").first
        volume = page.locator(".bk-panel-models-vtk-VTKVolumePlot canvas:visible").first
        plot.wait_for(timeout=60_000)
        volume.wait_for(timeout=60_000)
        shots = {k: artifacts / f"doc_transport_4d_{k}.png" for k in ("start", "played", "next_month")}

        def grab(locator, name):
            page.screenshot(path=str(shots[name]))
            return _crop(shots[name], locator.bounding_box())

        deadline = time.time() + 60  # vtk.js draws after its data arrived
        vol0 = grab(volume, "start")
        while vol0.std() <= 10 and time.time() < deadline:
            time.sleep(1.5)
            vol0 = grab(volume, "start")
        assert vol0.std() > 10, "the 3-D DOC volume is blank"
        parts0 = grab(plot, "start")
        assert parts0.std() > 10, "the particle plot is blank"
        page.get_by_text("day:").first.wait_for(timeout=30_000)
        page.locator("button.play").first.click()  # the particles' player comes first
        _wait_changed(lambda: grab(plot, "played"), parts0, "the particle plot after pressing play")
        day = page.get_by_text("day:").first.locator("xpath=..").inner_text()
        assert "day: 0\n" not in day + "\n", day
        assert page.get_by_text("DOC(z) in 3-D, 2010-01").count() == 1
        page.locator("button.next").nth(1).click()  # the month player of the volume
        page.get_by_text("DOC(z) in 3-D, 2010-02").first.wait_for(timeout=60_000)
        _wait_changed(lambda: grab(volume, "next_month"), vol0, "the 3-D volume after the next month")
