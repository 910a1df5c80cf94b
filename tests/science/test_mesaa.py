"""MeSAA: configuration provenance, mixing through PyCO2SYS, look-up table accuracy, bio-term
fitting, end-member fitting, validity warnings and laziness."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import xarray as xr
import yaml

import satco2
from satco2.science import mesaa
from satco2.testing import raise_if_dask_computes


@pytest.fixture(scope="module")
def cfg():
    return mesaa.load_config("ecs")


def test_every_coefficient_has_citation_or_flag(cfg):
    doc = yaml.safe_load((mesaa.config_dir() / "ecs.yaml").read_text())

    def leaves(node, path=""):
        if isinstance(node, dict) and "value" in node:
            yield path, node
        elif isinstance(node, dict):
            for k, v in node.items():
                yield from leaves(v, f"{path}.{k}")

    found = list(leaves(doc))
    assert len(found) >= 12
    for path, node in found:
        assert node.get("citation") or node.get("needs_citation"), path
        assert node.get("citation") or node.get("how"), path
    assert "ocean.dic" in cfg.as_attrs()["mesaa_needs_citation"]


def test_config_errors(tmp_path):
    with pytest.raises(satco2.SatCO2Error, match="no MeSAA configuration"):
        mesaa.load_config("atlantis")
    bad = tmp_path / "bad.yaml"
    doc = yaml.safe_load((mesaa.config_dir() / "ecs.yaml").read_text())
    del doc["end_members"]["ocean"]["dic"]["needs_citation"]
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(satco2.SatCO2Error, match="neither a citation"):
        mesaa.load_config(bad)


def test_mixing_is_conservative_algebra(cfg):
    ta, dic = mesaa.mix(np.array([cfg.s_river, cfg.s_ocean, (cfg.s_river + cfg.s_ocean) / 2]), cfg)
    np.testing.assert_allclose(ta, [cfg.ta_river, cfg.ta_ocean, (cfg.ta_river + cfg.ta_ocean) / 2])
    np.testing.assert_allclose(dic, [cfg.dic_river, cfg.dic_ocean, (cfg.dic_river + cfg.dic_ocean) / 2])


def test_mixing_term_matches_pyco2sys_and_lut(cfg):
    import PyCO2SYS as pyco2

    # exact path equals a direct PyCO2SYS call on the mixed TA/DIC
    s, t = np.array([22.0, 30.0, 34.0]), np.array([25.0, 18.0, 10.0])
    ta, dic = mesaa.mix(s, cfg)
    r = pyco2.sys(par1=ta, par2=dic, par1_type=1, par2_type=2, salinity=s, temperature=t,
                  opt_k_carbonic=cfg.opt_k_carbonic)
    np.testing.assert_allclose(mesaa.pco2_mix_exact(t, s, cfg), r["pCO2"], rtol=1e-12)
    # the look-up table stays within 0.1 % of the exact solve over the whole table
    rng = np.random.default_rng(3)
    s = rng.uniform(cfg.s_river, cfg.s_ocean, 400)
    t = rng.uniform(-2, 40, 400)
    np.testing.assert_allclose(mesaa.mixing_table(cfg)(t, s), mesaa.pco2_mix_exact(t, s, cfg), rtol=1e-3)


def test_thermodynamic_sensitivity_of_mixing_term(cfg):
    # at fixed salinity the mixing term is isochemical: ~4.23 %/°C (Takahashi et al. 1993)
    p = mesaa.pco2_mix_exact(np.array([2.0, 28.0]), np.array([34.0, 34.0]), cfg)
    assert np.log(p[1] / p[0]) / 26.0 == pytest.approx(0.0423, abs=1.5e-3)


def test_bio_registry_and_fit(cfg):
    assert set(mesaa.BIO_TERMS) >= {"log10", "linear", "none"}
    rng = np.random.default_rng(7)
    chl = 10 ** rng.uniform(-1, 1, 300)
    pmix = rng.uniform(300, 420, 300)
    obs = pmix + mesaa.bio_log10(chl, a=-8.0, b=-30.0) + rng.normal(0, 2, 300)
    fit = mesaa.fit_bio_term(obs, pmix, chl, form="log10")
    assert fit["a"] == pytest.approx(-8.0, abs=1.0)
    assert fit["b"] == pytest.approx(-30.0, abs=1.5)
    with pytest.raises(satco2.SatCO2Error, match="at least 3"):
        mesaa.fit_bio_term([1.0], [1.0], [1.0])


def test_fit_end_members_uses_conservative_window():
    # synthetic estuary (documented): a conservative line for S 10-25, deviations outside it
    rng = np.random.default_rng(11)
    s = rng.uniform(0, 34, 400)
    ta = 1700 + 17.0 * s
    dic = 1750 + 6.0 * s
    ta[s < 5] += 150.0  # river-mouth deviation (cf. Wang et al. 2011)
    dic[(s > 25) & (s < 28)] -= 80.0  # front: biological uptake
    fit = mesaa.fit_end_members(s, ta + rng.normal(0, 3, s.size), dic + rng.normal(0, 3, s.size),
                                s_ocean=34.6)
    assert fit["ta_river"] == pytest.approx(1700, abs=10)
    assert fit["dic_river"] == pytest.approx(1750, abs=10)
    assert fit["ta_ocean"] == pytest.approx(1700 + 17 * 34.6, abs=10)
    cfg2 = mesaa.load_config("ecs", ta_river=fit["ta_river"], dic_river=fit["dic_river"])
    assert cfg2.provenance["ta_river"]["citation"] == "user override"


def test_pco2_mesaa_numpy_plausible(cfg):
    out = mesaa.pco2_mesaa_np(np.array([28.0, 28.0, 10.0]), np.array([25.0, 34.0, 34.0]),
                              np.array([5.0, 0.5, 0.5]), cfg)
    pmix, bio, p = out[..., 0], out[..., 1], out[..., 2]
    np.testing.assert_allclose(p, pmix + bio)
    assert bio[0] < bio[1]  # bloom draws pCO2 down
    assert p[2] < p[1]  # cold water has lower pCO2
    assert np.all((150 < p) & (p < 800))


def test_validity_warning(cfg):
    with pytest.warns(satco2.ValidityWarning, match="sss"):
        mesaa.pco2_mesaa_np(np.array([20.0]), np.array([5.0]), np.array([1.0]), cfg)


def test_lazy_over_dask(cfg):
    rng = np.random.default_rng(0)
    shape = (3, 20, 30)
    coords = {"time": np.arange(3), "lat": np.linspace(25, 30, 20), "lon": np.linspace(120, 125, 30)}
    dims = ("time", "lat", "lon")
    sst = xr.DataArray(rng.uniform(10, 28, shape), coords, dims).chunk({"time": 1})
    sss = xr.DataArray(rng.uniform(25, 34, shape), coords, dims).chunk({"time": 1})
    chl = xr.DataArray(10 ** rng.uniform(-1, 1, shape), coords, dims).chunk({"time": 1})
    mesaa.mixing_table(cfg)  # table built outside (it is numpy, not dask, anyway)
    with raise_if_dask_computes():
        ds = mesaa.pco2_mesaa(sst, sss, chl, cfg)
    assert ds.pco2sw.chunks is not None
    got = ds.compute()
    ref = mesaa.pco2_mesaa_np(sst.values, sss.values, chl.values, cfg)[..., 2]
    np.testing.assert_allclose(got.pco2sw.values, ref)
    assert got.pco2sw.attrs["units"] == "uatm"


def test_config_is_a_dataclass_roundtrip(cfg):
    assert dataclasses.asdict(cfg)["bio_form"] == "log10"


def test_ocean_end_member_ta_from_lee2006(cfg):
    # the configured Kuroshio TA is Lee et al. (2006) zone 1 at S 34.6, SST 26 °C (see ecs.yaml)
    assert mesaa.ta_LEE06_subtropics(34.6, 26.0) == pytest.approx(2274.9, abs=0.05)
    assert cfg.ta_ocean == pytest.approx(float(mesaa.ta_LEE06_subtropics(cfg.s_ocean, 26.0)), abs=0.5)
    assert mesaa.ta_LEE06_subtropics(35.0, 20.0) == 2305.0
    with pytest.warns(satco2.ValidityWarning):
        mesaa.ta_LEE06_subtropics(30.0, 26.0)
    assert not cfg.provenance["ocean.ta"].get("needs_citation")


def test_fit_matchups_recovers_a_known_answer(cfg):
    """SYNTHETIC match-ups made by MeSAA with known DIC end members and log10 bio term + noise."""
    import pandas as pd

    rng = np.random.default_rng(7)
    n = 240
    truth = dataclasses.replace(cfg, dic_river=1780.0, dic_ocean=1990.0, bio_form="log10",
                                bio_coefficients={"a": 6.0, "b": -35.0})
    sss = rng.uniform(22, 34.5, n)
    sst = rng.uniform(12, 28, n)
    chl = 10 ** rng.uniform(-1, 1, n)
    pco2 = mesaa.pco2_mix_exact(sst, sss, truth) + mesaa.bio_log10(chl, 6.0, -35.0) + rng.normal(0, 3.0, n)
    df = pd.DataFrame({"sst": sst, "sss": sss, "chl": chl, "pco2sw": pco2,
                       "time": pd.date_range("2020-01-01", periods=n, freq="h")})
    fit = mesaa.fit_matchups(df, cfg, s_ocean=cfg.s_ocean, source="synthetic")
    for k, want in (("dic_river", 1780.0), ("dic_ocean", 1990.0), ("a", 6.0), ("b", -35.0)):
        assert abs(fit.fitted[k] - want) < 4 * fit.stderr[k] + 1e-6, (k, fit.fitted[k], fit.stderr[k])
    assert fit.stderr["dic_ocean"] < 2.0
    assert 2.5 < fit.cv_summary["rmse"] < 4.0  # held-out error ~ the noise
    assert fit.cv_summary["baseline_rmse"] > 5 * fit.cv_summary["rmse"]
    assert fit.config.bio_form == "log10" and fit.config.validity["chl"][0] == pytest.approx(chl.min())


def test_fit_matchups_on_a_real_cruise_writes_a_config_with_provenance(cfg, shared_data, tmp_path):
    """Real SOCAT/AOML cruise WFCH20220615 (Svalbard, SST -1..6 C, S 26-35; no Chl): the DIC end
    members are fitted with TA kept; block cross-validation; config written, read back."""
    from satco2.science import validation

    obs = validation.read_observations(shared_data / "pco2" / "WFCH20220615.csv")
    fit = mesaa.fit_matchups(obs, "ecs", source="WFCH20220615")
    assert fit.config.bio_form == "none" and set(fit.fitted) == {"dic_river", "dic_ocean"}
    assert fit.cv_summary["folds"] == 5 and fit.cv_summary["n"] == len(obs)
    # the fit carries information across blocks: held-out RMSE well below the unfitted config's
    assert fit.cv_summary["rmse"] < 0.5 * fit.cv_summary["baseline_rmse"]
    assert abs(fit.stats["bias"]) < 1.0 and fit.stats["rmse"] <= fit.cv_summary["rmse"]
    assert fit.config.s_ocean >= obs.sss.max()
    p = mesaa.write_config(fit, tmp_path / "barents.yaml", title="Barents Sea (WFCH20220615)")
    back = mesaa.load_config(p)
    assert back.dic_ocean == pytest.approx(fit.fitted["dic_ocean"], abs=1e-3)
    assert back.validity["sst"][0] <= obs.sst.min() and back.validity["sss"][1] >= obs.sss.max()
    assert "WFCH20220615" in back.provenance["ocean.dic"]["citation"]
    assert back.provenance["river.ta"].get("needs_citation")  # kept values keep their flags
    np.testing.assert_allclose(mesaa.pco2_mix_exact(obs.sst, obs.sss, back),
                               mesaa.pco2_mix_exact(obs.sst, obs.sss, fit.config), rtol=1e-6)
    doc = yaml.safe_load(p.read_text())
    assert doc["fit"]["cross_validation"]["rmse"] == pytest.approx(fit.cv_summary["rmse"], abs=0.01)


def test_fit_matchups_errors(cfg):
    import pandas as pd

    df = pd.DataFrame({"sst": [10.0] * 5, "sss": [30.0] * 5, "pco2sw": [350.0] * 5})
    with pytest.raises(satco2.SatCO2Error, match="needs a chl"):
        mesaa.fit_matchups(df, cfg, bio_form="log10")
    with pytest.raises(satco2.SatCO2Error, match="cannot fit s_river"):
        mesaa.fit_matchups(df, cfg, fit=("s_river",))
    with pytest.raises(satco2.SatCO2Error, match="too few"):
        mesaa.fit_matchups(df.iloc[:3], cfg)
    with pytest.raises(satco2.SatCO2Error, match="need columns sst, sss and pco2sw"):
        mesaa.fit_matchups(df.drop(columns="sss"), cfg)
