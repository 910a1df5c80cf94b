"""Validity ranges of empirical formulas: the one mechanism every science module uses.

An empirical formula is only as good as the data it was fitted on. :func:`check` warns with a
:class:`satco2.ValidityWarning` when finite values of an input (or output) fall outside the range
its source validated it for; NaNs are never a violation. :func:`valid` attaches ranges to a
function's arguments (``func.validity`` holds them, so fused kernels reuse the same numbers).

The warning is one sentence: ``"<source>: <name> has <n> of <size> value(s) outside the <range>
<lo>..<hi> <units> (min .., max ..)"``.
"""
from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Mapping

import numpy as np

from .. import ValidityWarning


def span(values) -> tuple[float, float]:
    """(min, max) of the finite values, (nan, nan) when there are none."""
    a = np.asarray(values, dtype=float)
    if a.size == 0:
        return np.nan, np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        return float(np.nanmin(a)), float(np.nanmax(a))


def check(source: str, name: str, values, lo: float, hi: float, *, range_name: str = "validated range",
          units: str = "", note: str = "", stacklevel: int = 1,
          minmax: Callable[[np.ndarray], tuple[float, float]] = span) -> int:
    """Warn (:class:`satco2.ValidityWarning`) when finite ``values`` fall outside ``lo..hi``;
    returns how many do. ``stacklevel`` counts from the caller of this function; ``minmax`` may be
    a faster one-pass (min, max) of the finite values (the common, in-range case reads the data
    once)."""
    a = np.asarray(values)
    amin, amax = minmax(a if a.dtype.kind == "f" else a.astype(float))
    if not np.isfinite(amin) or (amin >= lo and amax <= hi):
        return 0
    v = np.asarray(a, dtype=float)
    fin = np.isfinite(v)
    n = int(((v < lo) | (v > hi))[fin].sum())
    what = f"{range_name} {lo:g}..{hi:g}" + (f" {units}" if units else "")
    warnings.warn(f"{source}: {name} has {n} of {int(fin.sum())} value(s) outside the {what} "
                  f"(min {amin:.4g}, max {amax:.4g})" + (f": {note}" if note else ""),
                  ValidityWarning, stacklevel=stacklevel + 1)
    return n


def check_all(source: str, ranges: Mapping[str, tuple[float, float]], *, stacklevel: int = 1,
              range_name: str = "validated range", minmax=span, **arrays) -> None:
    """:func:`check` every array of ``arrays`` whose name has a range in ``ranges``."""
    for name, values in arrays.items():
        if name in ranges and values is not None:
            lo, hi = ranges[name]
            check(source, name, values, lo, hi, range_name=range_name, stacklevel=stacklevel + 1,
                  minmax=minmax)


def valid(**ranges: tuple[float, float]):
    """Decorator: validity ranges (argument name -> (lo, hi), in the argument's units) of a
    function; calling it with finite inputs outside them warns (:func:`check`). The ranges are
    kept as ``func.validity``."""

    def deco(func):
        sig = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            bound = sig.bind(*args, **kwargs)
            check_all(func.__name__, ranges, stacklevel=2,
                      **{k: v for k, v in bound.arguments.items() if k in ranges})
            return func(*args, **kwargs)

        wrapper.validity = dict(ranges)
        return wrapper

    return deco
