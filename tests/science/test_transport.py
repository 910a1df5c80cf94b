"""Transport through sections and boxes: unit conversion, analytic flows, budget closure, errors."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from satco2 import SatCO2Error
from satco2.analyses import doc_transport
from satco2.science import transport as T


def make_grid(nx=30, ny=24, nz=4, bottom=None):
    lon = np.round(120.05 + 0.1 * np.arange(nx), 6)
    lat = np.round(25.05 + 0.1 * np.arange(ny), 6)
    zb = np.array([[0, 10], [10, 30], [30, 60], [60, 100]], float)[:nz]
    if bottom is None:
        bottom = np.full((ny, nx), 80.0)
    b = np.asarray(bottom, float)
    bb = np.where(np.isfinite(b), b, 0.0)
    h = np.clip(np.minimum(zb[:, 1, None, None], bb[None]) - zb[:, 0, None, None], 0, None)
    return T.Grid(lon, lat, zb.mean(1), zb, h, b)


def corner_psi(grid, fn, ntime=None):
    X, Y = np.meshgrid(grid.lon_f, grid.lat_f)
    psi = fn(X, Y)
    da = xr.DataArray(psi, dims=("lat_f", "lon_f"))
    if ntime:
        da = da * xr.DataArray(1.0 + 0.5 * np.sin(np.arange(ntime)), dims="time")
        da = da.transpose("time", "lat_f", "lon_f")
    return da


def test_unit_conversion_1sv_1umol():
    # 1e6 m3/s x 1e-3 mol/m3 x 12.011 g/mol x 3.15576e7 s/a = 0.379 Tg C/a
    assert T.TGC_PER_SV_UMOL == pytest.approx(1e6 * 1e-3 * 12.011 * 3.15576e7 / 1e12)
    assert round(float(T.sv_umol_to_tgc_per_year(1.0, 1.0)), 3) == 0.379
    assert float(T.sv_umol_to_tgc_per_year(2.0, 70.0)) == pytest.approx(2 * 70 * 0.37904, rel=1e-4)


def test_uniform_flow_known_transport_and_doc_flux():
    """u = 0.1 m/s eastward everywhere, depth 80 m, DOC 70 umol/L: transport through a meridional
    line is u * H * length."""
    g = make_grid()
    shape = (4, g.lat.size, g.lon.size)
    u = xr.DataArray(np.full(shape, 0.1), dims=("depth", "lat", "lon"),
                     coords={"depth": g.depth, "lat": g.lat, "lon": g.lon})
    v = xr.zeros_like(u)
    doc = xr.full_like(u, 70.0)
    ff = T.face_fluxes(u, v, doc, grid=g)
    # south-to-north line at lon 121.0 from 25.5N to 26.5N: eastward flow is to the right -> negative
    sec = T.Section("meridian", points=[[121.0, 25.5], [121.0, 26.5]])
    tot = T.totals(T.section_transport(ff, sec))
    length = T.EARTH_RADIUS_M * np.deg2rad(1.0)
    expect_sv = -0.1 * 80.0 * length / 1e6
    assert float(tot.volume) == pytest.approx(expect_sv, rel=1e-9)
    assert float(tot.doc) == pytest.approx(expect_sv * 70 * 0.37904, rel=1e-4)
    # flipped section (sign -1) gives the opposite sign
    tot2 = T.totals(T.section_transport(ff, T.Section("m2", points=sec.points, sign=-1)))
    assert float(tot2.volume) == pytest.approx(-expect_sv)
    # by depth band sums back to the total and respects thicknesses 10/20/30/20 m
    bands = T.by_depth_band(T.section_transport(ff, sec), bands=(0, 30, 60, np.inf))
    assert float(bands.volume.sum()) == pytest.approx(expect_sv)
    assert bands.volume.values / expect_sv == pytest.approx([30 / 80, 30 / 80, 20 / 80])


def test_streamfunction_flow_transport_equals_psi_difference():
    g = make_grid()

    def psi(x, y):  # m3/s, a Kuroshio-like jet plus an eddy
        return 2e6 * np.tanh((x - 121.5) / 0.4) + 3e5 * np.exp(-((x - 121) ** 2 + (y - 26) ** 2) / 0.2)

    p = corner_psi(g, psi, ntime=3)
    ff = T.streamfunction_fluxes(g, p, profile=np.array([1.0, 0.8, 0.5, 0.3]))
    pts = [[120.2, 25.3], [121.3, 26.8], [122.6, 26.1], [121.9, 27.2]]
    st = T.section_transport(ff, T.Section("zigzag", points=pts))
    # the staircase runs corner to corner: the transport is psi(end corner) - psi(start corner)
    ja, ia = T._corner_index(g, *pts[0], "zigzag")
    jb, ib = T._corner_index(g, *pts[-1], "zigzag")
    expect = (p.isel(lat_f=jb, lon_f=ib) - p.isel(lat_f=ja, lon_f=ia)) / 1e6
    np.testing.assert_allclose(T.totals(st).volume.values, expect.values, rtol=1e-12, atol=1e-12)
    # seasonal/annual helper on a monthly series
    months = xr.DataArray(np.arange(1, 13.0), dims="time",
                          coords={"time": np.array([f"2010-{m:02d}-01" for m in range(1, 13)], "datetime64[ns]")})
    s = T.seasonal(months)
    assert s.sel(season="DJF").item() == pytest.approx((12 + 1 + 2) / 3)
    assert s.sel(season="annual").item() == pytest.approx(6.5)


@pytest.mark.parametrize("polygon", [
    [[120.3, 25.3], [122.5, 25.6], [122.0, 27.2], [120.6, 27.0]],
    [[120.2, 25.2], [121.0, 25.2], [121.0, 26.0], [122.9, 26.0], [122.9, 27.4], [120.2, 27.4]],
])
def test_closed_box_budget_closes_for_nondivergent_flow(polygon):
    bottom = np.fromfunction(lambda j, i: 20 + 4.0 * i + 2.0 * j, (24, 30))
    bottom[:, :3] = np.nan  # land on the west
    g = make_grid(bottom=bottom)

    def psi(x, y):  # constant (zero) on the land to the west
        xe = np.clip(x - 120.4, 0, None)
        return 1e6 * xe ** 2 * (1 + 0.3 * np.sin(3 * y))

    rng = np.random.default_rng(0)
    doc = xr.DataArray(60 + 10 * rng.random((2, 4, 24, 30)), dims=("time", "depth", "lat", "lon"))
    ff = T.streamfunction_fluxes(g, corner_psi(g, psi, ntime=2), doc=doc)
    m = T.box_mask(g, polygon)
    bud = T.box_budget(ff, m)
    scale = float(np.abs(ff.ue).sum()) / 1e6
    assert scale > 1.0
    np.testing.assert_allclose(bud.volume.values, 0.0, atol=1e-12 * scale)


def test_box_budget_equals_divergence_for_divergent_flow():
    """Discrete Gauss theorem on an arbitrary (divergent) centre-velocity field."""
    g = make_grid(bottom=np.fromfunction(lambda j, i: 15 + 3.0 * i, (24, 30)))
    rng = np.random.default_rng(1)
    dims = ("depth", "lat", "lon")
    u = xr.DataArray(rng.normal(size=(4, 24, 30)), dims=dims)
    v = xr.DataArray(rng.normal(size=(4, 24, 30)), dims=dims)
    ff = T.face_fluxes(u, v, grid=g)
    bud = T.box_budget(ff, T.box_mask(g, [[120.5, 25.5], [122.5, 25.5], [122.5, 27.0], [120.5, 27.0]]))
    assert abs(float(bud.volume)) > 1e-3
    assert float(bud.volume) == pytest.approx(float(bud.divergence), rel=1e-10)


def test_face_fluxes_stay_lazy_with_dask():
    from satco2.testing import raise_if_dask_computes

    g = make_grid()
    u = xr.DataArray(np.ones((3, 4, 24, 30)), dims=("time", "depth", "lat", "lon"),
                     coords={"depth": g.depth, "lat": g.lat, "lon": g.lon}).chunk({"time": 1})
    with raise_if_dask_computes():
        ff = T.face_fluxes(u, u * 0, u * 0 + 50, grid=g)
    assert ff.ue.chunks is not None
    assert float(ff.ue.sum()) > 0


def test_isobath_section_onshore_positive():
    bottom = np.fromfunction(lambda j, i: 10.0 + 10.0 * i, (24, 30))  # 200 m at i = 19
    g = make_grid(bottom=bottom)
    shape = (4, 24, 30)
    u = xr.DataArray(np.full(shape, -0.05), dims=("depth", "lat", "lon"))  # westward = onshore
    ff = T.face_fluxes(u, xr.zeros_like(u), grid=g)
    st = T.section_transport(ff, T.Section("iso", kind="isobath", depth=200.0, lat_range=(25.5, 26.5)))
    assert float(T.totals(st).volume) > 0
    assert np.all(st.face_lat.values >= 25.5) and np.all(st.face_lat.values <= 26.5)


def test_invalid_sections_raise_one_sentence():
    bottom = np.full((24, 30), 50.0)
    bottom[:, :10] = np.nan  # land west of 121.0
    g = make_grid(bottom=bottom)
    u = xr.DataArray(np.ones((4, 24, 30)), dims=("depth", "lat", "lon"))
    ff = T.face_fluxes(u, u, grid=g)
    with pytest.raises(SatCO2Error, match="crosses only land") as e:
        T.section_transport(ff, T.Section("inland", points=[[120.2, 25.5], [120.8, 26.5]]))
    assert str(e.value).count(". ") == 0 and "\n" not in str(e.value)
    with pytest.raises(SatCO2Error, match="outside the model domain"):
        T.section_transport(ff, T.Section("far", points=[[130.0, 30.0], [131.0, 31.0]]))
    with pytest.raises(SatCO2Error, match="not found"):
        T.section_transport(ff, T.Section("deep", kind="isobath", depth=2000.0))
    with pytest.raises(SatCO2Error, match="at least two points"):
        T.Section.from_dict("one", {"points": [[121, 26]]})


@pytest.fixture(scope="module")
def ecs_demo():
    """The ecs_ocean demo generator's output (synthetic), built in memory at scale 1."""
    from satco2.demo import ecs_ocean

    return ecs_ocean.build(scale=1, seed=3)


def test_demo_truth_volume_equals_streamfunction_difference(ecs_demo):
    truth = ecs_demo["truth/doc_transport"]["sections"]
    for name in ("taiwan_strait", "kuroshio_200m", "north_32n"):
        np.testing.assert_allclose(truth[name]["volume_sv"], truth[name]["expected_volume_sv"], atol=1e-6)
    # of the order of the published values, with the published sign
    for name, s in truth.items():
        assert np.sign(s["annual_mean"]["doc_tgc_per_year"]) == np.sign(s["published_tgc_per_year"])
        assert 0.5 < s["annual_mean"]["doc_tgc_per_year"] / s["published_tgc_per_year"] < 1.5


@pytest.mark.slow
# the demo's synthetic a443 extends beyond the range the linear_ag443 line was fitted on (CV1): the
# chain says so with a ValidityWarning, which this recovery test does not examine
@pytest.mark.filterwarnings("ignore::satco2.ValidityWarning")
def test_recovery_of_demo_section_fluxes_from_centre_velocities(ecs_demo):
    """The analysis chain on the stored (A-grid, float32) products recovers the injected section
    transports: volume within 6 %, DOC within 6 % per month; annual means within 4 %."""
    period = slice(0, 12)
    cur = ecs_demo["extra-currents-ecs-model"].isel(time=period).chunk({"time": 4})
    sur = ecs_demo["global-acd-modis-aqua-4km"].isel(time=period).chunk({"time": 4})
    res = doc_transport.analyse(cur, sur, box=T.load_boxes()["ecs_shelf"])
    truth = ecs_demo["truth/doc_transport"]["sections"]
    s = res["summary"]
    for name in s.section.values:
        for var, key in (("volume", "volume_sv"), ("doc", "doc_tgc_per_year")):
            got = s[var].sel(section=name).values
            want = np.asarray(truth[name][key][:12])
            np.testing.assert_allclose(got, want, rtol=0.06, atol=0.02 * np.abs(want).mean(), err_msg=f"{name} {var}")
            assert got.mean() == pytest.approx(want.mean(), rel=0.04)
    # the profile bottom from the catalog's bathymetry (0.1 deg, block-averaged): same volume
    # transports, DOC transports within a few per cent (the water-mass index sees other depths)
    res_b = doc_transport.analyse(cur.isel(time=slice(0, 2)), sur.isel(time=slice(0, 2)),
                                  bathymetry=ecs_demo["extra-bathymetry-demo"]["depth"])
    np.testing.assert_allclose(res_b["summary"].volume, s.volume.isel(time=slice(0, 2)), rtol=1e-9)
    np.testing.assert_allclose(res_b["summary"].doc, s.doc.isel(time=slice(0, 2)), rtol=0.05)
    assert not np.allclose(res_b["doc3d"].values, res["doc3d"].isel(time=slice(0, 2)).values, equal_nan=True)
    # the Kuroshio onshore flux crosses the 200 m isobath mostly at 25.8-26.7 N (injected)
    faces = res["faces"]["kuroshio_200m"].sum("depth")
    inside = faces.doc.where((faces.face_lat >= 25.8) & (faces.face_lat <= 26.7)).sum()
    assert float(inside) / float(faces.doc.sum()) > 0.8
    # the northern outflow is mostly over the 100-200 m outer shelf (injected)
    nb = s.doc_by_bottom_depth.sel(section="north_32n").mean("time")
    assert float(nb.sel(bottom_band="100-200 m")) < 0.5 * float(nb.sum())
    # box budget: the net inflow equals minus the summed divergence, and is small next to the throughflow
    b = res["box"]
    np.testing.assert_allclose(b.volume, b.divergence, rtol=1e-9)
    assert float(np.abs(b.volume).max()) < 0.05 * float(np.abs(s.volume.sel(section="north_32n")).mean())


def test_select_sections_from_a_user_file(tmp_path):
    secs = T.select_sections(["taiwan_strait"])
    assert list(secs) == ["taiwan_strait"] and secs["taiwan_strait"].published == 30.65
    with pytest.raises(SatCO2Error, match="unknown section"):
        T.select_sections(["nowhere"])
    f = tmp_path / "s.yaml"
    f.write_text("sections:\n  inland: {kind: polyline, points: [[120.2, 25.5], [120.8, 26.5]]}\n")
    bottom = np.full((24, 30), 50.0)
    bottom[:, :10] = np.nan
    g = make_grid(bottom=bottom)
    u = xr.DataArray(np.ones((4, 24, 30)), dims=("depth", "lat", "lon"))
    ff = T.face_fluxes(u, u, grid=g)
    with pytest.raises(SatCO2Error, match="crosses only land"):
        T.section_transport(ff, T.select_sections(["inland"], f)["inland"])
    f.write_text("sections:\n  bad: {kind: spiral}\n")
    with pytest.raises(SatCO2Error, match="unknown kind"):
        T.select_sections(None, f)
