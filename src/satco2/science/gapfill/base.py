"""The common interface of gap-filling methods (DINEOF, the learned imputer, ...).

A method is a subclass of :class:`GapFiller`. The base class does the plumbing every method
shares: it checks the input cube, finds its time/lat/lon axes through CF attributes, applies the
value transform (``log10`` for chlorophyll), drops pixels that are never observed (land), and
rebuilds an ``xr.Dataset`` with the filled field and its error estimate on the input grid.

A subclass implements

- ``name`` (class attribute): the key in :data:`satco2.science.gapfill.METHODS`;
- ``_fill(X, times) -> FillOutput``: ``X`` is a float64 array (time N, sea pixel M) in
  transformed units (e.g. log10 mg m-3) with NaN where missing, ``times`` the time coordinate
  as float days since the first step. It returns the filled matrix (same shape, no NaN), a
  one-sigma error estimate (scalar or same shape, transformed units), optionally an array of
  several imputations (sample, N, M), and a dict of diagnostics (e.g. the number of modes).
  Before calling it, :meth:`GapFiller.fit` sets ``self.grid_ = (ny, nx, sea)`` (``sea`` the
  boolean mask of the M kept pixels on the flattened grid) and ``self.time_values_`` for methods
  that need the spatial layout or the calendar.

Methods are configured in ``__init__`` (plain keyword arguments with units in the docstring)
and never look at data before :meth:`GapFiller.fit`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from ... import SatCO2Error, cf

#: value transforms: name -> (forward, inverse); units of the transformed field in the third slot
TRANSFORMS = {
    "log10": (np.log10, lambda y: 10.0 ** y, "log10({units})"),
    "none": (lambda x: x, lambda y: y, "{units}"),
}


@dataclass
class FillOutput:
    """What :meth:`GapFiller._fill` returns (arrays are (time, sea pixel), transformed units)."""

    filled: np.ndarray
    error: np.ndarray | float
    samples: np.ndarray | None = None
    info: dict = field(default_factory=dict)
    #: the method leaves observed pixels unchanged: the base class then restores them bit for bit
    #: (the transform's round trip would change the last digits)
    keeps_observed: bool = False


def find_axes(da: xr.DataArray) -> tuple[str, str, str]:
    """Names of the (time, lat, lon) dimensions of ``da``, by CF attributes, then common names."""
    found = {key: d for key, kind in (("time", "time"), ("lat", "latitude"), ("lon", "longitude"))
             if (d := cf.find(da, kind, among=da.dims)) is not None}
    missing = [k for k in ("time", "lat", "lon") if k not in found]
    if missing or da.ndim != 3:
        raise SatCO2Error(
            f"gap filling needs a 3-D (time, lat, lon) field, got dims {tuple(da.dims)} "
            f"(could not identify {', '.join(missing) or 'a 3-D layout'})"
        )
    return found["time"], found["lat"], found["lon"]


def _days(t: np.ndarray) -> np.ndarray:
    t = np.asarray(t)
    if np.issubdtype(t.dtype, np.datetime64):
        return (t - t[0]) / np.timedelta64(1, "D")
    return t.astype(float) - float(t[0])


class GapFiller:
    """Base class of gap-filling methods (see the module docstring for what a subclass implements).

    Parameters
    ----------
    transform : {"log10", "none"}
        Value transform applied before filling and inverted after ("log10" for chlorophyll, whose
        distribution is close to log-normal; Campbell 1995). Errors are returned in transformed
        units.
    min_coverage : float
        Pixels observed in fewer than this fraction of time steps are left NaN (0-1, default: any
        observation at all).
    """

    name: str = ""

    def __init__(self, transform: str = "log10", min_coverage: float = 0.0):
        if transform not in TRANSFORMS:
            raise SatCO2Error(f"unknown transform {transform!r}; choose one of {sorted(TRANSFORMS)}")
        self.transform = transform
        self.min_coverage = float(min_coverage)

    # --- subclass hook -------------------------------------------------------------------------
    def _fill(self, X: np.ndarray, times: np.ndarray) -> FillOutput:  # pragma: no cover
        raise NotImplementedError

    # --- public --------------------------------------------------------------------------------
    def fit(self, da: xr.DataArray) -> xr.Dataset:
        """Fill the gaps (NaN) of ``da`` (time, lat, lon).

        Returns a Dataset with ``filled`` (input units), ``error`` (one-sigma error estimate in
        transformed units, e.g. log10 mg m-3), ``observed`` (the input), and ``samples`` (several
        imputations, input units) when the method produces them. Pixels never observed stay NaN.
        """
        if not isinstance(da, xr.DataArray):
            raise SatCO2Error(f"gap filling needs an xarray.DataArray, got {type(da).__name__}")
        tdim, ydim, xdim = find_axes(da)
        da = da.transpose(tdim, ydim, xdim)
        values = np.asarray(da.values, dtype=float)
        nt, ny, nx = values.shape
        if nt < 3:
            raise SatCO2Error(f"gap filling needs at least 3 time steps, got {nt}")
        fwd, inv, unit_fmt = TRANSFORMS[self.transform]
        finite = np.isfinite(values)
        if self.transform == "log10" and np.any(values[finite] <= 0):
            raise SatCO2Error(
                f"{da.name or 'the field'} has non-positive values where observed; "
                "the log10 transform needs positive values (use transform='none')"
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            Y = np.where(finite, fwd(np.where(finite, values, 1.0)), np.nan)
        X = Y.reshape(nt, ny * nx)
        cover = np.isfinite(X).mean(axis=0)
        sea = (cover > 0) & (cover >= self.min_coverage)
        if sea.sum() < 2:
            raise SatCO2Error("gap filling needs at least 2 pixels observed at some time, got fewer")
        if np.isfinite(X[:, sea]).sum() < 10:
            raise SatCO2Error("gap filling needs at least 10 observed values, got fewer")
        # grid context for methods that need the spatial layout (the learned imputer)
        self.grid_ = (ny, nx, sea)
        self.time_values_ = da[tdim].values
        out = self._fill(X[:, sea].copy(), _days(da[tdim].values))

        def back(a, n_lead=()):
            full = np.full(tuple(n_lead) + (nt, ny * nx), np.nan)
            full[..., sea] = a
            return full.reshape(tuple(n_lead) + (nt, ny, nx))

        units = da.attrs.get("units", "1")
        dims = (tdim, ydim, xdim)
        coords = {d: da[d] for d in dims}
        ds = xr.Dataset(coords=coords)
        ds["observed"] = da.variable.copy()
        filled = inv(back(out.filled))
        if out.keeps_observed:
            filled = np.where(finite, values, filled)
        ds["filled"] = (dims, filled, {**da.attrs, "long_name": "gap-filled field",
                                       "gapfill_method": self.name})
        err = np.broadcast_to(out.error, out.filled.shape)
        ds["error"] = (dims, back(err), {"units": unit_fmt.format(units=units),
                                         "long_name": "one-sigma error estimate (transformed units)"})
        if out.samples is not None:
            smp = inv(back(out.samples, (out.samples.shape[0],)))
            if out.keeps_observed:
                smp = np.where(finite[None], values[None], smp)
            ds["samples"] = (("sample",) + dims, smp,
                             {**da.attrs, "long_name": "multiple imputations"})
        ds.attrs.update({"gapfill_method": self.name, "transform": self.transform,
                         **{f"gapfill_{k}": v for k, v in out.info.items()
                            if isinstance(v, (int, float, str))}})
        ds.attrs["synthetic"] = da.attrs.get("synthetic", ds.attrs.get("synthetic", "no"))
        self.info_ = out.info
        return ds
