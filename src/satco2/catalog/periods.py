"""The registry's time convention, applied in one place for every way a product is read.

``time`` is the start of the period a step covers (:func:`period_start`): mid-month stamps of a
monthly product become the first of the month, noon stamps of a daily product midnight, 1 July of
an annual mean 1 January. :func:`to_period_start` applies it to a Dataset and keeps the stamps it
replaced; ``satco2 ingest`` (:mod:`satco2.catalog.ingest`, originals in the mirror's ledger) and
every source of ``catalog.open`` (:mod:`satco2.catalog.sources`: demo, mirror, upstream; originals
in the ``time_original`` attribute of ``time``) call it. Readers of observations at instants
(:data:`INSTANT_READERS`) keep their stamps.
"""
from __future__ import annotations

import pandas as pd
import xarray as xr

from .. import SatCO2Error

#: registry frequencies with a calendar period start -> pandas period / floor alias
PERIOD_FREQ = {"monthly": "M", "annual": "Y", "yearly": "Y", "daily": "D", "hourly": "h",
               "6-hourly": "6h", "8 per day": "3h"}
#: readers of observations at instants (not periods): their time stamps are left as they are
INSTANT_READERS = {"point_csv"}
#: the attribute of ``time`` that keeps the replaced stamps (ISO strings) in ``catalog.open``
ORIGINAL_ATTR = "time_original"


def file_frequency(times: pd.DatetimeIndex, attrs: dict) -> str | None:
    """The period of a file's time steps from their spacing, else from ``period_end``."""
    if len(times) > 1:
        step = pd.Series(times).diff().dropna().median()
    elif attrs.get("period_end"):
        step = pd.Timestamp(attrs["period_end"]) - times[0] + pd.Timedelta(days=1)
    else:
        return None
    days = step / pd.Timedelta(days=1)
    for name, lo, hi in (("hourly", 0.9 / 24, 1.1 / 24), ("daily", 0.9, 1.1), ("monthly", 27.5, 31.5),
                         ("annual", 364.5, 366.5)):
        if lo <= days <= hi:
            return name
    return None


def period_start(times, frequency: str) -> pd.DatetimeIndex:
    """The start of the period (registry ``frequencies`` name) that holds each time stamp:
    monthly -> first of the month, annual -> 1 January, daily -> midnight, hourly -> the hour."""
    t = pd.DatetimeIndex(times)
    alias = PERIOD_FREQ[frequency]
    if alias in ("M", "Y"):
        return pd.DatetimeIndex(t.to_period(alias).start_time).as_unit("ns")
    return t.floor(alias)


def product_frequency(product, times: pd.DatetimeIndex, attrs: dict) -> str | None:
    """The registry frequency whose period start applies: the product's only one, else the one
    the stamps' spacing (or ``period_end``) shows among the product's; None when neither."""
    listed = list(product.get("frequencies") or [])
    freqs = [f for f in listed if f in PERIOD_FREQ]
    if len(listed) == 1 and freqs:
        return freqs[0]
    guess = file_frequency(times, attrs)
    return guess if guess in freqs else None


def to_period_start(ds: xr.Dataset, product, name: str = "", where: str | None = None
                    ) -> tuple[xr.Dataset, list[str] | None]:
    """``ds`` with its time stamps moved to the start of their period (the registry's
    convention); returns (ds, the replaced stamps as ISO strings, or None when nothing changed).

    ``where`` says in the ``comment`` of ``time`` where the original stamps are kept; by default
    (None) they are the ``time_original`` attribute of ``time`` itself. A file with two stamps in
    one period raises one sentence. Readers of instants (:data:`INSTANT_READERS`) are left as
    they are."""
    if "time" not in ds.dims or getattr(product, "reader", None) in INSTANT_READERS:
        return ds, None
    try:
        times = pd.DatetimeIndex(ds["time"].values)
    except (TypeError, ValueError):  # a non-datetime axis: nothing to normalise
        return ds, None
    freq = product_frequency(product, times, ds.attrs)
    if freq is None:
        return ds, None
    new = period_start(times, freq)
    if (new == times).all():
        return ds, None
    if new.has_duplicates:
        raise SatCO2Error(f"{name or 'the data'} has two time steps in the same {freq} period "
                          f"({new[new.duplicated()][0]:%Y-%m-%d}); product {product.id} holds one per period.")
    original = [t.isoformat() for t in times]
    attrs = dict(ds["time"].attrs)
    ds = ds.assign_coords(time=new.values)
    if where is None:
        attrs[ORIGINAL_ATTR] = original
        where = f"the {ORIGINAL_ATTR} attribute of time"
    ds["time"].attrs = {**attrs, "comment": f"start of the {freq} period; the original stamps are in {where}"}
    return ds, original
