"""Surface DOC algorithms and their calibration/validation on the real SeaBASS CliVEC files."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from satco2 import SatCO2Error, ValidityWarning
from satco2.science import doc


@pytest.fixture(scope="module")
def cv1(shared_data):
    # the real file holds a nitrate of -499.34 and three small negative nutrients: dropped with a warning
    with pytest.warns(doc.SeaBASSValueWarning, match="4 physically impossible"):
        return doc.read_seabass(shared_data / "doc_cdom" / "CV1_OM_pigments_seabass.txt")


@pytest.fixture(scope="module")
def cdom_folder(shared_data):
    return shared_data / "doc_cdom"


@pytest.fixture(scope="module")
def table(cdom_folder):
    return doc.calibration_table(cdom_folder)


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
    dropped = cv1.attrs["dropped"]
    assert dropped["impossible"] == {"NO2_NO3": 2, "NO2": 1, "PO4": 1}
    assert sum(dropped["below_detection_limit"].values()) == sum(cv1[c].sum() for c in bdl)
    assert cv1["NO2_NO3"].min() >= 0


def _edited_copy(src, dst, header_extra="", replace=None):
    """A copy of a real SeaBASS file with extra header lines and one DOC value replaced."""
    lines = src.read_text().splitlines()
    end = next(k for k, ln in enumerate(lines) if ln.startswith("/end_header"))
    fields = next(ln for ln in lines if ln.startswith("/fields="))[8:].split(",")
    rows = [ln.split() for ln in lines[end + 1:]]
    if replace:
        field, value = replace
        k = next(i for i, r in enumerate(rows) if r[fields.index(field)] not in ("-999", "-777"))
        rows[k][fields.index(field)] = value
    extra = [header_extra] if header_extra else []
    dst.write_text("\n".join(lines[:end] + extra + lines[end:end + 1] + ["\t".join(r) for r in rows]) + "\n")
    return k if replace else None


def test_read_seabass_drops_scaled_missing_sentinel(shared_data, tmp_path):
    # issue 20: a -99900 DOC (missing -999 in the header) went through as data (bias -237 571 umol/L)
    p = tmp_path / "cv2.txt"
    k = _edited_copy(shared_data / "doc_cdom" / "CV2_OM_pigments_seabass.txt", p, replace=("DOC", "-99900"))
    with pytest.warns(doc.SeaBASSValueWarning, match=r"DOC \(1\)"):
        df = doc.read_seabass(p)
    assert np.isnan(df["DOC"].iloc[k]) and df.attrs["dropped"]["impossible"]["DOC"] == 1
    assert (df["DOC"].dropna() > 0).all()


def test_read_seabass_header_detection_limits(shared_data, tmp_path):
    p = tmp_path / "cv2.txt"
    k = _edited_copy(shared_data / "doc_cdom" / "CV2_OM_pigments_seabass.txt", p,
                     header_extra="/above_detection_limit=-888", replace=("ag443", "-888"))
    with pytest.warns(doc.SeaBASSValueWarning):  # CV2's own negative nutrient
        df = doc.read_seabass(p)
    assert np.isnan(df["ag443"].iloc[k]) and bool(df["ag443_adl"].iloc[k])
    assert df.attrs["dropped"]["above_detection_limit"] == {"ag443": 1}


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


def test_validation_on_independent_cruise_reports_n_bias_rmse(cdom_folder):
    r = doc.validate(cdom_folder, "CV1", "CV2")
    v = r["validation"]
    assert v["cruise"] == "CV2" and v["n"] >= 50
    # calibration bias is zero by construction of least squares; validation is independent
    assert abs(r["calibration"]["bias"]) < 1e-3
    assert v["rmse"] >= abs(v["bias"]) > 0
    assert 0 < v["rmse"] < 40  # umol/L: the line carries information across seasons
    # predicting with a constant (the CV1 mean) does worse in RMSE on CV2: the CDOM term helps
    cal = doc.surface_matchups(doc._read_seabass_quiet(doc.clivec_files(cdom_folder)["CV1"]))
    val = doc.surface_matchups(doc._read_seabass_quiet(doc.clivec_files(cdom_folder)["CV2"]))
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
    ds = xr.Dataset({"a_cdom_443": (("lat", "lon"), np.array([[0.02, 0.1], [0.15, np.nan]])),
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


def test_calibration_table_reads_every_source_and_catches_typos(table):
    d = table.attrs["dropped"]
    assert set(table["dataset"]) == {"clivec", "kowalczuk", "asmala", "dana12", "tehrani"}
    k = d["cdoc_kowalczuk2010a_aCDOM_DOC_1993_2014_non_linear_all_data.xls"]
    # PROVENANCE: an a443 of 3 977 (a summary row), a longitude of 1 819, '#7.2', '#3.3583'
    assert k["rows without station or date"] >= 1 and k["impossible positions"] == 3 and k["'#'-marked cells"] == 2
    assert table["ag443"].max() < doc.AG443_MAX and (table["ag443"] > 0).all() and (table["doc"] > 0).all()
    assert (table["depth"] <= 10).all()
    assert table.groupby("dataset").size()["clivec"] == 73 + 74  # the surface matchups of CV1 and CV2
    # asmala a_g(443) from a440 and the sample slope: slightly below a440
    a = table[table.dataset == "asmala"]
    assert len(a) > 100 and a["salinity"].max() <= 6.8


def test_calibrate_uncertainty_matches_scipy(table):
    from scipy import stats as st

    t = table[table.dataset == "kowalczuk"]
    fit = doc.calibrate(t)
    ref = st.linregress(t["ag443"], t["doc"])
    assert fit["b"] == pytest.approx(ref.slope, abs=1e-3) and fit["a"] == pytest.approx(ref.intercept, abs=1e-3)
    assert fit["b_se"] == pytest.approx(ref.stderr, rel=1e-3)
    assert fit["a_se"] == pytest.approx(ref.intercept_stderr, rel=1e-3)
    lo, hi = fit["domain"]["ag443"]
    assert lo <= t["ag443"].min() and hi >= t["ag443"].max()


def test_configured_calibrations_equal_a_fresh_fit(table):
    cfg = doc.load_config()
    fresh = doc.calibration_configs(table)
    assert set(cfg["calibrations"]) == set(fresh)
    for name, c in fresh.items():
        for k in ("a", "b", "a_se", "b_se", "rmse", "n"):
            assert cfg["calibrations"][name][k] == pytest.approx(c[k], rel=1e-3), (name, k)
        assert cfg["calibrations"][name]["domain"] == c["domain"], name
    line = cfg["linear_ag443"]
    cv1 = doc.calibrate(table[table.group == "CV1"])
    assert line["domain"] == cv1["domain"] and line["b_se"] == pytest.approx(cv1["b_se"], rel=1e-3)


def test_leave_one_out_reports_transfer_and_domain(table, cdom_folder):
    cruise = doc.leave_one_out(table[table.dataset == "clivec"], by="group").set_index("group")
    v = doc.validate(cdom_folder, "CV1", "CV2")["validation"]
    assert cruise.loc["CV2", "bias"] == pytest.approx(v["bias"], rel=1e-6)
    assert cruise.loc["CV2", "rmse"] == pytest.approx(v["rmse"], rel=1e-6)
    ds = doc.leave_one_out(table).set_index("dataset")
    assert set(ds.index) == {"clivec", "kowalczuk", "asmala", "dana12", "tehrani"}
    assert (ds["n"] == table.groupby("dataset").size()[ds.index]).all()
    assert ds.loc["asmala", "outside_domain"] > 0.2  # estuarine CDOM beyond every other dataset's range


def test_cdom_far_above_the_calibration_warns():
    # issue 20: the CV1 line applied to a cruise with 3.6x higher CDOM gave +82 umol/L without a warning
    cfg = doc.load_config()
    hi = cfg["linear_ag443"]["domain"]["ag443"][1]
    ds = xr.Dataset({"a_cdom_443": (("lat", "lon"), np.array([[0.05, 3.6 * hi]]))}).chunk()
    with pytest.warns(ValidityWarning, match="1 of 2 value.*outside the calibration range"):
        doc.surface_doc(ds, "linear_ag443").compute()
    with pytest.warns(ValidityWarning):
        doc.doc_linear([3.6 * hi], 1.0, 1.0, domain=cfg["linear_ag443"]["domain"]["ag443"])
    # the same CDOM is inside the Baltic calibration's domain: no warning, other coefficients
    out = doc.surface_doc(ds, "linear_ag443", calibration="kowalczuk").compute()
    k = cfg["calibrations"]["kowalczuk"]
    assert float(out[0, 1]) == pytest.approx(k["a"] + k["b"] * 3.6 * hi) and out.attrs["calibration"] == "kowalczuk"
    assert np.isfinite(doc.surface_doc(ds, "linear_ag443", check_domain=False).values).all()
    with pytest.raises(SatCO2Error, match="unknown DOC calibration"):
        doc.surface_doc(ds, "linear_ag443", calibration="nowhere")


def test_gocad_mlr2_validated_on_the_tables_with_salinity(table):
    g = doc.validate_gocad(table).set_index("dataset")
    assert "clivec" not in g.index  # no salinity in the CliVEC files
    have = table.dropna(subset=["salinity"]).groupby("dataset").size()
    assert (g["n"] == have[g.index]).all()
    # Baltic DOC (~350 umol/L, 4 % inside GOCAD's 47-224 range) is far under-predicted
    assert g.loc["kowalczuk", "bias"] < -100 and g.loc["kowalczuk", "doc_in_gocad_range"] < 0.1
    assert g.loc["dana12", "doc_in_gocad_range"] == 1.0 and g.loc["dana12", "rmse"] < 30
