"""Readers of the reference carbon products (satco2.catalog.readers.carbon_products) on small
files written here in the REAL upstream layouts (documented in the registry entries):

- SeaFlux ``SeaFlux_v2021.04_fgco2_all_winds_products.nc``: fgco2(product, wind, time, lat, lon),
  mol m-2 yr-1; ``SeaFlux_v2021.04_spco2_SOCOM_unfilled_1982-2019.nc``: one variable per pCO2
  product (time, lat, lon), uatm; time as days since 1982-01-01 stamped mid-month;
- CMEMS-LSCE (``latitude``/``longitude``, spco2 in Pa, fgco2 in mol m-2 s-1);
- the MPI-ULB SOM-FFN climatology (``pco2`` with -999 fills and no _FillValue, lon 0..360).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from satco2 import SatCO2Error, catalog
from satco2.catalog import readers

MID_MONTH = pd.to_datetime(["1990-01-16", "1990-02-15", "1990-03-16"])


def _days_since_1982(t):
    return ((t - pd.Timestamp("1982-01-01")) / pd.Timedelta(days=1)).values


def _grid_coords(lon0360=False):
    lat = np.array([30.5, 29.5])  # descending, as some archives write it
    lon = np.array([350.5, 122.5, 123.5]) if lon0360 else np.array([-9.5, 122.5, 123.5])
    return lat, lon


def _time_var():
    return xr.Variable("time", _days_since_1982(MID_MONTH), {"units": "days since 1982-01-01", "calendar": "standard"})


def test_seaflux_fgco2_all_winds_products(tmp_path):
    lat, lon = _grid_coords(lon0360=True)
    prods = ["CMEMS_FFNN", "CSIR_ML6", "JENA_MLS", "JMA_MLR", "MPI_SOMFFN", "NIES_FNN"]
    winds = ["CCMP2", "ERA5", "JRA55"]
    vals = np.arange(6 * 3 * 3 * 2 * 3, dtype=np.float32).reshape(6, 3, 3, 2, 3) / 100 - 1
    ds = xr.Dataset({"fgco2": (("product", "wind", "time", "lat", "lon"), vals, {"units": "mol m-2 yr-1"})},
                    coords={"product": prods, "wind": winds, "lat": lat, "lon": lon})
    ds = ds.assign_coords(time=_time_var())
    f = tmp_path / "SeaFlux_v2021.04_fgco2_all_winds_products.nc"
    ds.to_netcdf(f)
    out = readers.get("seaflux").open_file(f, catalog.get("extra-fgco2-seaflux-1deg"))
    assert out.fgco2.dims == ("product", "wind", "time", "lat", "lon")
    assert list(out["product"].values) == prods and list(out.wind.values) == winds
    assert list(pd.DatetimeIndex(out.time.values)) == list(pd.date_range("1990-01-01", periods=3, freq="MS"))
    assert list(out.lat.values) == [29.5, 30.5] and list(out.lon.values) == [-9.5, 122.5, 123.5]
    # ERA5 x JENA_MLS, 1990-02, lat 30.5 (index 0 in the file), lon 350.5 (-9.5)
    assert float(out.fgco2.sel(product="JENA_MLS", wind="ERA5", lat=30.5, lon=-9.5).isel(time=1)) == pytest.approx(
        float(vals[2, 1, 1, 0, 0]))
    assert out.fgco2.attrs["units"] == "mol m-2 yr-1"


def test_seaflux_spco2_one_variable_per_product(tmp_path):
    lat, lon = _grid_coords()
    data = {p: (("time", "lat", "lon"), np.full((3, 2, 3), 350.0 + i, np.float32), {"units": "uatm"})
            for i, p in enumerate(["CMEMS_FFNN", "CSIR_ML6", "JENA_MLS", "JMA_MLR", "MPI_SOMFFN", "NIES_FNN"])}
    ds = xr.Dataset(data, coords={"lat": lat, "lon": lon}).assign_coords(time=_time_var())
    f = tmp_path / "SeaFlux_v2021.04_spco2_SOCOM_unfilled_1982-2019.nc"
    ds.to_netcdf(f)
    out = readers.get("seaflux").open_file(f, catalog.get("extra-spco2-seaflux-1deg"))
    assert out.spco2.dims == ("product", "time", "lat", "lon")
    np.testing.assert_array_equal(out.spco2.mean(("time", "lat", "lon")).values, 350.0 + np.arange(6))
    # a file with none of the products is refused in one sentence
    ds[["JENA_MLS"]].rename({"JENA_MLS": "other"}).to_netcdf(tmp_path / "x.nc")
    with pytest.raises(SatCO2Error, match="none of the SeaFlux pCO2 products"):
        readers.get("seaflux").open_file(tmp_path / "x.nc", catalog.get("extra-spco2-seaflux-1deg"))


def test_cmems_layout_units_converted(tmp_path):
    p = catalog.get("extra-carbonate-cmems-lsce-25km")
    lat, lon = np.array([30.125, 30.375]), np.array([122.125, 122.375])
    shape = (3, 2, 2)
    src_units = {"spco2": "Pa", "spco2_uncertainty": "Pa", "fgco2": "mol m-2 s-1", "fgco2_uncertainty": "mol m-2 s-1",
                 "talk": "umol kg-1", "talk_uncertainty": "umol kg-1", "tco2": "umol kg-1",
                 "tco2_uncertainty": "umol kg-1", "ph": "1", "ph_uncertainty": "1"}
    val = {"spco2": 40.5, "fgco2": -3.0e-8}
    data = {v: (("time", "latitude", "longitude"), np.full(shape, val.get(v, 1.0), np.float32), {"units": u})
            for v, u in src_units.items()}
    ds = xr.Dataset(data, coords={"latitude": ("latitude", lat, {"standard_name": "latitude"}),
                                  "longitude": ("longitude", lon, {"standard_name": "longitude"})})
    ds = ds.assign_coords(time=_time_var())
    f = tmp_path / "cmems_subset.nc"
    ds.to_netcdf(f)
    out = readers.get("carbon_grid").open_file(f, p)
    assert float(out.spco2[0, 0, 0]) == pytest.approx(40.5 / 101325 * 1e6, rel=1e-6)  # 399.7 uatm
    assert float(out.fgco2[0, 0, 0]) == pytest.approx(-3.0e-8 * 365.25 * 86400, rel=1e-6)  # mol m-2 yr-1
    assert out.spco2.attrs["units"] == "uatm" and out.talk.attrs["units"] == "umol kg-1"
    # a unit that cannot be converted: one sentence, naming the file and variable
    ds["spco2"].attrs["units"] = "m"
    ds.to_netcdf(tmp_path / "bad.nc")
    with pytest.raises(SatCO2Error, match=r"bad.nc: variable spco2 is in 'm'"):
        readers.get("carbon_grid").open_file(tmp_path / "bad.nc", p)


def test_somffn_climatology_fill_and_lon(tmp_path):
    lat = np.array([-0.125, 0.125])
    lon = np.array([0.125, 359.875])
    v = np.full((12, 2, 2), 380.0, np.float32)
    v[:, 0, 0] = -999.0
    ds = xr.Dataset({"pco2": (("time", "lat", "lon"), v, {"units": "1e-6 atm"})}, coords={"lat": lat, "lon": lon})
    t = pd.date_range("2000-01-15", periods=12, freq="MS") + pd.Timedelta(days=14)
    ds = ds.assign_coords(time=t)
    f = tmp_path / "MPI-ULB-SOM_FFN_clim.nc"
    ds.to_netcdf(f)
    out = readers.get("carbon_grid").open_file(f, catalog.get("extra-spco2-somffn-coastal-25km"))
    assert list(out.lon.values) == [-0.125, 0.125]
    assert int(out.spco2.isnull().sum()) == 12 and float(out.spco2.max()) == 380.0
    assert pd.DatetimeIndex(out.time.values).day.tolist() == [1] * 12
    assert pd.DatetimeIndex(out.time_original.values)[0] == t[0]


def test_seaflux_file_ingests_into_a_mirror_and_opens(tmp_path):
    """`satco2 ingest extra-fgco2-seaflux-1deg <file>`: the ensemble dims survive the mirror."""
    from satco2.catalog import ingest

    prods, winds = ["CMEMS_FFNN", "CSIR_ML6"], ["CCMP2", "ERA5"]
    vals = np.random.default_rng(0).normal(size=(2, 2, 3, 2, 3)).astype("f4")
    ds = xr.Dataset({"fgco2": (("product", "wind", "time", "lat", "lon"), vals, {"units": "mol m-2 yr-1"})},
                    coords={"product": prods, "wind": winds, "lat": [29.5, 30.5], "lon": [122.5, 123.5, 124.5]})
    ds = ds.assign_coords(time=_time_var())
    f = tmp_path / "SeaFlux_v2021.04_fgco2_all_winds_products.nc"
    ds.to_netcdf(f)
    ingest.ingest("extra-fgco2-seaflux-1deg", [f], root=str(tmp_path / "mirror"))
    out = catalog.open("extra-fgco2-seaflux-1deg", source="mirror", root=str(tmp_path / "mirror")).load()
    assert list(out["product"].values) == prods and list(out.wind.values) == winds
    np.testing.assert_array_equal(out.fgco2.transpose("product", "wind", "time", "lat", "lon").values, vals)


def test_seaflux_layout_appends_along_time_and_repairs(tmp_path):
    """A variable whose time is not its first dimension (product, wind, time, lat, lon) appends
    along time, and uncommitted steps along that axis are dropped by the next run."""
    import zarr

    from satco2.catalog import ingest
    from satco2.catalog.store import zarr_store

    prods, winds = ["CMEMS_FFNN", "CSIR_ML6"], ["CCMP2", "ERA5"]
    rng = np.random.default_rng(1)
    parts, files = [], []
    for i, start in enumerate(["2001-01-01", "2001-04-01"]):
        vals = rng.normal(size=(2, 2, 3, 2, 3)).astype("f4")
        t = xr.Variable("time", pd.date_range(start, periods=3, freq="MS"))
        ds = xr.Dataset({"fgco2": (("product", "wind", "time", "lat", "lon"), vals, {"units": "mol m-2 yr-1"})},
                        coords={"product": prods, "wind": winds, "time": t, "lat": [29.5, 30.5],
                                "lon": [122.5, 123.5, 124.5]})
        files.append(tmp_path / f"SeaFlux_part{i}.nc")
        ds.to_netcdf(files[-1])
        parts.append(vals)
    root = str(tmp_path / "mirror")
    ingest.ingest("extra-fgco2-seaflux-1deg", files[:1], root=root, progress=False)
    # an interrupted append: the time axis grown, nothing committed
    arr = zarr.open_array(zarr_store(str(tmp_path / "mirror" / "extra-fgco2-seaflux-1deg.zarr" / "fgco2")), mode="r+")
    arr.resize((2, 2, 5, 2, 3))
    arr[:, :, 3:5] = 99.0
    ingest.ingest("extra-fgco2-seaflux-1deg", files, root=root, progress=False)
    out = catalog.open("extra-fgco2-seaflux-1deg", source="mirror", root=root).load()
    assert out.sizes["time"] == 6
    got = out.fgco2.transpose("product", "wind", "time", "lat", "lon").values
    np.testing.assert_array_equal(got, np.concatenate(parts, axis=2))


def test_time_coordinate_the_mirror_cannot_hold_is_refused_before_any_write(tmp_path):
    """A later file whose original stamps (noon) the stored encoding (whole days) cannot hold:
    one sentence, and the mirror still opens with the first file's steps."""
    from satco2.catalog import ingest

    files, first = [], None
    for i, t in enumerate([pd.date_range("2001-01-01", periods=3, freq="MS"),
                           pd.date_range("2001-04-01", periods=3, freq="MS") + pd.Timedelta(hours=12)]):
        vals = np.full((1, 1, 3, 2, 3), float(i), np.float32)
        ds = xr.Dataset({"fgco2": (("product", "wind", "time", "lat", "lon"), vals, {"units": "mol m-2 yr-1"})},
                        coords={"product": ["CMEMS_FFNN"], "wind": ["ERA5"], "time": t, "lat": [29.5, 30.5],
                                "lon": [122.5, 123.5, 124.5]})
        files.append(tmp_path / f"SeaFlux_part{i}.nc")
        ds.to_netcdf(files[-1])
        first = vals if first is None else first
    root = str(tmp_path / "mirror")
    ingest.ingest("extra-fgco2-seaflux-1deg", files[:1], root=root, progress=False)
    with pytest.raises(SatCO2Error, match="time_original values cannot be stored exactly"):
        ingest.ingest("extra-fgco2-seaflux-1deg", files, root=root, progress=False)
    out = catalog.open("extra-fgco2-seaflux-1deg", source="mirror", root=root).load()
    assert out.sizes["time"] == 3
    np.testing.assert_array_equal(out.fgco2.transpose("product", "wind", "time", "lat", "lon").values, first)
