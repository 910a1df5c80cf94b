"""Demo field helpers: smooth fields, cloud masks, land mask."""
from __future__ import annotations

import numpy as np

from satco2.demo import fields
from satco2.catalog.footprints import FOOTPRINTS


def test_smooth_field_seeded_and_smooth():
    a = fields.smooth_field((80, 90), 1, 10)
    np.testing.assert_array_equal(a, fields.smooth_field((80, 90), 1, 10))
    assert not np.array_equal(a, fields.smooth_field((80, 90), 2, 10))
    assert abs(a.mean()) < 1e-9 and abs(a.std() - 1) < 1e-9
    # spatially correlated: neighbours are far more alike than white noise (lag-1 corr ~0)
    r = np.corrcoef(a[:, :-1].ravel(), a[:, 1:].ravel())[0, 1]
    assert r > 0.9


def test_cloud_mask_fraction_shape_and_motion():
    m = fields.cloud_mask((30, 60, 70), 4)
    frac = m.mean(axis=(1, 2))
    assert np.all((frac > 0.28) & (frac < 0.72))
    assert frac.std() > 0.03  # the fraction varies in time
    # blobs, not salt and pepper: a cloudy pixel's neighbour is mostly cloudy
    same = (m[:, :, :-1] == m[:, :, 1:]).mean()
    assert same > 0.9
    # clouds move: consecutive masks differ substantially
    assert (m[1:] != m[:-1]).mean() > 0.2


def test_land_mask_known_points():
    c = FOOTPRINTS["ecs"].coords()
    m = fields.land_mask(c["lat"], c["lon"])
    assert m.sel(lat=31.2, lon=121.4, method="nearest")  # Shanghai
    assert m.sel(lat=25.0, lon=121.5, method="nearest")  # Taipei, Taiwan
    assert not m.sel(lat=30.0, lon=125.0, method="nearest")  # East China Sea
    assert not m.sel(lat=35.0, lon=124.0, method="nearest")  # Yellow Sea
    assert 0.1 < float(m.mean()) < 0.4
    # longitudes given 0..360 give the same mask
    g = fields.land_mask([45.0, -30.0], [10.0, 360 - 30.0])  # Europe land; S Atlantic sea
    assert g.values[0, 0] and not g.values[1, 1]
