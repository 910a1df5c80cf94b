"""Vertical DOC profile model: uniform/stratified/auto, config, inventory, errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from satco2 import SatCO2Error
from satco2.science import profiles as P

Z = np.array([2.5, 10, 20, 30, 50, 75, 100, 150, 250, 400])
ZB = np.array([[0, 5], [5, 15], [15, 25], [25, 40], [40, 60], [60, 90], [90, 125], [125, 200], [200, 300], [300, 500]], float)


def fields():
    time = pd.date_range("2010-01-01", periods=12, freq="MS")
    surf = xr.DataArray(np.full((12, 2, 3), 80.0), dims=("time", "lat", "lon"),
                        coords={"time": time, "lat": [28.0, 29.0], "lon": [122.0, 123.0, 124.0]})
    bottom = xr.DataArray([[30.0, 120.0, 450.0], [np.nan, 55.0, 1000.0]], dims=("lat", "lon"),
                          coords={"lat": [28.0, 29.0], "lon": [122.0, 123.0, 124.0]})
    return surf, bottom


def test_config_parameters_are_flagged_substitute():
    p = P.load_params()
    for key in ("index.threshold", "mixed_layer_depth.monthly", "stratified.deep_doc", "stratified.decay_scale"):
        assert key in p and key in p["substitute"]
    assert len(p["mixed_layer_depth.monthly"]) == 12


def test_uniform_and_stratified_shapes():
    surf, bottom = fields()
    u = P.doc_profile(surf, Z, bottom, model="uniform", depth_bnds=ZB)
    assert u.dims == ("time", "depth", "lat", "lon")
    col = u.isel(time=0, lat=0, lon=2)
    assert np.allclose(col.values, 80.0)  # 450 m column: every level wet
    # below the floor NaN; land NaN
    assert np.isnan(u.isel(time=0, lat=0, lon=0).sel(depth=50)).item()
    assert np.isnan(u.isel(time=0, lat=1, lon=0)).all()
    params = dict(P.load_params(), **{"stratified.deep_doc": 50.0, "stratified.decay_scale": 40.0})
    mld = xr.DataArray(20.0)
    s = P.doc_profile(surf, Z, bottom, model="stratified", mld=mld, params=params, depth_bnds=ZB)
    col = s.isel(time=0, lat=0, lon=2).values
    assert np.allclose(col[Z <= 20], 80.0)
    expect = 50 + 30 * np.exp(-(Z[Z > 20] - 20) / 40.0)
    assert np.allclose(col[Z > 20], expect)
    assert np.all(np.diff(col) <= 1e-12)  # monotone relaxation towards the deep value


def test_auto_switches_on_water_mass_index():
    surf, bottom = fields()
    p = P.load_params()
    jan_mld = p["mixed_layer_depth.monthly"][0]
    jul_mld = p["mixed_layer_depth.monthly"][6]
    a = P.doc_profile(surf, Z, bottom, model="auto", params=p, depth_bnds=ZB)
    # a 30 m column is mixed in January (MLD 60 m) -> uniform; in July (MLD 12 m) -> stratified
    assert jan_mld >= 30 > jul_mld
    jan = a.sel(time="2010-01").isel(time=0, lat=0, lon=0).dropna("depth").values
    jul = a.sel(time="2010-07").isel(time=0, lat=0, lon=0).dropna("depth").values
    assert np.allclose(jan, 80.0)
    assert jul[-1] < 80.0
    idx = P.water_mass_index(bottom, jan_mld)
    assert float(idx.isel(lat=0, lon=0)) == pytest.approx(30 / jan_mld)


def test_column_inventory_uniform_is_doc_times_depth():
    surf, bottom = fields()
    u = P.doc_profile(surf, Z, bottom, model="uniform", depth_bnds=ZB)
    inv = P.column_inventory(u.isel(time=0), ZB, bottom)
    # 80 mmol m-3 x 120 m = 9.6 mol m-2 ; deeper than the last level bottom (500 m) is capped
    assert float(inv.isel(lat=0, lon=1)) == pytest.approx(80 * 120 / 1e3)
    assert float(inv.isel(lat=1, lon=2)) == pytest.approx(80 * 500 / 1e3)
    assert np.isnan(inv.isel(lat=1, lon=0))


def test_lazy_with_dask_and_bad_model():
    from satco2.testing import raise_if_dask_computes

    surf, bottom = fields()
    with raise_if_dask_computes():
        out = P.doc_profile(surf.chunk({"time": 3}), Z, bottom, model="auto", depth_bnds=ZB)
    assert out.chunks is not None
    with pytest.raises(SatCO2Error, match="unknown DOC profile model"):
        P.doc_profile(surf, Z, bottom, model="gaussian")
