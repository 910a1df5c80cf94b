"""Ocean-model readers on small SYNTHETIC files written here in the ROMS and CMEMS/NEMO layouts,
and on the REAL model files of the shared sample data (ocean_model/, see PROVENANCE.md).

The fields are analytic (linear in lon, lat and depth) so that staggered-to-centre averaging and
vertical interpolation are exact and the expected values are computed, not hard-coded.
"""
from __future__ import annotations

import netCDF4
import numpy as np
import pytest

from satco2 import SatCO2Error
from satco2.catalog.readers import ocean_model as om


def u_true(lon, lat, z):
    return 0.1 + 0.02 * (lon - 122) - 0.001 * z


def v_true(lon, lat, z):
    return -0.05 + 0.03 * (lat - 28) + 0.0005 * z


def write_roms(path, vtransform=2, curvilinear=False):
    ny, nx, ns, nt = 6, 8, 10, 2
    lon = 121.0 + 0.25 * np.arange(nx)
    lat = 27.0 + 0.25 * np.arange(ny)
    h = 40.0 + 15.0 * np.arange(nx)[None, :] + 0 * lat[:, None]  # 40..145 m, deepening east
    s = (np.arange(ns) - ns + 0.5) / ns  # -0.95 .. -0.05
    theta_s, hc = 3.0, 10.0
    C = (1 - np.cosh(theta_s * s)) / (np.cosh(theta_s) - 1)  # Vstretching 2-like shape, in [-1, 0]
    zeta = np.zeros((nt, ny, nx))
    zeta[1] = 0.5
    depth = om.roms_depths(h, zeta, s, C, hc, vtransform)  # (nt, ns, ny, nx) positive down
    with netCDF4.Dataset(path, "w") as f:
        f.title = "SYNTHETIC ROMS-layout test file (analytic fields), SatCO2 Hub tests"
        for d, n in [("ocean_time", None), ("s_rho", ns), ("eta_rho", ny), ("xi_rho", nx),
                     ("eta_u", ny), ("xi_u", nx - 1), ("eta_v", ny - 1), ("xi_v", nx)]:
            f.createDimension(d, n)
        t = f.createVariable("ocean_time", "f8", ("ocean_time",))
        t.units = "seconds since 2010-01-01"
        t[:] = [0, 86400 * 31]
        for name, val in [("hc", hc), ("Vtransform", vtransform)]:
            f.createVariable(name, "f8", ())[...] = val
        f.createVariable("s_rho", "f8", ("s_rho",))[:] = s
        f.createVariable("Cs_r", "f8", ("s_rho",))[:] = C
        lon2, lat2 = np.meshgrid(lon, lat)
        if curvilinear:
            lat2 = lat2 + 0.05 * (lon2 - lon2.mean())
        f.createVariable("lon_rho", "f8", ("eta_rho", "xi_rho"))[:] = lon2
        f.createVariable("lat_rho", "f8", ("eta_rho", "xi_rho"))[:] = lat2
        f.createVariable("h", "f8", ("eta_rho", "xi_rho"))[:] = h
        mask = np.ones((ny, nx))
        mask[0, 0] = 0  # one land point
        f.createVariable("mask_rho", "f8", ("eta_rho", "xi_rho"))[:] = mask
        f.createVariable("zeta", "f8", ("ocean_time", "eta_rho", "xi_rho"))[:] = zeta
        # u points: between rho points along xi; depths there = mean of neighbouring rho depths
        lon_u = 0.5 * (lon[1:] + lon[:-1])
        zu = 0.5 * (depth[..., 1:] + depth[..., :-1])
        f.createVariable("u", "f8", ("ocean_time", "s_rho", "eta_u", "xi_u"))[:] = u_true(lon_u[None, None, None, :], lat[None, None, :, None], zu)
        lat_v = 0.5 * (lat[1:] + lat[:-1])
        zv = 0.5 * (depth[:, :, 1:] + depth[:, :, :-1])
        f.createVariable("v", "f8", ("ocean_time", "s_rho", "eta_v", "xi_v"))[:] = v_true(lon[None, None, None, :], lat_v[None, None, :, None], zv)
    return lon, lat, h, depth


@pytest.mark.parametrize("vtransform", [1, 2])
def test_roms_reader_stagger_and_s_levels(tmp_path, vtransform):
    p = tmp_path / "roms_his.nc"
    lon, lat, h, depth = write_roms(p, vtransform)
    targets = [5.0, 20.0, 35.0, 60.0, 120.0]
    ds = om.READERS["roms"](p, depth=targets)
    assert ds.u.dims == ("time", "depth", "lat", "lon")
    assert ds.sea_floor_depth.attrs["standard_name"] == "sea_floor_depth_below_geoid"
    assert np.isnan(ds.sea_floor_depth.values[0, 0])
    # interior points (xgcm extends at the domain edges): exact for the linear fields
    L, Y, Z = np.meshgrid(lon, lat, targets, indexing="xy")
    for it in range(2):
        for k, z in enumerate(targets):
            uu = ds.u.isel(time=it, depth=k).values[1:-1, 1:-1]
            vv = ds.v.isel(time=it, depth=k).values[1:-1, 1:-1]
            hh = h[1:-1, 1:-1]
            top = depth[it, -1, 1:-1, 1:-1]
            bot = depth[it, 0, 1:-1, 1:-1]
            inside = (z >= top) & (z <= bot)
            lon2, lat2 = np.meshgrid(lon[1:-1], lat[1:-1])
            np.testing.assert_allclose(uu[inside], u_true(lon2, lat2, z)[inside], atol=5e-5)  # s-level depths are not linear in h: u points sit at averaged depths
            np.testing.assert_allclose(vv[inside], v_true(lon2, lat2, z)[inside], atol=5e-5)  # s-level depths are not linear in h: u points sit at averaged depths
            assert np.all(np.isnan(uu[z >= hh]))  # below the sea floor


def test_roms_reader_errors(tmp_path):
    p = tmp_path / "curvi.nc"
    write_roms(p, curvilinear=True)
    assert "regridded" in om.open_roms(p).attrs  # curvilinear grids are moved to a regular grid
    with pytest.raises(SatCO2Error, match="does not exist"):
        om.open_roms(tmp_path / "nope.nc")


def write_cmems(path):
    lon = np.arange(121.0, 123.01, 0.5)
    lat = np.arange(30.0, 27.99, -0.5)  # descending, as many products store it
    dep = np.array([0.5, 10.0, 30.0, 80.0])
    with netCDF4.Dataset(path, "w") as f:
        f.title = "SYNTHETIC CMEMS-layout test file (analytic fields), SatCO2 Hub tests"
        for d, n in [("time", None), ("depth", dep.size), ("latitude", lat.size), ("longitude", lon.size)]:
            f.createDimension(d, n)
        t = f.createVariable("time", "f8", ("time",))
        t.units, t.standard_name, t.axis = "hours since 1950-01-01", "time", "T"
        t[:] = [525960.0, 526704.0]
        for name, vals, std, ax in [("depth", dep, "depth", "Z"), ("latitude", lat, "latitude", "Y"), ("longitude", lon, "longitude", "X")]:
            c = f.createVariable(name, "f4", (name,))
            c.standard_name, c.axis = std, ax
            if name == "depth":
                c.positive = "down"
            c[:] = vals
        L, Y = np.meshgrid(lon, lat)
        for name, fn, std in [("uo", u_true, "eastward_sea_water_velocity"), ("vo", v_true, "northward_sea_water_velocity")]:
            var = f.createVariable(name, "f4", ("time", "depth", "latitude", "longitude"), fill_value=np.float32(1e20))
            var.standard_name, var.units = std, "m s-1"
            data = np.stack([fn(L, Y, z) for z in dep])[None].repeat(2, 0)
            data = np.ma.masked_array(data, mask=np.zeros_like(data, bool))
            data.mask[:, 3, :, :2] = True  # bottom level dry in the west
            var[:] = data
    return lon, lat, dep


def test_zlevel_reader_cmems_layout(tmp_path):
    p = tmp_path / "cmems.nc"
    lon, lat, dep = write_cmems(p)
    ds = om.READERS["zlevel"](p)
    assert list(ds.dims) and ds.u.dims == ("time", "depth", "lat", "lon")
    assert np.all(np.diff(ds.lat.values) > 0)
    L, Y = np.meshgrid(ds.lon.values, ds.lat.values)
    np.testing.assert_allclose(ds.u.isel(time=1, depth=1).values, u_true(L, Y, 10.0), rtol=1e-5)
    np.testing.assert_allclose(ds.v.isel(time=0, depth=2).values, v_true(L, Y, 30.0), rtol=1e-5)
    # sea floor from the deepest wet level: 80 m level dry in the west -> bottom of the 30 m level
    assert ds.sea_floor_depth.values[0, 0] == pytest.approx(55.0)
    assert ds.sea_floor_depth.values[0, -1] > 80
    # the auto reader picks the z-level branch and the transport grid accepts the result
    from satco2.science import transport

    g = transport.Grid.from_dataset(om.READERS["ocean_model"](p))
    assert g.h.shape == (4, lat.size, lon.size) and g.h[3, 0, 0] == 0


def test_zlevel_reader_staggered_cgrid_via_xgcm_attributes(tmp_path):
    """NEMO-like C-grid: u on x_g (shifted half a cell, declared with c_grid_axis_shift)."""
    import xarray as xr

    xc = np.arange(121.0, 123.01, 0.25)
    yc = np.arange(28.0, 29.01, 0.25)
    xg, yg = xc - 0.125, yc - 0.125  # left/south faces
    dep = np.array([5.0, 25.0])
    Lg, Yc = np.meshgrid(xg, yc)
    Lc, Yg = np.meshgrid(xc, yg)
    u = np.stack([u_true(Lg, Yc, z) for z in dep])[None]
    v = np.stack([v_true(Lc, Yg, z) for z in dep])[None]
    ds = xr.Dataset(
        {"uo": (("time", "depth", "y_c", "x_g"), u, {"standard_name": "sea_water_x_velocity"}),
         "vo": (("time", "depth", "y_g", "x_c"), v, {"standard_name": "sea_water_y_velocity"})},
        coords={"time": np.array(["2010-01-01"], "datetime64[ns]"),
                "depth": ("depth", dep, {"axis": "Z", "positive": "down", "standard_name": "depth"}),
                "x_c": ("x_c", xc, {"axis": "X", "standard_name": "longitude"}),
                "x_g": ("x_g", xg, {"axis": "X", "c_grid_axis_shift": -0.5}),
                "y_c": ("y_c", yc, {"axis": "Y", "standard_name": "latitude"}),
                "y_g": ("y_g", yg, {"axis": "Y", "c_grid_axis_shift": -0.5})},
        attrs={"title": "SYNTHETIC staggered z-level test file"})
    p = tmp_path / "nemo_like.nc"
    ds.to_netcdf(p)
    out = om.open_zlevel(p)
    assert out.u.dims == ("time", "depth", "lat", "lon")
    L, Y = np.meshgrid(xc, yc)
    # interior (the last column extends at the boundary)
    np.testing.assert_allclose(out.u.isel(time=0, depth=1).values[:, :-1], u_true(L, Y, 25.0)[:, :-1], atol=1e-9)
    np.testing.assert_allclose(out.v.isel(time=0, depth=0).values[:-1], v_true(L, Y, 5.0)[:-1], atol=1e-9)


def test_zlevel_reader_without_velocity(tmp_path):
    import xarray as xr

    p = tmp_path / "t.nc"
    xr.Dataset({"thetao": (("lat", "lon"), np.zeros((2, 2)))}, coords={"lat": [0, 1], "lon": [0, 1]}).to_netcdf(p)
    with pytest.raises(SatCO2Error, match="eastward_sea_water_velocity"):
        om.open_zlevel(p)


def test_catalog_registry_reader(tmp_path):
    """The catalog's reader registry resolves ``ocean_model`` to this module's reader."""
    from satco2.catalog import readers

    p = tmp_path / "cmems.nc"
    write_cmems(p)
    r = readers.get("ocean_model")
    ds = r.open_file(p, None)
    assert ds.u.dtype == np.float32 and ds.attrs["source_file"] == "cmems.nc"
    assert float(ds.u.isel(time=0, depth=0, lat=0, lon=0)) == pytest.approx(u_true(121.0, 28.0, 0.5), rel=1e-5)
    with pytest.raises(SatCO2Error, match="does not exist"):
        r.open_file(tmp_path / "missing.nc", None)


# ----------------------------------------------------------------------------- real model files

def test_real_roms_s_levels_nordic(shared_data):
    """MET Norway ROMS Nordic-4km (35 s-levels, rotated curvilinear grid, u/v cut to the rho
    length by ncks): refused as 'curvilinear' before; now read onto a regular lat/lon grid."""
    import xarray as xr

    f = shared_data / "ocean_model" / "opendrift_Nordic_subset.nc"
    raw = xr.open_dataset(f)
    # the grid angle from the 2-D lon/lat equals the model's own angle variable
    np.testing.assert_allclose(om.grid_angle(raw.lon_rho.values, raw.lat_rho.values), raw.angle.values, atol=5e-3)
    ds = om.OceanModelReader().open_file(f)
    assert ds.u.dims == ("time", "depth", "lat", "lon") and ds.sizes["time"] == 3
    assert str(ds.time.values[0])[:10] == "2016-02-02"
    assert raw.lat_rho.min() <= ds.lat.min() and ds.lat.max() <= raw.lat_rho.max()
    assert raw.lon_rho.min() <= ds.lon.min() and ds.lon.max() <= raw.lon_rho.max()
    sp = np.hypot(ds.u, ds.v)
    assert 0.1 < float(sp.notnull().mean()) and float(sp.max()) < 2.0
    h = raw.h.where(raw.mask_rho > 0)
    assert float(h.min()) - 1 <= float(ds.sea_floor_depth.min()) and float(ds.sea_floor_depth.max()) <= float(h.max()) + 1
    assert np.isnan(ds.u.where(ds.depth > ds.sea_floor_depth)).all()
    from satco2.science import transport

    assert transport.Grid.from_dataset(ds).h.shape == (ds.sizes["depth"], ds.sizes["lat"], ds.sizes["lon"])


def test_real_zlevel_polar_stereographic_arctic(shared_data):
    """MET Norway ROMS Arctic20 on 17 z-levels, polar stereographic X/Y (km) with 2-D lat/lon:
    read before with the projection kilometres as lat/lon; now rotated and regridded."""
    import xarray as xr

    f = shared_data / "ocean_model" / "opendrift_Arctic20_1to5Feb_2016.nc"
    raw = xr.open_dataset(f)
    # grid angle of a north polar stereographic grid: lon_0 - lon (the file's projection parameters)
    lon0 = float(raw.polar_stereographic.attrs["straight_vertical_longitude_from_pole"])
    want = np.angle(np.exp(1j * np.radians(lon0 - raw.longitude.values)))
    got = om.grid_angle(raw.longitude.values, raw.latitude.values)
    np.testing.assert_allclose(got[:, 1:-1], want[:, 1:-1], atol=2e-3)  # centred differences
    np.testing.assert_allclose(got, want, atol=0.02)  # one-sided at the first and last column
    ds = om.OceanModelReader().open_file(f)
    assert float(ds.lat.min()) >= float(raw.latitude.min()) - 1e-6 and float(ds.lat.max()) <= 90
    assert -180 <= float(ds.lon.min()) and float(ds.lon.max()) <= 180
    assert ds.sizes["depth"] == 17 and ds.sizes["time"] == 5
    # linear interpolation of a field linear in lon/lat on the real grid is exact
    g = 0.3 * raw.longitude.values + 1.7 * raw.latitude.values
    lat, lon, out = om.to_regular(raw.longitude.values, raw.latitude.values, {"g": g})
    L, Y = np.meshgrid(lon, lat)
    ok = np.isfinite(out["g"])
    assert ok.mean() > 0.4
    np.testing.assert_allclose(out["g"][ok], (0.3 * L + 1.7 * Y)[ok], rtol=1e-6)  # float32 lon/lat
    # rotation keeps the speed: regridded speed ~ speed of the rotated components
    sp_raw = om.to_regular(raw.longitude.values, raw.latitude.values,
                           {"s": np.hypot(raw.u.values, raw.v.values)})[2]["s"]
    sp = np.hypot(ds.u.values, ds.v.values)
    m = np.isfinite(sp) & np.isfinite(sp_raw)
    assert m.sum() > 10000 and np.median(np.abs(sp[m] - sp_raw[m])) < 0.05 * np.median(sp_raw[m])
    assert float(ds.sea_floor_depth.max()) <= float(raw.h.max()) + 1


def test_real_model_file_without_currents_is_refused(shared_data):
    f = shared_data / "ocean_model" / "SeineMSP_MetO-NWS-BIO-dm-DOXY_1583828769643.nc"
    with pytest.raises(SatCO2Error, match="which holds o2"):
        om.OceanModelReader().open_file(f)
