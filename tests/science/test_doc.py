"""Surface DOC algorithms and their calibration/validation on the real SeaBASS CliVEC files."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from satco2 import SatCO2Error, ValidityWarning
from satco2.science import doc


@pytest.fixture(scope="module")
def cv1(shared_data):
    return doc.read_seabass(shared_data / "doc_cdom" / "CV1_OM_pigments_seabass.txt")


def test_read_seabass_real_file(cv1):
    assert len(cv1) == 151  # PROVENANCE.md: CV1 151 rows
    assert cv1.attrs["header"]["experiment"] == "CliVEC"
    assert cv1.attrs["units"]["DOC"] == "umol/L"
    # -999 -> NaN, never a number below zero in DOC/ag
    assert cv1["DOC"].isna().any() and (cv1["DOC"].dropna() > 0).all()
    assert (cv1["ag443"].dropna() > 0).all()
    assert cv1["lat"].between(35.7, 43.0).all() and cv1["lon"].between(-75.8, -65.7).all()
    assert cv1["datetime"].min().strftime("%Y-%m-%d") == "2009-08-17"
    # the file marks two values below detection (-777): flagged and NaN
    bdl = [c for c in cv1.columns if c.endswith("_bdl") and cv1[c].any()]
    assert bdl and all(cv1[c[:-4]][cv1[c]].isna().all() for c in bdl)


def test_read_seabass_errors(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("date,DOC\n1,2\n")
    with pytest.raises(SatCO2Error, match="not a SeaBASS file"):
        doc.read_seabass(p)
    p.write_text("/begin_header\n/fields=a,b\n/end_header\n1 2\n3\n")
    with pytest.raises(SatCO2Error, match="column count"):
        doc.read_seabass(p)
    with pytest.raises(SatCO2Error, match="cannot read"):
        doc.read_seabass(tmp_path / "missing.txt")


def test_linear_coefficients_in_config_equal_a_fresh_fit(cv1):
    cfg = doc.load_config()["linear_ag443"]
    fit = doc.fit_linear(cv1)
    for k in ("a", "b", "n", "cdom_slope"):
        assert cfg[k] == pytest.approx(fit[k], rel=1e-3), k
    assert fit["b"] > 0  # DOC rises with CDOM in the shelf samples


def test_validation_on_independent_cruise_reports_n_bias_rmse():
    r = doc.validate("CV1", "CV2")
    v = r["validation"]
    assert v["cruise"] == "CV2" and v["n"] >= 50
    # calibration bias is zero by construction of least squares; validation is independent
    assert abs(r["calibration"]["bias"]) < 1e-3
    assert v["rmse"] >= abs(v["bias"]) > 0
    assert 0 < v["rmse"] < 40  # umol/L: the line carries information across seasons
    # predicting with a constant (the CV1 mean) does worse in RMSE on CV2: the CDOM term helps
    cal = doc.surface_matchups(doc.read_seabass(doc.clivec_files()["CV1"]))
    val = doc.surface_matchups(doc.read_seabass(doc.clivec_files()["CV2"]))
    const = doc.stats(np.full(len(val), cal["DOC"].mean()), val["DOC"])
    assert v["r2"] > 0.3 and v["rmse"] < const["rmse"]


def test_mannino_2008_inverse_and_range():
    ag = np.array([0.02, 0.1, 0.3])
    ratio = doc.rrs_ratio_M08(ag, 443)
    assert np.allclose(doc.ag_M08(ratio, 1.0, 443), ag)
    # hand evaluation of the published form with (a, b, c) = (0.4363, 2.221, 13.126)
    assert doc.ag_M08(1.2, 1.0, 443) == pytest.approx(np.log((1.2 - 0.4363) / 2.221) / -13.126)
    assert np.isnan(doc.ag_M08(0.4, 1.0, 443))  # ratio below a: no CDOM signal
    with pytest.raises(SatCO2Error):
        doc.ag_M08(1.0, 1.0, 500)


def test_gocad_mlr2_form_and_validity_warning():
    # DOC = 192.718 + 26.790 a_g(380) - 3.558 SSS (Aurin et al. 2018, MLR2)
    assert doc.doc_GOCAD_MLR2(0.5, 33.0) == pytest.approx(192.718 + 26.79 * 0.5 - 3.558 * 33)
    with pytest.warns(ValidityWarning):
        doc.doc_GOCAD_MLR2(0.0, 45.0)  # 32.6 umol/L: below the validated 47.24


def test_surface_doc_registry_and_errors():
    ds = xr.Dataset({"a_cdom_443": (("lat", "lon"), np.array([[0.02, 0.1], [0.2, np.nan]])),
                     "sss": (("lat", "lon"), np.full((2, 2), 31.0))})
    cfg = doc.load_config()
    out = doc.surface_doc(ds.chunk(), "linear_ag443").compute()
    assert out.attrs["units"] == "umol L-1"
    a, b = cfg["linear_ag443"]["a"], cfg["linear_ag443"]["b"]
    assert float(out[0, 1]) == pytest.approx(a + b * 0.1)
    g = doc.surface_doc(ds, "gocad_mlr2")
    assert float(g[0, 0]) > 60
    with pytest.raises(SatCO2Error, match="unknown DOC algorithm"):
        doc.surface_doc(ds, "magic")
    with pytest.raises(SatCO2Error, match="Rrs_488"):
        doc.surface_doc(ds, "linear_ag443_from_rrs")
