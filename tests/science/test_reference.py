"""satco2.science.reference: regional means, budgets and ensemble spread checked by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from satco2.science import gas_exchange as ge
from satco2.science import reference as ref


def _grid(values, lat=(10.0, 40.0), lon=(120.0, 121.0)):
    return xr.DataArray(np.asarray(values, float), dims=("lat", "lon"), coords={"lat": list(lat), "lon": list(lon)})


def test_regional_mean_by_hand():
    da = _grid([[1.0, np.nan], [3.0, 5.0]])
    a = ge.cell_area_WGS84(np.array([10.0, 40.0]), np.array([120.0, 121.0]))
    expected = (1 * a[0, 0] + 3 * a[1, 0] + 5 * a[1, 1]) / (a[0, 0] + a[1, 0] + a[1, 1])
    assert float(ref.regional_mean(da)) == pytest.approx(expected, rel=1e-12)
    # cell fractions: half of the first row counts, the second row fully
    w = _grid([[0.5, 0.5], [1.0, 1.0]])
    expected_w = (0.5 * 1 * a[0, 0] + 3 * a[1, 0] + 5 * a[1, 1]) / (0.5 * a[0, 0] + a[1, 0] + a[1, 1])
    assert float(ref.regional_mean(da, w)) == pytest.approx(expected_w, rel=1e-12)
    # lat 10 and 40 cells are 30 deg tall here; areas differ, so the mean is not the plain mean 3.0
    assert abs(float(ref.regional_mean(da)) - 3.0) > 0.05


def test_budget_and_units_by_hand():
    da = _grid([[2.0, np.nan], [-1.0, 0.0]])
    a = ge.cell_area_WGS84(np.array([10.0, 40.0]), np.array([120.0, 121.0]))
    mol_per_yr = 2.0 * a[0, 0] - 1.0 * a[1, 0]
    assert float(ref.regional_budget(da)) == pytest.approx(mol_per_yr * 12.0107 / 1e12, rel=1e-9)
    assert ref.to_mmol_m2_d(365.25) == pytest.approx(1000.0)


def test_ensemble_stats_by_hand():
    da = xr.DataArray([[1.0, 2.0], [3.0, 6.0]], dims=("product", "wind"))
    st = ref.ensemble_stats(da, ("product", "wind"))
    assert float(st["mean"]) == 3.0 and float(st["min"]) == 1.0 and float(st["max"]) == 6.0
    assert float(st["std"]) == pytest.approx(np.sqrt((4 + 1 + 0 + 9) / 4))  # population sd
    single = ref.ensemble_stats(xr.DataArray([4.0, 5.0], dims="time"), ("product",))
    assert float(single["std"].max()) == 0.0


def test_align_months_climatology_and_dates():
    clim = xr.DataArray(np.arange(12.0), dims="time", coords={"time": pd.date_range("2000-01-01", periods=12, freq="MS")})
    months = pd.date_range("2010-11-01", periods=3, freq="MS")
    assert ref.align_months(clim, months, climatology=True).values.tolist() == [10.0, 11.0, 0.0]
    series = xr.DataArray([1.0, 2.0], dims="time", coords={"time": pd.to_datetime(["2010-11-15", "2010-12-15"])})
    out = ref.align_months(series, months)
    assert out.values[:2].tolist() == [1.0, 2.0] and np.isnan(out.values[2])
    assert ref.mean_abs_difference([1, 2, np.nan], [2, 4, 1]) == pytest.approx(1.5)
