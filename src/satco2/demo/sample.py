"""Demo generator ``sample``: a tiny SYNTHETIC sample of every registry product that no other
generator provides, so that every catalog entry opens from ``source="demo"``.

Which products: decided at build time, from the registry minus the products the other existing
generators provide (their ``PRODUCTS`` declaration or their last build in the manifest); the
fingerprint includes that set, so ``satco2 demo --if-missing`` rebuilds the sample when it
changes.

Each product gets its own box (the registry bbox) on a grid of ``36 * scale`` cells along its
longer side, 3 months starting 2014-01 (or the product's first months when 2014 is outside its
coverage); variables with the registry's names, units and CF attributes; plausible values
(:data:`VALUES`: a latitude profile plus smooth noise, log-normal for concentrations), NaN on
Natural Earth land for ocean variables, cloud-shaped gaps for ocean-colour variables.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import xarray as xr

from .. import catalog
from . import fields, provided_by_others

FOOTPRINT = "sample"
VERSION = 1
CELLS = 36  # along the longer side of a product's box, at scale 1
SIGNALS = """
No injected signal. Every product not made by another generator gets a tiny smoke-test cube
(36 cells along the longer side of its registry box, 3 months from 2014-01): a latitude profile
plus seeded smooth noise, NaN on Natural Earth land for ocean variables, cloud-shaped gaps
(30-70 % per month) for ocean-colour variables. Values are plausible in magnitude only; do not
use them for science.
"""

#: plausible magnitudes per variable (synthetic): kind, centre(|lat| in degrees), spread, flags.
#: "normal": centre + spread * noise; "lognormal": centre * exp(spread * noise).
VALUES: dict[str, dict] = {
    "sst": {"kind": "normal", "centre": lambda a: 28.0 - 0.35 * a, "spread": 1.5, "clip": (-1.8, 33.0)},
    "sss": {"kind": "normal", "centre": lambda a: 34.5 + 0 * a, "spread": 0.6, "clip": (20.0, 40.0)},
    "wind_speed": {"kind": "normal", "centre": lambda a: 5.0 + 0.06 * a, "spread": 1.5, "clip": (0.0, 30.0)},
    "chlor_a": {"kind": "lognormal", "centre": lambda a: 0.15 * (1 + a / 25.0), "spread": 0.7, "clouds": True},
    "par": {"kind": "normal", "centre": lambda a: 50.0 - 0.45 * a, "spread": 4.0, "clip": (0.0, 70.0), "clouds": True},
    "a_cdom_443": {"kind": "lognormal", "centre": lambda a: 0.02 + 0 * a, "spread": 0.6, "clouds": True},
    "npp": {"kind": "lognormal", "centre": lambda a: 350.0 + 0 * a, "spread": 0.5},
    "Rrs": {"kind": "lognormal", "centre": lambda a: 0.003 + 0 * a, "spread": 0.4, "clouds": True},
    "nLw": {"kind": "lognormal", "centre": lambda a: 0.8 + 0 * a, "spread": 0.4, "clouds": True},
    "Kd_490": {"kind": "lognormal", "centre": lambda a: 0.05 + 0 * a, "spread": 0.5, "clouds": True},
    "sdd": {"kind": "lognormal", "centre": lambda a: 15.0 + 0 * a, "spread": 0.5, "clouds": True},
    "ssc": {"kind": "lognormal", "centre": lambda a: 1.0 + 0 * a, "spread": 0.9, "clouds": True},
    "poc": {"kind": "lognormal", "centre": lambda a: 80.0 + 0 * a, "spread": 0.5, "clouds": True},
    "pic": {"kind": "lognormal", "centre": lambda a: 1e-4 + 0 * a, "spread": 0.8, "clouds": True},
    "pco2_air": {"kind": "normal", "centre": lambda a: 390.0 + 0 * a, "spread": 2.0, "land": True},
    "slp": {"kind": "normal", "centre": lambda a: 101325.0 + 0 * a, "spread": 800.0, "land": True},
    "depth": {"kind": "lognormal", "centre": lambda a: 1500.0 + 0 * a, "spread": 0.9, "clip": (5.0, 8000.0)},
    "u": {"kind": "normal", "centre": lambda a: 0.05 + 0 * a, "spread": 0.1},
    "v": {"kind": "normal", "centre": lambda a: 0.05 + 0 * a, "spread": 0.1},
}


def _values_key(name: str) -> str:
    for prefix in ("Rrs_", "nLw_"):
        if name.startswith(prefix):
            return prefix[:-1]
    return name


def products_to_sample() -> list:
    """Registry entries that no other existing generator provides (in registry order)."""
    others = provided_by_others("sample")
    return [p for p in catalog.products() if p.id not in others]


def fingerprint(scale: int, seed: int) -> str:
    ids = ",".join(p.id for p in products_to_sample())
    return hashlib.sha256(ids.encode()).hexdigest()[:16]


def _months(product) -> pd.DatetimeIndex:
    tc = product["time_coverage"]
    start = pd.Timestamp("2014-01-01")
    if tc["start"]:
        first = pd.Timestamp(tc["start"])
        last = pd.Timestamp.now() if tc["end"] in (None, "present") else pd.Timestamp(tc["end"])
        if not (first <= start and start + pd.offsets.MonthBegin(2) <= last):
            start = first
    return pd.date_range(start, periods=3, freq="MS")


def _grid(product, scale: int):
    lon0, lat0, lon1, lat1 = product.bbox
    step = max(lon1 - lon0, lat1 - lat0) / (CELLS * scale)
    lon = np.round(np.arange(lon0 + step / 2, lon1, step), 6)
    lat = np.round(np.arange(lat0 + step / 2, lat1, step), 6)
    return lat, lon


def sample_product(product, scale: int, seed: int) -> xr.Dataset:
    """The synthetic sample Dataset of one registry entry."""
    lat, lon = _grid(product, scale)
    static = product["frequencies"] == ["static"]
    time = None if static else _months(product)
    land = fields.land_mask(lat, lon).values
    alat = np.abs(lat)[:, None] * np.ones((1, lon.size))
    coords = {"lat": lat, "lon": lon}
    if time is not None:
        coords["time"] = time
    data_vars = {}
    for i, (name, meta) in enumerate(product.variables.items()):
        spec = VALUES.get(_values_key(name), {"kind": "normal", "centre": lambda a: 1.0 + 0 * a, "spread": 0.1})
        nt = 1 if time is None else time.size
        depth_levels = name in ("u", "v")
        noise = fields.smooth_series(nt, (lat.size, lon.size), seed, 6.0, 0.6, product.id, name)
        centre = spec["centre"](alat)[None]
        if spec["kind"] == "lognormal":
            vals = centre * np.exp(spec["spread"] * noise)
        else:
            vals = centre + spec["spread"] * noise
        if "clip" in spec:
            vals = np.clip(vals, *spec["clip"])
        if not spec.get("land"):
            vals = np.where(land[None], np.nan, vals)
        if spec.get("clouds"):
            vals = np.where(fields.cloud_mask(vals.shape, seed, (0.3, 0.7), 4.0, 0.3, product.id), np.nan, vals)
        attrs = {k: v for k, v in meta.items() if k not in ("source_name", "source_units")}
        if depth_levels:
            depth = np.array([0.0, 50.0, 100.0])
            decay = np.exp(-depth / 150.0)[None, :, None, None]
            vals = vals[:, None] * decay
            coords["depth"] = xr.DataArray(depth, dims="depth", attrs={
                "standard_name": "depth", "units": "m", "positive": "down", "axis": "Z"})
            dims = ("time", "depth", "lat", "lon")
        else:
            dims = ("time", "lat", "lon")
        if time is None:
            vals, dims = vals[0], dims[1:]
        data_vars[name] = fields.cf_var(vals, dims, None, **attrs)
    ds = fields.cf_dataset(
        data_vars, coords,
        title=f"SYNTHETIC sample of {product.id}: {product['long_name']}",
        comment="smoke-test sample of the demo store; plausible magnitudes only, no injected signal",
    )
    if "xco2" in product.variables:  # a global-mean time series: no grid
        ds = ds.mean(("lat", "lon"), keep_attrs=True)
        ds["xco2"] = (ds["xco2"] * 0 + 397.0 + 0.2 * np.arange(ds.sizes["time"])).astype(np.float32)
        ds["xco2"].attrs = {k: v for k, v in product.variables["xco2"].items()
                            if k not in ("source_name", "source_units")}
    return ds


def build(scale: int, seed: int) -> dict[str, xr.Dataset]:
    return {p.id: sample_product(p, scale, seed) for p in products_to_sample()}
