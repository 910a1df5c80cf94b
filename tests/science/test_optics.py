"""Secchi depth (Lee et al. 2015), Kd (Lee et al. 2013) and QAA v6.

Check values: the Lee 2015 and Lee 2013 constants are tested through hand-evaluated cases of the
published equations (Lee et al. 2015, RSE 169:139-149; Lee et al. 2013, JGR Oceans
118:4241-4255); QAA v6 is checked by its own forward model (inverting the QAA u = bb/(a+bb) and
rrs(u) relations must give back the input Rrs) and by the validation range
of Lee 2015's abstract (SDD from < 1 m to > 30 m). No per-sample published check values were
available to us (only the papers' abstracts could be read): that is a known gap.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from satco2 import SatCO2Error
from satco2.science import optics

CLEAR = {412: 0.0120, 443: 0.0100, 488: 0.0070, 547: 0.0018, 667: 0.00015}  # oligotrophic, sr-1
COASTAL = {412: 0.0030, 443: 0.0040, 488: 0.0065, 547: 0.0090, 667: 0.0030}  # turbid, sr-1


def test_zsd_L15_equation():
    # Zsd = ln(|0.14 - Rrs_tr| / 0.013) / (2.5 Kd_tr), Lee et al. 2015 eq. for SDD
    assert optics.zsd_L15(0.1, 0.005) == pytest.approx(math.log(0.135 / 0.013) / 0.25, rel=1e-12)
    assert optics.zsd_L15(0.1, 0.005) == pytest.approx(9.3613, abs=1e-4)
    # Persian Gulf check (Bai et al. 2018 abstract): +0.25 m/yr at 3.02 %/yr means a mean SDD of
    # 8.3 m, i.e. Kd_tr near 0.113 m-1 with Rrs_tr = 0.005 sr-1
    assert optics.sdd_from_kd490(0.113) == pytest.approx(0.25 / 0.0302, rel=0.01)
    assert np.isnan(optics.zsd_L15(0.0, 0.005))


def test_kd_L13_pure_water_limit():
    aw, bbw = optics.AW_MODIS[443], optics.BBW_MODIS[443]
    expected = (1 + 0.005 * 30) * aw + 4.259 * (1 - 0.265) * (1 - 0.52 * math.exp(-10.8 * aw)) * bbw
    assert optics.kd_L13(aw, bbw, bbw, 30.0) == pytest.approx(expected, rel=1e-12)
    # more particles -> more attenuation
    assert optics.kd_L13(0.05, 0.01, bbw) > optics.kd_L13(0.05, 0.005, bbw)


@pytest.mark.parametrize("rrs", [CLEAR, COASTAL])
def test_qaa6_inverts_its_forward_model(rrs):
    a, bb = optics.iops_QAA6(rrs)
    for b in optics.MODIS_BANDS:
        u = bb[b] / (a[b] + bb[b])
        r_below = 0.089 * u + 0.1245 * u * u  # Gordon et al. 1988 form used by QAA
        Rrs = 0.52 * r_below / (1 - 1.7 * r_below)
        assert Rrs == pytest.approx(rrs[b], rel=1e-9)
        assert bb[b] > optics.BBW_MODIS[b]
        if b <= 547:  # QAA's a(667) may fall below aw in clear water (a known QAA limitation)
            assert a[b] > optics.AW_MODIS[b]


def test_qaa6_reference_band_switch():
    # Rrs(667) < 0.0015 sr-1: reference band 547, where a(547) comes from the empirical chi step
    a, bb = optics.iops_QAA6(CLEAR)
    r = {b: CLEAR[b] / (0.52 + 1.7 * CLEAR[b]) for b in CLEAR}
    chi = math.log10((r[443] + r[488]) / (r[547] + 5 * r[667] ** 2 / r[488]))
    a547 = optics.AW_MODIS[547] + 10 ** (-1.146 - 1.366 * chi - 0.469 * chi * chi)
    assert a[547] == pytest.approx(a547, rel=1e-9)
    # otherwise 667: a(667) = aw(667) + 0.39 (Rrs667 / (Rrs443 + Rrs488))^1.14
    a2, _ = optics.iops_QAA6(COASTAL)
    a667 = optics.AW_MODIS[667] + 0.39 * (COASTAL[667] / (COASTAL[443] + COASTAL[488])) ** 1.14
    assert a2[667] == pytest.approx(a667, rel=1e-9)


def test_sdd_from_rrs_in_lee2015_range():
    clear = float(optics.sdd_from_rrs(CLEAR))
    coastal = float(optics.sdd_from_rrs(COASTAL))
    assert 15 < clear < 45  # oligotrophic water: tens of metres
    assert 0.5 < coastal < 6  # turbid coastal water: a few metres
    # vectorised, NaN-propagating
    arr = {b: np.array([CLEAR[b], np.nan]) for b in CLEAR}
    out = optics.sdd_from_rrs(arr)
    assert out[0] == pytest.approx(clear) and np.isnan(out[1])
    with pytest.raises(SatCO2Error, match="missing"):
        optics.iops_QAA6({443: 0.01})


def test_sdd_dataset_lazy():
    kd = xr.DataArray(np.array([[0.05, 0.2], [np.nan, 1.0]], dtype=np.float32), dims=("lat", "lon"),
                      name="Kd_490", attrs={"units": "m-1"}).chunk({"lat": 1})
    sdd = optics.sdd_dataset(kd)
    assert sdd.chunks is not None and sdd.attrs["units"] == "m"
    v = sdd.values
    assert v[0, 0] == pytest.approx(4 * v[0, 1], rel=1e-6) and np.isnan(v[1, 0])
