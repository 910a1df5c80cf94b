"""RK4 particles against an analytic flow: solid-body rotation u = -W y, v = W x has circular
closed orbits of period 2 pi / W."""
import numpy as np
import pytest

from satco2 import SatCO2Error
from satco2.science.particles import advect_rk4, bilinear


def _rotation(omega=1e-5, n=81):
    x = np.linspace(-2.0, 2.0, n)
    y = np.linspace(-2.0, 2.0, n)
    X, Y = np.meshgrid(x, y)
    return x, y, -omega * Y, omega * X


def test_solid_body_rotation_closes_orbits():
    omega = 1e-5
    x, y, u, v = _rotation(omega)
    r0 = np.array([0.3, 0.8, 1.5])
    period = 2 * np.pi / omega
    n = 200
    xs, ys = advect_rk4(r0, np.zeros(3), u, v, x, y, period / n, n, metric="cartesian")
    # the radius is conserved at every step and each orbit closes after one period
    np.testing.assert_allclose(np.hypot(xs, ys), np.broadcast_to(r0, xs.shape), rtol=1e-6)
    np.testing.assert_allclose(xs[-1], r0, atol=1e-6)
    np.testing.assert_allclose(ys[-1], 0.0, atol=1e-6)
    # a quarter period later the particles are on the +y axis (counter-clockwise rotation)
    np.testing.assert_allclose(ys[n // 4], r0, rtol=1e-6)


def test_particles_stop_outside_the_grid_and_over_land():
    x, y, u, v = _rotation()
    u = u.copy()
    u[:, :10] = np.nan  # "land" on the west
    xs, ys = advect_rk4([1.9, -1.9], [1.9, 0.0], np.full_like(u, 1e-4), np.zeros_like(u) * u, x, y,
                        1000.0, 10, metric="cartesian")
    assert np.isnan(xs[-1]).all()


def test_spherical_metric_and_errors():
    lon = np.arange(120.0, 125.0, 0.2)
    lat = np.arange(25.0, 30.0, 0.2)
    u = np.full((lat.size, lon.size), 1.0)  # 1 m/s eastward
    xs, ys = advect_rk4([121.0], [27.0], u, np.zeros_like(u), lon, lat, 3600.0, 24)
    expect = 86400.0 / (6.371e6 * np.cos(np.radians(27.0))) * 180 / np.pi
    assert xs[-1, 0] - 121.0 == pytest.approx(expect, rel=1e-9)
    assert bilinear(u, lon, lat, [130.0], [27.0])[0] != bilinear(u, lon, lat, [130.0], [27.0])[0]
    with pytest.raises(SatCO2Error, match="metric"):
        advect_rk4([121.0], [27.0], u, u, lon, lat, 1.0, 1, metric="polar")
