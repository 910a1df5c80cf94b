"""REAL chlorophyll cubes of the shared sample data for gap-filling tests and benchmarks (issue 20).

Both are Copernicus Marine GlobColour L4 monthly chlorophyll (``CHL``, mg m-3; gap-free, merged
and interpolated products: the truth), see ``PROVENANCE.md`` of the shared data folder
(:func:`satco2.testing.shared_data`):

- ``seine``: the Bay of Seine box, 1997-09..2019-06, 18 x 48; observed where its companion
  CDM-443 optics cube (same grid and months) has a value, a real missing pattern
  (:func:`load_real`);
- ``direnvmar``: the DirEnvMar box, 2010-01..2019-12, 13 x 55, no missing pattern of its own;
  observed where the Bay of Seine CDM cube of the same month has a value at the nearest sea cell
  (:func:`direnvmar_gaps`).
"""
from __future__ import annotations

import numpy as np

SEINE_CHL = "ocean_color/SeineMSP_dataset-oc-glo-bio-multi-l4-chl_4km_monthly-rep_1592571915166.nc"
SEINE_CDM = "ocean_color/SeineMSP_dataset-oc-glo-opt-multi-l4-cdm443_4km_monthly-rep-v02_1592570192473.nc"


def load_real():
    """(truth, observed): the L4 CHL cube and the same cube where the CDM cube has no value."""
    import xarray as xr

    from . import shared_data

    d = shared_data()
    with xr.open_dataset(d / SEINE_CHL) as a, xr.open_dataset(d / SEINE_CDM) as b:
        truth = a["CHL"].load().rename("chl").assign_attrs(units="mg m-3")
        gaps = ~np.isfinite(b["CDM"].values)
    return truth, truth.where(~gaps)


DIRENVMAR_CHL = "ocean_color/DirEnvMar_chl.nc"


def direnvmar_gaps(times, lat, lon):
    """Real cloud-shaped gap masks for the DirEnvMar box (gap-free L4, 2010-01..2019-12, 13 x 55),
    which has no missing pattern of its own: the missing pattern of the Bay of Seine CDM-443 cube
    (same product grid, 1/24 deg) of the same month, each DirEnvMar cell taking the mask of the
    nearest Bay of Seine *sea* cell, the 7 columns east of the Seine box (0.52-0.77 E) mirrored
    about its east edge (0.479 E) first; months after the CDM record (2019-07..12) take the same
    calendar month of 2018. Returns a (time, lat, lon) bool array, True = gap."""
    import pandas as pd
    import xarray as xr
    from scipy.spatial import cKDTree

    from . import shared_data

    with xr.open_dataset(shared_data() / SEINE_CDM) as b:
        cdm = b["CDM"].load()
    valid = np.isfinite(cdm.values)
    sea = valid.any(axis=0)
    ct = pd.DatetimeIndex(cdm.time.values)
    east = float(cdm.lon.max())
    la, lo = np.meshgrid(cdm.lat.values, cdm.lon.values, indexing="ij")
    coslat = np.cos(np.deg2rad(49.5))
    tree = cKDTree(np.c_[la[sea], lo[sea] * coslat])
    LA, LO = np.meshgrid(np.asarray(lat, float), np.asarray(lon, float), indexing="ij")
    LO = np.where(LO > east + 1e-6, 2 * east - LO, LO)  # mirrored about the Seine box's east edge
    _, j = tree.query(np.c_[LA.ravel(), LO.ravel() * coslat])
    iy, ix = np.nonzero(sea)
    iy, ix = iy[j], ix[j]
    out = np.empty((len(times),) + LA.shape, bool)
    for k, t in enumerate(pd.DatetimeIndex(times)):
        src = t if t <= ct[-1] else t - pd.DateOffset(years=1)
        i = int(np.flatnonzero(ct == src.to_period("M").start_time)[0])
        out[k] = ~valid[i][iy, ix].reshape(LA.shape)
    return out


def load_real_cube(cube: str = "seine"):
    """(truth, observed, label, train_end) of a real cube: ``seine`` (:func:`load_real`) or
    ``direnvmar`` (the DirEnvMar L4 CHL cube with :func:`direnvmar_gaps`)."""
    if cube == "seine":
        truth, obs = load_real()
        return truth, obs, "Bay of Seine L4 CHL (gaps: its CDM cube)", "2014-12"
    import xarray as xr

    from . import shared_data

    with xr.open_dataset(shared_data() / DIRENVMAR_CHL) as a:
        truth = a["CHL"].load().rename("chl").assign_attrs(units="mg m-3")
    gaps = direnvmar_gaps(truth.time.values, truth.lat.values, truth.lon.values)
    return truth, truth.where(~gaps), "DirEnvMar L4 CHL (gaps: Bay of Seine CDM masks, nearest sea cell)", "2017-12"
