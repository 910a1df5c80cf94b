"""Lagrangian particles advected through gridded currents: classical fourth-order Runge-Kutta
(RK4) with bilinear interpolation of the velocity on a regular lon/lat (or x/y) grid.

- :func:`bilinear` — a field on a regular grid sampled at scattered points (NaN outside/over land).
- :func:`advect_rk4` — particle tracks for a steady velocity field (e.g. one month of the model's
  surface currents): positions at every step, ``metric="spherical"`` converts m s-1 to degrees on a
  sphere of radius 6 371 km, ``metric="cartesian"`` keeps grid units (tests with analytic flows).

A particle that leaves the grid or enters land (NaN velocity) stops and reports NaN from then on.
"""
from __future__ import annotations

import numpy as np

from .. import SatCO2Error

EARTH_RADIUS_M = 6.371e6


def bilinear(field: np.ndarray, x: np.ndarray, y: np.ndarray, px, py) -> np.ndarray:
    """``field[y, x]`` on ascending regular axes ``x``, ``y`` sampled at points (px, py)."""
    px, py = np.asarray(px, float), np.asarray(py, float)
    fx = (px - x[0]) / (x[1] - x[0])
    fy = (py - y[0]) / (y[1] - y[0])
    inside = (fx >= 0) & (fx <= x.size - 1) & (fy >= 0) & (fy <= y.size - 1)
    i = np.clip(np.floor(np.nan_to_num(fx)).astype(int), 0, x.size - 2)
    j = np.clip(np.floor(np.nan_to_num(fy)).astype(int), 0, y.size - 2)
    tx, ty = np.clip(fx - i, 0, 1), np.clip(fy - j, 0, 1)
    out = ((1 - tx) * (1 - ty) * field[j, i] + tx * (1 - ty) * field[j, i + 1]
           + (1 - tx) * ty * field[j + 1, i] + tx * ty * field[j + 1, i + 1])
    return np.where(inside, out, np.nan)


def advect_rk4(x0, y0, u: np.ndarray, v: np.ndarray, x: np.ndarray, y: np.ndarray, dt: float,
               n_steps: int, metric: str = "spherical") -> tuple[np.ndarray, np.ndarray]:
    """Tracks (``xs``, ``ys``, shape ``(n_steps + 1, n_particles)``) of particles released at
    (x0, y0) in the steady field (u, v) [m s-1; ``[y, x]``], time step ``dt`` [s].

    ``metric="spherical"``: x, y are longitude/latitude in degrees; ``"cartesian"``: the same
    units as u*dt (velocities in grid units per second)."""
    if metric not in ("spherical", "cartesian"):
        raise SatCO2Error(f"metric must be 'spherical' or 'cartesian', got {metric!r}.")
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.ndim != 1 or y.ndim != 1 or u.shape != (y.size, x.size) or v.shape != u.shape:
        raise SatCO2Error("u and v must be 2-D [y, x] arrays on the 1-D axes x and y.")
    if not (np.all(np.diff(x) > 0) and np.all(np.diff(y) > 0)):
        raise SatCO2Error("the grid axes must be ascending.")

    def rate(px, py):
        du, dv = bilinear(u, x, y, px, py), bilinear(v, x, y, px, py)
        if metric == "spherical":
            deg = 180.0 / np.pi / EARTH_RADIUS_M
            return du * deg / np.cos(np.radians(py)), dv * deg
        return du, dv

    px, py = np.asarray(x0, float).ravel().copy(), np.asarray(y0, float).ravel().copy()
    xs = np.empty((n_steps + 1, px.size))
    ys = np.empty_like(xs)
    xs[0], ys[0] = px, py
    for k in range(n_steps):
        k1 = rate(px, py)
        k2 = rate(px + 0.5 * dt * k1[0], py + 0.5 * dt * k1[1])
        k3 = rate(px + 0.5 * dt * k2[0], py + 0.5 * dt * k2[1])
        k4 = rate(px + dt * k3[0], py + dt * k3[1])
        px = px + dt / 6.0 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        py = py + dt / 6.0 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
        xs[k + 1], ys[k + 1] = px, py  # NaN once a particle left the grid or hit land: stays NaN
    return xs, ys
