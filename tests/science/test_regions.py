"""Region registry and fractional masks, checked against a point-in-polygon reference (shapely)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
import xarray as xr

from satco2 import SatCO2Error
from satco2.science import regions


def _grid(lon0, lon1, lat0, lat1, step, lon360=False, descending_lat=False):
    lon = np.arange(lon0 + step / 2, lon1, step)
    lat = np.arange(lat0 + step / 2, lat1, step)
    if descending_lat:
        lat = lat[::-1]
    if lon360:
        lon = lon % 360.0
        lon.sort()
    return xr.Dataset(coords={
        "lat": ("lat", lat, {"standard_name": "latitude", "units": "degrees_north"}),
        "lon": ("lon", lon, {"standard_name": "longitude", "units": "degrees_east"}),
    })


def _reference_fraction(geom, ds, k=12):
    """Share of k x k sub-points of each cell inside geom (shapely point-in-polygon)."""
    lat, lon = ds.lat.values, ds.lon.values
    lon = ((lon + 180) % 360) - 180
    dlat = np.abs(np.diff(lat)).mean()
    dlon = np.abs(np.diff(lon)).mean()
    off = (np.arange(k) + 0.5) / k - 0.5
    X = lon[None, :, None, None] + dlon * off[None, None, None, :]
    Y = lat[:, None, None, None] + dlat * off[None, None, :, None]
    X, Y = np.broadcast_arrays(X, Y)
    inside = shapely.contains_xy(geom, X, Y)
    return inside.mean(axis=(2, 3))


def test_twelve_seas_from_natural_earth():
    seas = regions.names("bai2018")
    assert len(seas) == 12
    for must in ["black_sea", "baltic_sea", "sea_of_japan", "mediterranean_sea", "persian_gulf"]:
        assert must in seas  # the enclosed seas the paper's abstract names
    r = regions.get("persian_gulf")
    assert r.kind == "polygon" and "ne_10m" in r.source
    x0, y0, x1, y1 = regions.bbox("persian_gulf")
    assert 47 < x0 < 49 and 56 < x1 < 58 and 23 < y0 < 25 and 29 < y1 < 31


@pytest.mark.parametrize("name,step", [("persian_gulf", 0.5), ("yellow_sea", 0.25),
                                       ("baltic_sea", 0.5), ("ecs", 0.3)])
def test_mask_matches_point_in_polygon(name, step):
    x0, y0, x1, y1 = regions.bbox(name)
    ds = _grid(np.floor(x0) - 1, np.ceil(x1) + 1, np.floor(y0) - 1, np.ceil(y1) + 1, step)
    m = regions.mask(name, ds)
    ref = _reference_fraction(regions.get(name).geometry, ds)
    assert m.dims == ("lat", "lon")
    # k x k sub-sampling resolves a straight coast crossing a cell to ~1/k
    assert np.abs(m.values - ref).max() < 0.2
    assert np.abs(m.values - ref).mean() < 0.01
    # coverage adds up to the polygon's area in cell units
    area_cells = float(m.sum()) * step * step
    assert area_cells == pytest.approx(regions.get(name).geometry.area, rel=1e-6)
    assert (m.values == 1.0).sum() > 0 and (m.values == 0.0).sum() > 0


def test_mask_on_0_360_grid_and_descending_lat():
    a = regions.mask("sea_of_japan", _grid(120, 150, 30, 55, 0.5))
    b = regions.mask("sea_of_japan", _grid(120, 150, 30, 55, 0.5, lon360=True, descending_lat=True))
    np.testing.assert_allclose(a.values, b.sortby("lat").values)


def test_unknown_region_is_a_clear_error():
    with pytest.raises(SatCO2Error, match="unknown region 'atlantis'"):
        regions.get("atlantis")


def test_user_geojson(tmp_path):
    poly = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "my box"},
         "geometry": {"type": "Polygon", "coordinates": [[[120, 30], [122, 30], [121, 32], [120, 30]]]}},
        {"type": "Feature", "properties": {"name": "other"},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}},
    ]}
    p = tmp_path / "mine.geojson"
    p.write_text(json.dumps(poly))
    r = regions.register(regions.from_geojson(p, name="my_triangle", features="my box"))
    ds = _grid(119, 123, 29, 33, 0.1)
    m = regions.mask("my_triangle", ds)
    assert float(m.sum()) * 0.01 == pytest.approx(2.0, rel=1e-6)  # triangle area 2 deg^2
    m2 = regions.mask(str(p), ds)  # a path works too (union of all its features)
    assert float(m2.sum()) == pytest.approx(float(m.sum()))
    assert "my_triangle" in regions.names()
    with pytest.raises(SatCO2Error, match="no feature"):
        regions.from_geojson(p, features="missing")
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    with pytest.raises(SatCO2Error, match="not valid GeoJSON"):
        regions.from_geojson(bad)
    assert r.bbox == (120.0, 30.0, 122.0, 32.0)


def test_masks_stack():
    ds = _grid(115, 135, 20, 45, 0.5)
    m = regions.masks(["east_china_sea", "yellow_sea"], ds)
    assert list(m.region.values) == ["east_china_sea", "yellow_sea"]
    # neighbouring seas do not overlap
    assert float((m.sum("region") > 1.0 + 1e-9).sum()) == 0
