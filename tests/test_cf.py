"""satco2.cf: coordinate lookups on cf-xarray's criteria, then name guesses."""
import numpy as np
import pytest
import xarray as xr

from satco2 import SatCO2Error, cf


def test_cf_attributes_win_over_names():
    # "lat" is a decoy without attributes; the latitude is the one with CF units
    ds = xr.Dataset(coords={"lat": ("a", [0.0, 1.0]), "phi": ("b", [10.0, 20.0, 30.0], {"units": "degrees_north"}),
                            "lam": ("c", [1.0, 2.0], {"standard_name": "longitude"}),
                            "k": ("k", [5.0, 10.0], {"axis": "Z"})})
    assert cf.coord_name(ds, "latitude") == "phi"
    assert cf.coord_name(ds, "longitude") == "lam"
    assert cf.coord_name(ds, "depth") == "k"


def test_names_are_guessed_and_dims_without_coordinates_found():
    da = xr.DataArray(np.zeros((2, 3, 4)), dims=("time", "nav_lat", "lon"),
                      coords={"nav_lat": [1.0, 2.0, 3.0], "lon": [0.0, 1.0, 2.0, 3.0]})
    assert cf.coord_name(da, "latitude") == "nav_lat"
    assert cf.coord_name(da, "longitude") == "lon"
    assert cf.coord_name(da, "time") == "time"  # a dimension without a coordinate variable
    with pytest.raises(SatCO2Error, match="no depth coordinate"):
        cf.coord_name(da, "depth")


def test_find_among_dims_and_variables():
    ds = xr.Dataset({"u": (("depth", "y"), np.zeros((2, 3))),
                     "latitude": ("n", [1.0, 2.0], {"standard_name": "latitude"})},
                    coords={"y": ("y", [0.0, 1.0, 2.0], {"axis": "Y"}), "depth": [1.0, 2.0]})
    assert cf.find(ds, "latitude", among=ds["u"].dims) == "y"
    assert cf.find(ds, "latitude", variables=True) == "latitude"
    assert cf.find(ds, "longitude") is None


def test_by_standard_name():
    ds = xr.Dataset({"water_u": ("x", [1.0]), "uo": ("x", [2.0], {"standard_name": "eastward_sea_water_velocity"})})
    assert cf.by_standard_name(ds, ["eastward_sea_water_velocity"], ["water_u"]).name == "uo"
    assert cf.by_standard_name(ds, ["northward_sea_water_velocity"], ["water_u"]).name == "water_u"
    assert cf.by_standard_name(ds, ["northward_sea_water_velocity"]) is None
